"""The `distil` job: train a student on gold and/or pseudo-labels, score it on held-out rows, save it with its meta file.

Usage:
    result = distil(settings, task, "tfidf-lr", Path("students/harm"), gold_path=Path("gold.csv"),
                    labels_path=Path("labels.csv"), reports_path=Path("reports.csv"))
    result.folder, result.meta["held_out"]["scores"]
Which rows are learnt from and which are held out: students/training_data.py. `corrections_path` is a
review queue (review-queue's CSV) whose `corrected` cells replace labels and count as gold.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from incident_lens.errors import UserError
from incident_lens.inputs.task_files import Task


@dataclass
class DistilResult:
    folder: Path
    meta: dict
    notes: list[str]


def check_label_sources(gold_path: Path | None, labels_path: Path | None, reports_path: Path | None) -> None:
    """Gold, or labels with the reports they were made from, or both (for `distil` and `review-queue`)."""
    if gold_path is None and labels_path is None:
        raise UserError("give --gold, --labels (with --reports), or both")
    if labels_path is not None and reports_path is None:
        raise UserError("--labels needs --reports: the report file the labels were made from (labels files hold no text)")


def read_corrections(path: Path, task: Task, encoding: str = "utf-8") -> dict:
    """id -> corrected label from a review queue's filled-in `corrected` column (blank cells: no decision)."""
    from incident_lens.inputs.label_files import parse_label_cell
    from incident_lens.inputs.report_files import Table
    from programs.labels import LabelError

    table = Table(Path(path), encoding)
    for column in ("id", "corrected"):
        if column not in table.columns:
            raise UserError(f"{path}: no column '{column}'; give a review queue written by `incident-lens review-queue` "
                            "with the reviewer's labels in 'corrected'")
    out, row = {}, 0
    for chunk in table.chunks(["id", "corrected"]):
        for report_id, cell in zip(chunk["id"], chunk["corrected"]):
            row += 1
            if not str(cell).strip():
                continue
            try:
                out[str(report_id).strip()] = parse_label_cell(task, cell)
            except LabelError as exc:
                raise UserError(f"{path}: row {row} (id '{report_id}'), column 'corrected': {exc}") from None
    return out


def _file_record(path: Path | None, sha256: str | None, rows: int | None = None) -> dict | None:
    if path is None:
        return None
    return {"path": str(Path(path).absolute()), "sha256": sha256, **({"rows": rows} if rows is not None else {})}


