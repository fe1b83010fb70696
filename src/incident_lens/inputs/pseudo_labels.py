"""A labels file written by `incident-lens label` as a gold set: its answers joined to the report texts it labelled.

Usage:
    gold_path, record = pseudo_gold(Path("labels.csv"), Path("reports.csv"), task, workspace)
    train, dev, test, split = load_sets(task, gold_path, settings, text_cols=["text"])
Only rows whose `status` is `ok` are kept. The joined file holds report text, so it is written inside the
workspace (`pseudo-gold/`), never beside the user's files; `record` (hashes and counts, no text) goes in the meta.
"""

from __future__ import annotations

from pathlib import Path

from incident_lens.errors import UserError
from incident_lens.hashing import file_sha256
from incident_lens.inputs.task_files import Task

# Columns every labels file written by `label` has (see pipelines/labelling.py META_COLUMNS).
MARKERS = ("id", "status", "evidence_verified")


def is_labels_file(path: Path, encoding: str = "utf-8") -> bool:
    """Whether a CSV looks like `label`'s output (by its header only)."""
    import pandas as pd

    path = Path(path)
    if path.suffix.lower() != ".csv" or not path.is_file():
        return False
    try:
        columns = pd.read_csv(path, nrows=0, encoding=encoding).columns
    except (ValueError, UnicodeDecodeError, OSError):
        return False
    return all(marker in columns for marker in MARKERS)


def pseudo_gold(labels_path: Path, reports_path: Path, task: Task, workspace, text_cols: list[str] | None = None,
                id_col: str | None = None, encoding: str = "utf-8", sheet: str | None = None,
                max_chars: int = 20_000) -> tuple[Path, dict]:
    """(gold file with columns id, text and the answer's columns; a record of what it was built from)."""
    import pandas as pd

    from incident_lens.inputs.report_files import load_reports

    labels_path, reports_path = Path(labels_path), Path(reports_path)
    if not is_labels_file(labels_path, encoding):
        raise UserError(f"{labels_path}: not a labels file written by `incident-lens label` (needs columns "
                        f"{', '.join(MARKERS)}); without --reports give a gold file with the report text")
    labels = pd.read_csv(labels_path, dtype=str, keep_default_na=False, encoding=encoding)
    ok = labels[labels["status"] == "ok"]
    reports = load_reports(reports_path, text_cols or list(task.input_fields), id_col, max_chars=max_chars,
                           cache_dir=workspace.cache_dir, encoding=encoding, sheet=sheet)
    texts = reports.frame[["id", "text"]]
    merged = ok.merge(texts, on="id", how="inner")
    if len(merged) < len(ok):
        missing = sorted(set(ok["id"]) - set(texts["id"]))
        raise UserError(f"{labels_path}: {len(missing)} labelled id(s) are not in {reports_path} (first: {missing[0]}); "
                        "give the report file that was labelled")
    answer = [c for c in labels.columns if c not in ("id", "evidence", "evidence_verified", "unsupported_evidence",
                                                      "rationale", "status", "truncated", "prompt_tokens",
                                                      "completion_tokens", "latency_s")]
    folder = Path(workspace.home) / "pseudo-gold"
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"{task.name}--{labels_path.stem}.csv"
    tmp = out.with_name(out.name + ".tmp")
    merged[["id", "text", *answer]].to_csv(tmp, index=False)
    tmp.replace(out)
    record = {"labels_file": labels_path.name, "labels_sha256": file_sha256(labels_path),
              "reports_file": reports_path.name, "reports_sha256": reports.sha256, "rows": len(merged),
              "left_out_not_ok": int(len(labels) - len(ok))}
    return out, record
