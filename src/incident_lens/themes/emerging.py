"""Emerging and new themes: has a theme's share of all reports in the recent window risen against the
baseline period before it?

Usage:
    span = Span.ending(dates, window_days=28, baseline_days=364, until=None)
    signals = emerging_signals(labels, dates, theme_ids, span, min_count=3)   # ranked, flagged first
    weekly = weekly_counts(labels, dates, theme_ids, span)                    # (themes, weeks), totals

The test, per theme, on the 2x2 table of (theme, all other reports) x (window, baseline): the
proportional reporting ratio PRR = [a/(a+b)] / [c/(c+d)] with its 95 % interval, Yates' chi-squared,
and Benjamini-Hochberg correction over the themes tested (those with at least `min_count` reports in
the window). A theme is flagged when a >= min_count, PRR >= 2, chi-squared >= 4 and its BH q <= 0.05:
the pharmacovigilance rule (Evans et al. 2001) with the false-discovery control surveillance systems
add. Because it compares shares, a busier month is not a signal by itself. A cell of 0 gets 0.5
added to every cell (Haldane) so PRR and its interval stay finite. Reports without a date are left out.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta

import numpy as np

from incident_lens.errors import UserError

PRR_MIN, CHI2_MIN, FDR = 2.0, 4.0, 0.05
# A theme is "new" when at least this share of its dated members fall in the recent span and no theme
# whose members are mostly older has a centroid this similar.
NEW_RECENT_SHARE = 0.6
NEW_SIMILARITY = 0.8
_DURATION = re.compile(r"^\s*(\d+)\s*([dw])\s*$", re.IGNORECASE)


def parse_duration(value: str, option: str) -> int:
    """'4w' -> 28, '10d' -> 10 (days)."""
    match = _DURATION.match(str(value))
    if not match or int(match[1]) < 1:
        raise UserError(f"{option} {value!r}: give a number of days or weeks, e.g. 28d or 4w")
    return int(match[1]) * (7 if match[2].lower() == "w" else 1)


def to_date(key: int) -> date:
    return date(key // 10_000, key // 100 % 100, key % 100)


def to_key(day: date) -> int:
    return day.year * 10_000 + day.month * 100 + day.day


@dataclass(frozen=True)
class Span:
    """The window [window_start, end] and the baseline [baseline_start, window_start) as dates."""

    end: date
    window_start: date
    baseline_start: date
    baseline_days_asked: int
    first: date  # the earliest dated report

    @property
    def baseline_days(self) -> int:
        return (self.window_start - self.baseline_start).days

    @classmethod
    def ending(cls, dates: np.ndarray, window_days: int, baseline_days: int, until: str | None = None) -> "Span":
        known = dates[dates > 0]
        if not len(known):
            raise UserError("no selected report has a date; index the reports with a date column (--date-col) to find emerging themes")
        first, last = to_date(int(known.min())), to_date(int(known.max()))
        end = date.fromisoformat(until) if until else last
        data_days = (end - first).days + 1
        if window_days >= data_days:
            raise UserError(f"--window of {window_days} days is not shorter than the data ({data_days} days: first report "
                            f"{first}, last {end}); shorten --window or add older reports")
        window_start = end - timedelta(days=window_days - 1)
        baseline_start = max(first, window_start - timedelta(days=baseline_days))
        return cls(end, window_start, baseline_start, baseline_days, first)

    def periods(self, dates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Masks of the reports in the window and in the baseline."""
        window = (dates >= to_key(self.window_start)) & (dates <= to_key(self.end))
        baseline = (dates >= to_key(self.baseline_start)) & (dates < to_key(self.window_start))
        return window, baseline

    def to_dict(self) -> dict:
        return {"end": str(self.end), "window_start": str(self.window_start), "baseline_start": str(self.baseline_start),
                "baseline_days": self.baseline_days, "baseline_days_asked": self.baseline_days_asked, "first_report": str(self.first)}


@dataclass
class Signal:
    theme: int  # theme id
    a: int  # theme's reports in the window
    b: int  # other reports in the window
    c: int  # theme's reports in the baseline
    d: int  # other reports in the baseline
    prr: float
    prr_low: float
    prr_high: float
    chi2: float
    p: float
    q: float | None = None  # BH-adjusted; None when not tested (a < min_count)
    flagged: bool = False
    new: bool = False
    recent_share: float = 0.0
    reasons: list = field(default_factory=list)  # why not flagged

    @property
    def window_share(self) -> float:
        return self.a / max(self.a + self.b, 1)

    @property
    def baseline_share(self) -> float:
        return self.c / max(self.c + self.d, 1)

    def to_dict(self) -> dict:
        return asdict(self) | {"window_share": self.window_share, "baseline_share": self.baseline_share}