def distil(settings, task: Task, student_kind: str, out: Path, gold_path: Path | None = None, labels_path: Path | None = None,
           reports_path: Path | None = None, corrections_path: Path | None = None, gold_weight: float | None = None,
           holdout: float | None = None, text_cols: list[str] | None = None, id_col: str | None = None,
           split_path: Path | None = None, epochs: int = 3, max_length: int = 128, sheet: str | None = None,
           progress=None) -> DistilResult:
    from incident_lens.inputs.gold import load_gold
    from incident_lens.inputs.splits import default_split_path, load_or_create_split
    from incident_lens.inputs.label_files import load_label_file
    from incident_lens.provenance import library_versions
    from incident_lens.scoring.coverage import accuracy_at_coverage
    from incident_lens.scoring.scores import row_correct, score_predictions
    from incident_lens.students import make_student, save_student
    from incident_lens.students.store import STUDENT_KINDS, student_predict
    from incident_lens.students.training_data import DEFAULT_GOLD_WEIGHT, DEFAULT_HOLDOUT, assemble, load_report_texts

    if student_kind not in STUDENT_KINDS:
        raise UserError(f"--student {student_kind}: unknown; use one of {', '.join(STUDENT_KINDS)}")
    check_label_sources(gold_path, labels_path, reports_path)
    if corrections_path is not None and labels_path is None and gold_path is None:
        raise UserError("--corrections needs --labels or --gold")
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserError(f"--out {out} already exists; choose another folder (a student is never overwritten)")
    gold_weight = DEFAULT_GOLD_WEIGHT if gold_weight is None else gold_weight
    holdout = DEFAULT_HOLDOUT if holdout is None else holdout
    if gold_weight <= 0 or not 0 <= holdout < 1:
        raise UserError("--gold-weight must be > 0 and --holdout in [0, 1)")
    workspace = settings.workspace.ensure()
    read = {"encoding": settings.encoding, "cache_dir": workspace.cache_dir}
    gold = split = None
    if gold_path is not None:
        # The recorded split `evaluate` uses: the student never sees the rows it will be scored on there.
        gold = load_gold(gold_path, task, text_cols=text_cols, id_col=id_col, max_chars=settings.max_chars, sheet=sheet, **read)
        split = load_or_create_split(gold, split_path or default_split_path(workspace, task, gold_path), seed=settings.seed)
    pseudo = reports = None
    if labels_path is not None:
        pseudo = load_label_file(labels_path, task, **read)
        reports = load_report_texts(reports_path, task, settings, text_cols, id_col, sheet)
    corrections = read_corrections(corrections_path, task, settings.encoding) if corrections_path else None
    data = assemble(task, gold, split, pseudo, reports.frame if reports is not None else None,
                    str(reports_path) if reports_path else None, corrections, gold_weight, holdout, settings.seed)
    student = make_student(student_kind, task, settings, epochs=epochs, max_length=max_length)
    started = time.perf_counter()
    student.fit(data.train.texts, data.train.labels, data.train.weights, progress=progress)
    train_seconds = time.perf_counter() - started
    held_out = {"rows": len(data.held_out), "what": data.held_out_kind}
    if len(data.held_out):
        started = time.perf_counter()
        predicted, confidence = student_predict(student, data.held_out.texts)
        scores = score_predictions(task, data.held_out.labels, predicted, seed=settings.seed)
        held_out.update(
            seconds=round(time.perf_counter() - started, 3),
            scores={k: scores.get(k) for k in ("macro_f1", "micro_f1", "accuracy", "kappa", "n", "ci95")},
            per_label={k: round(v["f1"], 4) for k, v in scores["per_label"].items()},
            coverage=accuracy_at_coverage(row_correct(task, data.held_out.labels, predicted), confidence))
    else:
        held_out["note"] = "no held-out rows: nothing scored"
    text_forms = [list(x.text_cols) for x in (gold.reports if gold else None, reports) if x is not None]
    if len(text_forms) == 2 and text_forms[0] != text_forms[1]:
        data.notes.append(f"gold texts are built from {', '.join(text_forms[0])} but report texts from "
                          f"{', '.join(text_forms[1])}: give both files the same text columns (--text-col)")
    meta = {
        "text_cols": text_forms[0],
        "task": {"name": task.name, "kind": task.kind, "labels": task.label_names, "sha256": task.sha256},
        "data": {"gold": _file_record(gold_path, gold.sha256 if gold else None, len(gold) if gold else None),
                 "split": None if split is None else {"path": str(split.path), "seed": split.seed, "counts": split.counts()},
                 "labels": _file_record(labels_path, pseudo.sha256 if pseudo else None, len(pseudo) if pseudo else None),
                 "reports": _file_record(reports_path, reports.sha256 if reports else None),
                 "corrections": _file_record(corrections_path, _sha(corrections_path), len(corrections or {}))},
        "weights": {"gold": gold_weight, "reviewed": gold_weight, "pseudo": 1.0},
        "counts": data.train.counts(),
        "train_rows": len(data.train),
        "train_ids": data.train.ids,
        "held_out": held_out,
        "train_seconds": round(train_seconds, 2),
        "notes": data.notes,
        "trained_on_reports": True,
        "contains_source_text": True,
        "privacy": "learnt from report text (a TF-IDF vocabulary holds report words; fine-tuned weights can memorise "
                   "phrases): as sensitive as the reports, it must not leave the TRE when trained on real data",
        "versions": {**library_versions(), **_extra_versions()},
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    folder = save_student(student, out, meta)
    return DistilResult(folder, meta, data.notes)


def _sha(path: Path | None) -> str | None:
    from incident_lens.hashing import file_sha256

    return file_sha256(Path(path)) if path is not None else None


def _extra_versions() -> dict:
    from importlib import metadata

    out = {}
    for name in ("joblib", "cleanlab", "tokenizers"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out
