"""Theme names and summaries with the local model (or a server): the theme summariser run on each
chosen theme's representative reports, every quote checked against those reports and counted in the
theme's members.

Usage: `summaries = summarise_themes(settings, themes_run, ["T5"], representatives=3, max_chars=600)`;
one dict per theme: theme, name, claims (text, evidence, sources, evidence_verified, members_quoting),
evidence_verified, status, tokens and latency.
"""

from __future__ import annotations

from programs.evidence import normalise

# Characters of each representative report shown to the model: a small local model is slow per token,
# and a theme is what the reports share, not their details.
REPORT_CHARS = 700
SEPARATOR = "\x1e"


def members_quoting(quote: str, member_texts: list[str]) -> int:
    needle = normalise(quote).strip(" \"'“”‘’.,;:")
    return sum(needle in text for text in member_texts) if needle else 0


def summarise_themes(settings, run, theme_labels: list[str] | None = None, representatives: int = 5,
                     max_chars: int = REPORT_CHARS, lm=None, progress=None) -> list[dict]:
    """Summaries of the themes named in `theme_labels` (T-numbers; default all) of a `ThemesRun`."""
    import dspy

    from incident_lens.errors import UserError
    from incident_lens.llm import build_lm
    from incident_lens.pipelines.predicting import run_with_retries
    from programs import ThemeSummariser
    from programs.adapter import ADAPTER

    themes = run.model.themes
    if theme_labels:
        known = {t.label: t for t in themes}
        unknown = [label for label in theme_labels if label not in known]
        if unknown:
            raise UserError(f"--theme {unknown[0]}: no such theme; themes are {', '.join(known)}")
        themes = [known[label] for label in theme_labels]
    if representatives < 1:
        raise UserError(f"representatives {representatives}: at least one report is needed to summarise a theme")
    lm = lm or build_lm(settings)
    summariser = ThemeSummariser()
    out = []
    if progress:
        progress(0, len(themes))
    with dspy.context(lm=lm, adapter=ADAPTER):
        for n, theme in enumerate(themes, start=1):
            texts = [t[:max_chars] for t in run.texts_of(theme.representatives[:representatives])]
            # One body, so a context overflow cuts the last reports first (the record separator never occurs in text).
            done = run_with_retries(lambda body: summariser(reports=[t for t in body.split(SEPARATOR) if t.strip()]),
                                    SEPARATOR.join(texts))
            row = run.model.themes.index(theme)
            members = [normalise(t) for t, label in zip(run.corpus.texts, run.labels) if label == row]
            record = {"theme": theme.label, "status": done.status, "name": None, "claims": [], "evidence_verified": False,
                      "representatives": theme.representatives[:representatives], "members": len(members),
                      "prompt_tokens": done.prompt_tokens, "completion_tokens": done.completion_tokens, "latency_s": done.latency_s}
            if done.prediction is not None:
                p = done.prediction
                claims = [c | {"members_quoting": [members_quoting(q, members) for q in c["evidence"]]} for c in p.claims]
                record.update(name=p.name, claims=claims, evidence_verified=bool(p.evidence_verified))
            out.append(record)
            if progress:
                progress(n, len(themes))
    return out
