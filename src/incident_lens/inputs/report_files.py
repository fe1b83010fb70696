"""Reading report tables (CSV, TSV, Parquet, JSONL, Excel .xlsx) into validated id + text records, whole or in chunks.

Usage:
    reports = load_reports(Path("incidents.csv"), text_cols=["description"], id_col="id")
    reports.frame  # columns id, text, truncated, row, then every original column
    stream = open_reports(Path("big.csv"), text_cols=["description"])  # validated, nothing held
    for chunk in stream.chunks(["harm"]): ...  # the same columns, 8,192 rows at a time
Every problem is a one-line `UserError` (or a warning) naming the file, row and column. A file is
validated in full (ids present and unique, text columns there, bytes decodable) before any chunk
is handed out, so a consumer never writes half a file and then meets a bad row.
`encoding` applies to CSV/TSV/JSONL (exports from incident systems are often cp1252). An .xlsx file is
read from its first sheet (or `sheet`), streamed row by row with openpyxl's read-only mode; every cell
becomes the text Excel shows for it as far as it can be rebuilt: whole numbers without ".0",
zero-padded ids (number format "000000") with their zeros, dates as YYYY-MM-DD.
"""

from __future__ import annotations

import codecs
import datetime as dt
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pandas as pd

from incident_lens.errors import UserError
from incident_lens.hashing import file_sha256

SUPPORTED = {".csv": "csv", ".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl",
             ".xlsx": "xlsx", ".xlsm": "xlsx"}
SUPPORTED_TEXT = ".csv, .tsv, .parquet, .jsonl or .xlsx"
DEFAULT_TEXT_COLUMNS = ("text", "description", "report", "narrative", "findings")
DEFAULT_ID_COLUMNS = ("id", "report_id", "incident_id")
# Columns every report frame has; same-named input columns are replaced by them.
RESERVED_COLUMNS = ("id", "text", "truncated", "row")
CHUNK_ROWS = 8192


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