def prr_test(a: int, b: int, c: int, d: int) -> tuple[float, float, float, float, float]:
    """PRR, its 95 % interval, Yates' chi-squared and its p-value for the 2x2 table."""
    from scipy.stats import chi2 as chi2_dist

    n = a + b + c + d
    margins = (a + b) * (c + d) * (a + c) * (b + d)
    chi2 = 0.0
    if margins:
        excess = max(abs(a * d - b * c) - n / 2, 0.0)
        chi2 = n * excess**2 / margins
    p = float(chi2_dist.sf(chi2, 1))
    if 0 in (a, b, c, d):
        a, b, c, d = a + 0.5, b + 0.5, c + 0.5, d + 0.5
    prr = (a / (a + b)) / (c / (c + d))
    se = np.sqrt(1 / a - 1 / (a + b) + 1 / c - 1 / (c + d))
    return float(prr), float(prr * np.exp(-1.96 * se)), float(prr * np.exp(1.96 * se)), float(chi2), p


def emerging_signals(labels: np.ndarray, dates: np.ndarray, theme_ids: list[int], span: Span, min_count: int = 3,
                     centroids: np.ndarray | None = None, new_within_days: int | None = None,
                     core: np.ndarray | None = None) -> list[Signal]:
    """One Signal per theme, flagged ones first, then by the lower bound of PRR's interval (see module).
    `core` marks the members that define their theme (HDBSCAN's own); newness is judged on them."""
    from scipy.stats import false_discovery_control

    if min_count < 1:
        raise UserError(f"--min-count {min_count}: must be at least 1")
    window, baseline = span.periods(dates)
    if not baseline.any():
        raise UserError(f"no reports in the baseline ({span.baseline_start} to {span.window_start - timedelta(days=1)}): "
                        "nothing to compare the window with; shorten --window or add older reports")
    n_window, n_baseline = int(window.sum()), int(baseline.sum())
    signals = []
    for row, theme in enumerate(theme_ids):
        mine = labels == row
        a, c = int((mine & window).sum()), int((mine & baseline).sum())
        prr, low, high, chi2, p = prr_test(a, n_window - a, c, n_baseline - c)
        signals.append(Signal(theme, a, n_window - a, c, n_baseline - c, prr, low, high, chi2, p))
    tested = [s for s in signals if s.a >= min_count]
    if tested:
        for s, q in zip(tested, false_discovery_control([s.p for s in tested], method="bh")):
            s.q = float(q)
    for s in signals:
        s.reasons = [why for why, failed in (
            (f"fewer than {min_count} in the window", s.a < min_count), (f"PRR < {PRR_MIN:g}", s.prr < PRR_MIN),
            (f"chi-squared < {CHI2_MIN:g}", s.chi2 < CHI2_MIN), (f"BH q > {FDR:g}", s.q is None or s.q > FDR)) if failed]
        s.flagged = not s.reasons
    defining = np.where(core, labels, -1) if core is not None else labels
    _mark_new(signals, defining, dates, span, centroids, new_within_days or 3 * ((span.end - span.window_start).days + 1), min_count)
    return sorted(signals, key=lambda s: (not s.flagged, -s.prr_low, s.theme))


def _mark_new(signals: list[Signal], labels, dates, span: Span, centroids, new_within_days: int, min_count: int) -> None:
    """A theme is new when most of its dated (defining) members are recent (within `new_within_days` of
    the end) and no theme of mostly older reports has a similar centroid."""
    recent_from = to_key(span.end - timedelta(days=new_within_days - 1))
    dated = dates > 0
    for row, s in enumerate(signals):
        mine = (labels == row) & dated
        s.recent_share = float((dates[mine] >= recent_from).mean()) if mine.any() else 0.0
    older = [row for row, s in enumerate(signals) if s.recent_share < 0.5]
    for row, s in enumerate(signals):
        if s.recent_share < NEW_RECENT_SHARE or s.a < min_count:
            continue
        similar = centroids is not None and older and float((centroids[older] @ centroids[row]).max()) >= NEW_SIMILARITY
        s.new = not similar


def weekly_bins(span: Span) -> list[date]:
    """Start dates of the weeks from the baseline's start to the end, the last week ending on `end`."""
    starts, day = [], span.end - timedelta(days=6)
    while day + timedelta(days=6) >= span.baseline_start:
        starts.append(day)
        day -= timedelta(days=7)
    return starts[::-1]


def weekly_counts(labels: np.ndarray, dates: np.ndarray, n_themes: int, span: Span) -> tuple[list[date], np.ndarray, np.ndarray]:
    """Week starts, counts per theme row and week (n_themes, weeks), and all dated reports per week."""
    starts = weekly_bins(span)
    edges = np.asarray([to_key(d) for d in starts] + [to_key(span.end + timedelta(days=1))])
    dated = dates > 0
    week = np.searchsorted(edges, dates, side="right") - 1
    inside = dated & (week >= 0) & (week < len(starts))
    totals = np.bincount(week[inside], minlength=len(starts))
    counts = np.zeros((n_themes, len(starts)), dtype=np.int64)
    themed = inside & (labels >= 0)
    np.add.at(counts, (labels[themed], week[themed]), 1)
    return starts, counts, totals


def sparkline(values) -> str:
    """Unicode block sparkline of counts, scaled to their maximum."""
    blocks = "▁▂▃▄▅▆▇█"
    values = np.asarray(values, dtype=float)
    top = values.max() if len(values) else 0
    if top <= 0:
        return blocks[0] * len(values)
    return "".join(blocks[min(int(v / top * (len(blocks) - 1) + 0.5), len(blocks) - 1)] if v > 0 else " " for v in values)
