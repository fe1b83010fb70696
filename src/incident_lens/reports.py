"""Reading report tables (CSV, Parquet, JSONL) into validated id + text records.

Usage: `reports = load_reports(Path("incidents.csv"), text_cols=["description"], id_col="id")`;
`reports.frame` has `id`, `text`, `truncated` plus every original column.
Every problem is a one-line `UserError` (or a warning) naming the file, row and column.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from incident_lens.errors import UserError
from incident_lens.hashing import file_sha256

SUPPORTED = {".csv": "csv", ".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl"}
DEFAULT_TEXT_COLUMNS = ("text", "description", "report", "narrative", "findings")
DEFAULT_ID_COLUMNS = ("id", "report_id", "incident_id")
# Columns every ReportSet frame has; same-named input columns are replaced by them.
RESERVED_COLUMNS = ("id", "text", "truncated", "row")


@dataclass
class ReportSet:
    frame: pd.DataFrame
    source: Path
    sha256: str
    text_cols: list[str]
    id_col: str
    skipped_empty: int = 0
    truncated: int = 0
    warnings: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.frame)


def read_table(path: Path, encoding: str = "utf-8") -> pd.DataFrame:
    """The file as a frame of strings (ids like 007 keep their zeros; blanks are empty strings)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: file not found")
    kind = SUPPORTED.get(path.suffix.lower())
    if kind is None:
        raise UserError(f"{path}: unsupported file type '{path.suffix}'; use .csv, .tsv, .parquet or .jsonl")
    try:
        if kind == "parquet":
            frame = pd.read_parquet(path)
        else:
            text = _decode(path, encoding)
            if kind == "jsonl":
                frame = _read_jsonl(path, text)
            else:
                frame = pd.read_csv(io.StringIO(text), sep="," if kind == "csv" else "\t", dtype=str, keep_default_na=False)
    except UserError:
        raise
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"{path}: cannot be read as {kind} ({first})") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame.fillna("").astype(str)


def _decode(path: Path, encoding: str) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise UserError(
            f"{path}: line {line} (data row {max(line - 1, 1)} in a CSV with a header) is not valid {encoding} "
            f"at byte {exc.start}; re-save the file as UTF-8 or give its encoding with --encoding"
        ) from None


def _read_jsonl(path: Path, text: str) -> pd.DataFrame:
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UserError(f"{path}: line {number} is not valid JSON ({exc.msg}); fix or remove that line") from None
        if not isinstance(row, dict):
            raise UserError(f"{path}: line {number} is not a JSON object; each line must be one report")
        rows.append(row)
    return pd.DataFrame(rows)


def _pick(columns: list[str], wanted: list[str] | None, defaults: tuple[str, ...], path: Path, option: str) -> list[str]:
    if wanted:
        missing = [c for c in wanted if c not in columns]
        if missing:
            raise UserError(f"{path}: column {', '.join(repr(c) for c in missing)} not found; columns are: {', '.join(columns)}; choose with {option}")
        return list(wanted)
    for name in defaults:
        if name in columns:
            return [name]
    raise UserError(f"{path}: no {option} given and none of {', '.join(defaults)} found; columns are: {', '.join(columns)}")


def join_fields(row: pd.Series, text_cols: list[str]) -> str:
    """One field: its text. Several: each non-empty field under its name, so the model sees which is which."""
    if len(text_cols) == 1:
        return str(row[text_cols[0]]).strip()
    parts = [f"{col}: {str(row[col]).strip()}" for col in text_cols if str(row[col]).strip()]
    return "\n\n".join(parts)


def load_reports(
    path: Path,
    text_cols: list[str] | None = None,
    id_col: str | None = None,
    max_chars: int = 20_000,
    encoding: str = "utf-8",
    cache_dir: Path | None = None,
) -> ReportSet:
    path = Path(path)
    frame = read_table(path, encoding)
    columns = list(frame.columns)
    if not columns or frame.empty:
        raise UserError(f"{path}: the file has no rows")
    text_cols = _pick(columns, text_cols, DEFAULT_TEXT_COLUMNS, path, "--text-col")
    id_col = _pick(columns, [id_col] if id_col else None, DEFAULT_ID_COLUMNS, path, "--id-col")[0]

    ids = frame[id_col].str.strip()
    blank_ids = ids.index[ids == ""]
    if len(blank_ids):
        rows = ", ".join(str(i + 1) for i in blank_ids[:5])
        raise UserError(f"{path}: column '{id_col}' is empty in row(s) {rows}; every report needs an id")
    duplicated = ids[ids.duplicated(keep=False)]
    if len(duplicated):
        firsts = list(dict.fromkeys(duplicated))[:5]
        details = "; ".join(f"'{i}' in rows {', '.join(str(r + 1) for r in duplicated.index[duplicated == i][:3])}" for i in firsts)
        raise UserError(f"{path}: duplicate ids in column '{id_col}' ({len(set(duplicated))} ids): {details}; ids must be unique")

    texts = frame.apply(join_fields, axis=1, text_cols=text_cols) if len(text_cols) > 1 else frame[text_cols[0]].str.strip()
    warnings: list[str] = []
    empty = texts.str.strip() == ""
    if empty.any():
        rows = ", ".join(str(i + 1) for i in empty.index[empty][:5])
        warnings.append(f"{path}: skipped {int(empty.sum())} row(s) with empty text in {', '.join(text_cols)} (rows {rows}{'...' if empty.sum() > 5 else ''})")
    too_long = texts.str.len() > max_chars
    if too_long.any():
        rows = ", ".join(str(i + 1) for i in too_long.index[too_long][:5])
        warnings.append(f"{path}: truncated {int(too_long.sum())} text(s) longer than {max_chars} characters (rows {rows}{'...' if too_long.sum() > 5 else ''}); flagged in column 'truncated'")

    derived = pd.DataFrame({"id": ids, "text": texts.str.slice(0, max_chars), "truncated": too_long, "row": range(1, len(frame) + 1)})
    kept = frame.drop(columns=[c for c in RESERVED_COLUMNS if c in frame.columns])
    out = pd.concat([derived, kept], axis=1).loc[~empty.to_numpy()].reset_index(drop=True)
    return ReportSet(
        frame=out,
        source=path,
        sha256=file_sha256(path, cache_dir),
        text_cols=text_cols,
        id_col=id_col,
        skipped_empty=int(empty.sum()),
        truncated=int(too_long.sum()),
        warnings=warnings,
    )