class Table:
    """A report file's raw rows as frames of strings (ids like 007 keep their zeros; blanks are
    empty strings), read a chunk at a time. `sheet` names the sheet of an .xlsx file (default: the first)."""

    def __init__(self, path: Path, encoding: str = "utf-8", sheet: str | None = None):
        self.path = Path(path)
        self.encoding = encoding or "utf-8"
        self.sheet = sheet
        try:
            # utf-8-sig reads plain UTF-8 too, and drops the byte-order mark Excel's "CSV UTF-8" starts with.
            self._codec = "utf-8-sig" if codecs.lookup(self.encoding).name == "utf-8" else self.encoding
        except LookupError:
            raise UserError(f"--encoding {self.encoding!r}: not an encoding Python knows (e.g. utf-8, cp1252, latin-1)") from None
        if not self.path.is_file():
            raise UserError(f"{self.path}: file not found")
        self.kind = SUPPORTED.get(self.path.suffix.lower())
        if self.kind is None:
            raise UserError(f"{self.path}: unsupported file type '{self.path.suffix}'; use {SUPPORTED_TEXT}")
        if sheet is not None and self.kind != "xlsx":
            raise UserError(f"{self.path}: --sheet {sheet!r} applies to .xlsx files only; leave it out for a {self.kind} file")
        self._raw_names = self._guarded(self._read_names)
        self.columns = list(self._raw_names)

    def chunks(self, columns: list[str] | None = None, rows: int | None = None) -> Iterator[pd.DataFrame]:
        """Frames of at most `rows` rows with `columns` (all when None), in file order."""
        wanted = None if columns is None else [self._raw_names[c] for c in dict.fromkeys(columns)]
        reader = {"parquet": self._parquet_chunks, "jsonl": self._jsonl_chunks, "xlsx": self._xlsx_chunks}.get(
            self.kind, self._delimited_chunks)
        chunks = reader(wanted, rows or CHUNK_ROWS)
        while True:
            chunk = self._guarded(lambda: next(chunks, None))
            if chunk is None:
                return
            chunk.columns = [str(c).strip() for c in chunk.columns]
            yield chunk

    def _guarded(self, read):
        try:
            return read()
        except UserError:
            raise
        except UnicodeDecodeError:
            raise self._decode_error() from None
        except (ValueError, OSError, pd.errors.ParserError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise UserError(f"{self.path}: cannot be read as {self.kind} ({first})") from None

    def _read_names(self) -> dict[str, str]:
        """Stripped column name -> name as written in the file."""
        if self.kind == "parquet":
            import pyarrow.parquet as pq

            names = pq.ParquetFile(self.path).schema_arrow.names
        elif self.kind == "jsonl":
            names = list(dict.fromkeys(key for row in self._jsonl_rows() for key in row))
        elif self.kind == "xlsx":
            names = self._xlsx_header()
        else:
            names = list(pd.read_csv(self.path, sep=self._sep, dtype=str, nrows=0, encoding=self._codec).columns)
        return {str(name).strip(): name for name in names}

    @property
    def _sep(self) -> str:
        return "\t" if self.kind == "tsv" else ","

    def _delimited_chunks(self, wanted, rows) -> Iterator[pd.DataFrame]:
        reader = pd.read_csv(self.path, sep=self._sep, dtype=str, keep_default_na=False, usecols=wanted, chunksize=rows, encoding=self._codec)
        with reader:
            for chunk in reader:
                yield chunk.fillna("")

    def _parquet_chunks(self, wanted, rows) -> Iterator[pd.DataFrame]:
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(self.path).iter_batches(batch_size=rows, columns=wanted):
            # Object ints keep 7 as "7" in a batch with nulls (a float column would make it "7.0").
            frame = batch.to_pandas(integer_object_nulls=True)
            yield pd.DataFrame({name: [_as_text(v) for v in frame[name]] for name in frame.columns}, dtype=object)

    def _jsonl_chunks(self, wanted, rows) -> Iterator[pd.DataFrame]:
        names = wanted if wanted is not None else list(self._raw_names.values())
        batch: list[dict] = []
        for row in self._jsonl_rows():
            batch.append(row)
            if len(batch) == rows:
                yield _jsonl_frame(batch, names)
                batch = []
        if batch:
            yield _jsonl_frame(batch, names)

    def _open_sheet(self):
        """(workbook, worksheet) in openpyxl's streaming read-only mode; close the workbook after use."""
        try:
            import openpyxl
        except ImportError:
            raise UserError(f"{self.path}: reading .xlsx needs the openpyxl package (pip install openpyxl)") from None
        import zipfile

        from openpyxl.utils.exceptions import InvalidFileException

        try:
            book = openpyxl.load_workbook(self.path, read_only=True, data_only=True)
        except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError) as exc:
            raise UserError(f"{self.path}: not a readable .xlsx workbook ({type(exc).__name__}); re-save it from Excel as .xlsx") from None
        if self.sheet is None:
            return book, book.worksheets[0]
        if self.sheet not in book.sheetnames:
            names = ", ".join(book.sheetnames)
            book.close()
            raise UserError(f"{self.path}: no sheet {self.sheet!r}; sheets are: {names}; choose with --sheet")
        return book, book[self.sheet]

    def _xlsx_rows(self) -> Iterator[list[str]]:
        """Every non-empty row of the sheet as texts (the header included)."""
        book, sheet = self._open_sheet()
        # The size written in the file can be wrong (some exporters write "A1"): read to the real end.
        sheet.reset_dimensions()
        try:
            for cells in sheet.iter_rows(min_row=1, min_col=1):
                row = [_cell_text(cell) for cell in cells]
                if any(row):
                    yield row
        finally:
            book.close()

    def _xlsx_header(self) -> list[str]:
        rows = self._xlsx_rows()
        header = next(rows, [])
        rows.close()
        while header and not header[-1]:
            header.pop()
        names, seen = [], set()
        for position, name in enumerate(header):
            name = name.strip() or f"Unnamed: {position}"
            unique, n = name, 0
            while unique in seen:  # as pandas does for a CSV: a second 'notes' becomes 'notes.1'
                n += 1
                unique = f"{name}.{n}"
            seen.add(unique)
            names.append(unique)
        return names

    def _xlsx_chunks(self, wanted, rows) -> Iterator[pd.DataFrame]:
        names = list(self._raw_names.values())
        positions = [names.index(name) for name in (wanted if wanted is not None else names)]
        columns = [names[i] for i in positions]
        batch: list[list[str]] = []
        body = self._xlsx_rows()
        next(body, None)  # the header
        for row in body:
            batch.append([row[i] if i < len(row) else "" for i in positions])
            if len(batch) == rows:
                yield pd.DataFrame(batch, columns=columns, dtype=object)
                batch = []
        if batch:
            yield pd.DataFrame(batch, columns=columns, dtype=object)

    def _jsonl_rows(self) -> Iterator[dict]:
        with self.path.open(encoding=self._codec) as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise UserError(f"{self.path}: line {number} is not valid JSON ({exc.msg}); fix or remove that line") from None
                if not isinstance(row, dict):
                    raise UserError(f"{self.path}: line {number} is not a JSON object; each line must be one report")
                yield row

    def _decode_error(self) -> UserError:
        raw = self.path.read_bytes()  # only on this error path: to name the line
        try:
            raw.decode(self._codec)
        except UnicodeDecodeError as exc:
            line = raw.count(b"\n", 0, exc.start) + 1
            return UserError(
                f"{self.path}: line {line} (data row {max(line - 1, 1)} in a CSV with a header) is not valid {self.encoding} "
                f"at byte {exc.start}; {_ENCODING_ADVICE}"
            )
        return UserError(f"{self.path}: cannot be read as {self.encoding}; {_ENCODING_ADVICE}")


