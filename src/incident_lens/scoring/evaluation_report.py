"""Writing an evaluation to a folder: metrics.json, predictions.csv, confusion PNGs and report.md.

Usage: `paths = write_report(evaluation, Path("reports/harm"))`.
report.md is for a clinical reader: the headline table, per-label scores, the plots and the worst
errors with their text, ending with a recommendation (`recommendation`: the best method by macro-F1,
those within its 95 % interval, every method's cost per 1,000 reports). It quotes report text, so it
stays wherever the gold file may be kept.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from incident_lens.inputs.gold import format_labels
from incident_lens.scoring.scores import NO_ANSWER, decisions, row_correct
from incident_lens.provenance import library_versions

WORST_ERRORS = 10
SNIPPET_CHARS = 400


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "method"


def _fmt(value, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _with_ci(scores: dict, key: str) -> str:
    ci = scores.get("ci95", {}).get(key)
    text = _fmt(scores.get(key))
    return f"{text} [{ci[0]:.3f}, {ci[1]:.3f}]" if ci and scores.get(key) is not None else text


def _kappa(scores: dict) -> str:
    return "undefined" if scores.get("kappa") is None and scores.get("kappa_note") else _fmt(scores.get("kappa"))


def headline_rows(evaluation) -> list[dict]:
    """One row per method: the comparison table printed by the CLI and put at the top of report.md."""
    return [{"method": m.name, "macro_f1": _with_ci(m.scores, "macro_f1"), "micro_f1": _with_ci(m.scores, "micro_f1"),
             "accuracy": _with_ci(m.scores, "accuracy"), "kappa": _kappa(m.scores), "n": str(m.scores.get("n")),
             "no_answer": str(m.scores.get("no_answer", 0)), "seconds": f"{m.seconds:.1f}"} for m in evaluation.methods]


def _cost(method, n: int) -> str:
    per = 1000 / max(n, 1)
    text = f"{method.seconds * per:,.1f} s"
    usage = method.details.get("lm_tokens") or {}
    tokens = usage.get("prompt_tokens", 0) + usage.get("completion_tokens", 0)
    if tokens:
        text += f" and {tokens * per:,.0f} LM tokens"
    return text


def recommendation(evaluation, strong=lambda name: name) -> str:
    """What to use, in one paragraph: the best method by macro-F1, the methods within its 95 % interval
    (the cheapest of them when that is not the best), and every method's measured cost per 1,000 reports.
    `strong` marks up method names that are recommended (bold in report.md)."""
    n = len(evaluation.test)
    costs = ("Measured cost per 1,000 reports (this run's wall time, training included, scaled from "
             f"{n} test reports): " + "; ".join(f"{m.name} {_cost(m, n)}" for m in evaluation.methods) + ".")
    best = evaluation.best()
    if best is None:
        return f"No recommendation: no method has a macro-F1 on these test reports. {costs}"
    head = f"Recommendation: {strong(best.name)} has the best macro-F1 ({_with_ci(best.scores, 'macro_f1')})"
    low, high = best.scores.get("ci95", {}).get("macro_f1") or (None, None)
    if len(evaluation.methods) == 1:
        return f"{head}, the only method scored. {costs}"
    if low is None:
        return f"{head}; there is no interval to compare the others with. {costs}"
    close = [m for m in evaluation.methods
             if m is not best and m.scores.get("macro_f1") is not None and low <= m.scores["macro_f1"] <= high]
    if not close:
        return f"{head}; no other method is within its 95 % interval. {costs}"
    within = ", ".join(f"{m.name} ({_fmt(m.scores['macro_f1'])})" for m in close)
    cheapest = min([best] + close, key=lambda m: m.seconds)
    cheaper = "" if cheapest is best else \
        f"; {strong(cheapest.name)}, the cheapest of these, is as good within the measured uncertainty"
    return f"{head}; within its 95 % interval: {within}{cheaper}. {costs}"


def coverage_section(evaluation) -> list[str]:
    """report.md lines: accuracy when only the most confident 80 / 90 / 95 % of reports are labelled automatically."""
    rows = []
    for m in evaluation.methods:
        coverage = m.scores.get("coverage")
        if coverage is None:
            rows.append([m.name] + ["no confidence"] * 3)
        else:
            rows.append([m.name] + [f"{c['accuracy']:.3f} (confidence >= {c['min_confidence']:.2f})" for c in coverage.values()])
    if not rows:
        return []
    return ["## Accuracy against coverage", "",
            "Label only the reports a method is most confident about, send the rest to people: accuracy (whole label "
            "set right) of the most confident 80 / 90 / 95 % of test reports, and the confidence threshold that keeps them. "
            "LLM programs have one only with `--confidence-samples N` (the share of N sampled answers that agree).", "",
            _md_table(["method", "80 % coverage", "90 % coverage", "95 % coverage"], rows), ""]


def metrics_document(evaluation) -> dict:
    test, train, split = evaluation.test, evaluation.train, evaluation.split
    return {
        "task": {"name": evaluation.task.name, "kind": evaluation.task.kind, "sha256": evaluation.task.sha256,
                 "labels": evaluation.task.label_names},
        "gold": {"path": str(test.path), "sha256": test.sha256, "test_rows": len(test)},
        "train": {"path": str(train.path), "sha256": train.sha256, "rows": len(train)},
        "split": None if split is None else {"path": str(split.path), "seed": split.seed, "fractions": split.fractions,
                                             "counts": split.counts()},
        "min_support": evaluation.min_support if evaluation.task.kind == "findings" else None,
        "bootstrap": "95 % percentile intervals, 1,000 resamples of the test reports",
        "methods": {m.name: {"kind": m.kind, "seconds": round(m.seconds, 3), "details": m.details, **m.scores}
                    for m in evaluation.methods},
        "warnings": evaluation.warnings,
        "recommendation": recommendation(evaluation),
        "versions": library_versions(),
        "written_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def predictions_frame(evaluation) -> pd.DataFrame:
    task, test = evaluation.task, evaluation.test
    frame = pd.DataFrame({"id": test.ids, "row": test.rows, "gold": [format_labels(task, v) for v in test.labels]})
    correct_counts = np.zeros(len(test), dtype=int)
    predicted_text = []
    for method in evaluation.methods:
        shown = [NO_ANSWER if v is None else format_labels(task, v) for v in method.predictions]
        correct = row_correct(task, test.labels, method.predictions)
        frame[method.name] = shown
        frame[f"{method.name}_correct"] = correct
        correct_counts += correct
        predicted_text.append(shown)
    frame["n_correct"] = correct_counts
    frame["n_methods"] = len(evaluation.methods)
    # Agreement between methods, whatever the gold label: where they split, a reviewer should look.
    frame["methods_agree"] = [len(set(values)) == 1 for values in zip(*predicted_text)] if predicted_text else True
    return frame


def _plot_confusion(evaluation, method, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay, confusion_matrix

    task, gold = evaluation.task, evaluation.test.labels
    if task.kind == "single":
        names = task.label_names + ([NO_ANSWER] if any(p is None for p in method.predictions) else [])
        y_true = list(gold)
        y_pred = [NO_ANSWER if p is None else p for p in method.predictions]
        title = f"{task.name}: {method.name}"
    elif task.kind == "findings":
        # Pooled over findings: does the method confuse "negative" with "not mentioned", etc.
        names = ["positive", "negative", "uncertain", "not_mentioned"]
        y_true = [g[n] for g in gold for n in task.label_names]
        y_pred = [NO_ANSWER if p is None else p.get(n, "not_mentioned") for p in method.predictions for n in task.label_names]
        if NO_ANSWER in y_pred:
            names.append(NO_ANSWER)
        title = f"{task.name}: {method.name} (statuses pooled over findings)"
    else:
        names = [f"{n} {x}" for n in task.label_names for x in ("yes", "no")]
        y_true = [f"{n} {'yes' if n in g else 'no'}" for g in gold for n in task.label_names]
        y_pred = [f"{n} {'yes' if p is not None and n in p else 'no'}" for p in method.predictions for n in task.label_names]
        title = f"{task.name}: {method.name} (per label yes/no)"
    matrix = confusion_matrix(y_true, y_pred, labels=names)
    size = max(5.0, 0.45 * len(names) + 2.5)
    fig, ax = plt.subplots(figsize=(size, size))
    short = [n if len(n) <= 28 else n[:26] + "…" for n in names]
    ConfusionMatrixDisplay(matrix, display_labels=short).plot(ax=ax, cmap="Blues", colorbar=False, xticks_rotation="vertical")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def worst_errors(evaluation, limit: int = WORST_ERRORS) -> list[dict]:
    """Rows the best method got wrong, worst first.

    single: those most methods missed, then the most confidently wrong. multi / findings: the most
    wrong label decisions first (for findings, positive against not: a "negative" read as "not
    mentioned" is not an error worth a reviewer's time here).
    """
    best = evaluation.best() or (evaluation.methods[0] if evaluation.methods else None)
    if best is None:
        return []
    task, test = evaluation.task, evaluation.test
    if task.kind == "single":
        wrong_decisions = (~row_correct(task, test.labels, best.predictions)).astype(int)
    else:
        wrong_decisions = (decisions(task, test.labels) != decisions(task, best.predictions)).sum(axis=1)
    missed_by = np.zeros(len(test), dtype=int)
    for method in evaluation.methods:
        missed_by += ~row_correct(task, test.labels, method.predictions)
    confidence = [c if c is not None else 0.0 for c in (best.confidence or [None] * len(test))]
    wrong = [i for i in range(len(test)) if wrong_decisions[i] > 0]
    wrong.sort(key=lambda i: (-wrong_decisions[i], -missed_by[i], -confidence[i]))
    texts = test.texts
    return [{"id": test.ids[i], "row": test.rows[i], "gold": format_labels(task, test.labels[i]),
             "predicted": NO_ANSWER if best.predictions[i] is None else format_labels(task, best.predictions[i]),
             "method": best.name, "confidence": confidence[i], "missed_by": int(missed_by[i]),
             "wrong_decisions": int(wrong_decisions[i]),
             "text": texts[i] if len(texts[i]) <= SNIPPET_CHARS else texts[i][:SNIPPET_CHARS] + "…"} for i in wrong[:limit]]


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    def cell(value) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def markdown_report(evaluation, plots: dict[str, str]) -> str:
    task, test = evaluation.task, evaluation.test
    best = evaluation.best()
    parts = [f"# Evaluation: {task.name}", ""]
    parts.append(f"Gold file `{test.path.name}` (sha256 {test.sha256[:12]}), {len(test)} test reports; "
                 f"trained on {len(evaluation.train)} reports from `{evaluation.train.path.name}`"
                 + (f" (recorded split, seed {evaluation.split.seed})." if evaluation.split else "."))
    parts.append("")
    parts.append("**This report quotes report text** (worst errors below): keep it where the gold file may be kept.")
    parts.append("")
    if best is not None:
        parts.append(f"Best by macro-F1: **{best.name}** ({_fmt(best.scores['macro_f1'])}).")
        parts.append("")
    for method in evaluation.methods:
        for problem in method.details.get("overlap", []):
            parts.append(f"**Scores of {method.name} are optimistic: its compiled program overlaps the test rows** "
                         f"(scored because of --allow-overlap): {problem}.")
            parts.append("")
    parts.append("## Headline")
    parts.append("")
    rows = headline_rows(evaluation)
    header = ["method", "macro-F1 [95% CI]", "micro-F1 [95% CI]", "accuracy [95% CI]", "kappa", "n", "no answer", "seconds"]
    parts.append(_md_table(header, [list(r.values()) for r in rows]))
    parts.append("")
    parts.append(f"Scoring: {evaluation.methods[0].scores['scoring'] if evaluation.methods else ''}. "
                 "Intervals: 95 % bootstrap over test reports (1,000 resamples).")
    parts.append("")
    parts += coverage_section(evaluation)
    undefined = [m for m in evaluation.methods if m.scores.get("kappa") is None and m.scores.get("kappa_note")]
    if undefined:
        parts.append("Kappa " + "; ".join(f"of {m.name}: {m.scores['kappa_note']}" for m in undefined)
                     + " (left out, not counted as agreement).")
        parts.append("")
    parts.append("## Per label (F1, with gold support)")
    parts.append("")
    header = ["label", "support"] + [m.name for m in evaluation.methods]
    label_rows = []
    for name in task.label_names:
        first = evaluation.methods[0].scores["per_label"][name] if evaluation.methods else {"support": 0, "averaged": True}
        marker = "" if first["averaged"] else " (not averaged)"
        label_rows.append([name + marker, str(first["support"])] + [_fmt(m.scores["per_label"][name]["f1"]) for m in evaluation.methods])
    parts.append(_md_table(header, label_rows))
    parts.append("")
    if task.kind == "findings":
        parts.append(f"Findings with fewer than {evaluation.min_support} gold positives among the test reports are shown "
                     "but left out of macro- and micro-F1.")
        parts.append("")
        header = ["status (pooled over findings)"] + [m.name for m in evaluation.methods]
        statuses = ["positive", "negative", "uncertain"]
        parts.append(_md_table(header, [[s] + [_fmt(m.scores["status_f1"][s]["f1"]) for m in evaluation.methods] for s in statuses]))
        parts.append("")
    parts.append("## Confusion matrices")
    parts.append("")
    for name, file in plots.items():
        parts.append(f"### {name}")
        parts.append("")
        parts.append(f"![confusion matrix of {name}]({file})")
        parts.append("")
    errors = worst_errors(evaluation)
    parts.append(f"## Worst errors of {errors[0]['method'] if errors else 'the best method'}")
    parts.append("")
    if not errors:
        parts.append("No errors on the test reports.")
        parts.append("")
    for error in errors:
        parts.append(f"**{error['id']}** (row {error['row']}): gold *{error['gold'] or '(none)'}*, predicted "
                     f"*{error['predicted'] or '(none)'}* (confidence {error['confidence']:.2f}; "
                     f"missed by {error['missed_by']} of {len(evaluation.methods)} methods)")
        parts.append("")
        parts.append("> " + error["text"].replace("\n", "\n> "))
        parts.append("")
    if evaluation.warnings:
        parts.append("## Warnings")
        parts.append("")
        parts += [f"- {w}" for w in evaluation.warnings]
        parts.append("")
    parts.append("## Recommendation")
    parts.append("")
    parts.append(recommendation(evaluation, strong=lambda name: f"**{name}**"))
    parts.append("")
    return "\n".join(parts)


def write_report(evaluation, out_dir: Path) -> dict[str, Path]:
    """Write every report file into `out_dir` (created); returns what was written, by kind."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    metrics_path = out_dir / "metrics.json"
    metrics_path.write_text(json.dumps(metrics_document(evaluation), indent=2, default=str), encoding="utf-8")
    written["metrics"] = metrics_path
    predictions_path = out_dir / "predictions.csv"
    predictions_frame(evaluation).to_csv(predictions_path, index=False)
    written["predictions"] = predictions_path
    plots = {}
    for method in evaluation.methods:
        path = out_dir / f"confusion-{_slug(method.name)}.png"
        _plot_confusion(evaluation, method, path)
        plots[method.name] = path.name
        written[f"confusion:{method.name}"] = path
    report_path = out_dir / "report.md"
    report_path.write_text(markdown_report(evaluation, plots), encoding="utf-8")
    written["report"] = report_path
    return written