_ENCODING_ADVICE = ("give the file's encoding, e.g. --encoding cp1252 for a Windows export "
                    "(or `encoding = \"cp1252\"` in incident-lens.toml), or re-save it as UTF-8")


def _cell_text(cell) -> str:
    """An Excel cell as the text it shows: 7 not 7.0, 007 for 7 under number format "000", dates as YYYY-MM-DD."""
    value = cell.value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not value.is_integer():
            return repr(value)
        number = int(value)
        fmt = getattr(cell, "number_format", "") or ""
        width = len(fmt) if fmt and set(fmt) == {"0"} else 0
        return f"{number:0{width}d}" if width else str(number)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time(0) else value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return str(value)


def _as_text(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _jsonl_frame(rows: list[dict], names: list[str]) -> pd.DataFrame:
    return pd.DataFrame({name: [_as_text(row.get(name)) for row in rows] for name in names}, dtype=object)


def read_table(path: Path, encoding: str = "utf-8", sheet: str | None = None) -> pd.DataFrame:
    """The whole file as a frame of strings."""
    table = Table(path, encoding, sheet)
    chunks = list(table.chunks())
    return pd.concat(chunks, ignore_index=True) if chunks else pd.DataFrame(columns=table.columns, dtype=object)


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


def _texts(raw: pd.DataFrame, text_cols: list[str]) -> pd.Series:
    if len(text_cols) > 1:
        return raw.apply(join_fields, axis=1, text_cols=text_cols) if len(raw) else pd.Series([], dtype=object)
    return raw[text_cols[0]].str.strip()


@dataclass
class ReportFile:
    """A validated report file whose reports are read chunk by chunk (see `open_reports`)."""

    table: Table
    sha256: str
    text_cols: list[str]
    id_col: str
    max_chars: int
    reports: int  # rows with text (at most `limit`)
    limit: int | None = None
    skipped_empty: int = 0
    truncated: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def source(self) -> Path:
        return self.table.path

    def __len__(self) -> int:
        return self.reports

    def chunks(self, columns: list[str] | None = None, rows: int | None = None) -> Iterator[pd.DataFrame]:
        """Frames of up to `rows` reports with text: `id`, `text`, `truncated`, `row` (1-based data
        row of the file), then `columns` of the file (all when None)."""
        kept = [c for c in (self.table.columns if columns is None else columns) if c not in RESERVED_COLUMNS]
        self.require(kept)
        first_row, given = 1, 0
        for raw in self.table.chunks(list(dict.fromkeys([self.id_col, *self.text_cols, *kept])), rows):
            texts = _texts(raw, self.text_cols)
            derived = pd.DataFrame({
                "id": raw[self.id_col].str.strip().to_numpy(), "text": texts.str.slice(0, self.max_chars).to_numpy(),
                "truncated": (texts.str.len() > self.max_chars).to_numpy(), "row": range(first_row, first_row + len(raw)),
            })
            first_row += len(raw)
            out = pd.concat([derived, raw[kept].reset_index(drop=True)], axis=1)
            out = out.loc[(texts.str.strip() != "").to_numpy()].reset_index(drop=True)
            if self.limit is not None:
                out = out.head(self.limit - given)
            given += len(out)
            if len(out):
                yield out
            if self.limit is not None and given >= self.limit:
                return

    def require(self, columns: list[str], option: str = "--meta") -> None:
        """A one-line error for the first of `columns` the file lacks."""
        missing = [c for c in columns if c not in self.table.columns and c not in RESERVED_COLUMNS]
        if missing:
            raise UserError(f"{self.source}: column {missing[0]!r} not found; columns are: {', '.join(self.table.columns)}; choose with {option}")

    def read_all(self) -> pd.DataFrame:
        """Every report at once (for files small enough to hold; `chunks` for the others)."""
        chunks = list(self.chunks())
        if chunks:
            return pd.concat(chunks, ignore_index=True)
        kept = [c for c in self.table.columns if c not in RESERVED_COLUMNS]
        return pd.DataFrame(columns=[*RESERVED_COLUMNS, *kept])


def open_reports(
    path: Path,
    text_cols: list[str] | None = None,
    id_col: str | None = None,
    max_chars: int = 20_000,
    encoding: str = "utf-8",
    cache_dir: Path | None = None,
    limit: int | None = None,
    sheet: str | None = None,
) -> ReportFile:
    """Validate the whole file in one streamed pass (holding only its ids) and return it for chunked reading."""
    path = Path(path)
    table = Table(path, encoding, sheet)
    columns = table.columns
    if not columns:
        raise UserError(f"{path}: the file has no rows")
    text_cols = _pick(columns, text_cols, DEFAULT_TEXT_COLUMNS, path, "--text-col")
    id_col = _pick(columns, [id_col] if id_col else None, DEFAULT_ID_COLUMNS, path, "--id-col")[0]

    first_row: dict[str, int] = {}
    repeats: dict[str, list[int]] = {}
    blank_rows: list[int] = []
    empty_rows: list[int] = []
    long_rows: list[int] = []
    row = 0
    for raw in table.chunks(list(dict.fromkeys([id_col, *text_cols]))):
        texts = _texts(raw, text_cols)
        for report_id, text in zip(raw[id_col].str.strip(), texts):
            row += 1
            if not report_id:
                blank_rows.append(row)
            elif report_id in first_row:
                repeats.setdefault(report_id, [first_row[report_id]]).append(row)
            else:
                first_row[report_id] = row
            if not text.strip():
                empty_rows.append(row)
            elif len(text) > max_chars:
                long_rows.append(row)
    if row == 0:
        raise UserError(f"{path}: the file has no rows")
    if blank_rows:
        raise UserError(f"{path}: column '{id_col}' is empty in row(s) {', '.join(map(str, blank_rows[:5]))}; every report needs an id")
    if repeats:
        details = "; ".join(f"'{i}' in rows {', '.join(map(str, rows[:3]))}" for i, rows in list(repeats.items())[:5])
        raise UserError(f"{path}: duplicate ids in column '{id_col}' ({len(repeats)} ids): {details}; ids must be unique")

    warnings: list[str] = []
    if empty_rows:
        warnings.append(f"{path}: skipped {len(empty_rows)} row(s) with empty text in {', '.join(text_cols)} "
                        f"(rows {', '.join(map(str, empty_rows[:5]))}{'...' if len(empty_rows) > 5 else ''})")
    if long_rows:
        warnings.append(f"{path}: truncated {len(long_rows)} text(s) longer than {max_chars} characters "
                        f"(rows {', '.join(map(str, long_rows[:5]))}{'...' if len(long_rows) > 5 else ''}); flagged in column 'truncated'")
    reports = row - len(empty_rows)
    return ReportFile(
        table=table, sha256=file_sha256(path, cache_dir), text_cols=text_cols, id_col=id_col, max_chars=max_chars,
        reports=min(reports, limit) if limit else reports, limit=limit or None,
        skipped_empty=len(empty_rows), truncated=len(long_rows), warnings=warnings,
    )


def load_reports(
    path: Path,
    text_cols: list[str] | None = None,
    id_col: str | None = None,
    max_chars: int = 20_000,
    encoding: str = "utf-8",
    cache_dir: Path | None = None,
    sheet: str | None = None,
) -> ReportSet:
    """Every report of the file in one frame (see `open_reports` for files too big to hold)."""
    stream = open_reports(path, text_cols, id_col, max_chars, encoding, cache_dir, sheet=sheet)
    return ReportSet(
        frame=stream.read_all(), source=stream.source, sha256=stream.sha256, text_cols=stream.text_cols, id_col=stream.id_col,
        skipped_empty=stream.skipped_empty, truncated=stream.truncated, warnings=stream.warnings,
    )
