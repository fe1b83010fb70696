"""Working through a review queue: decisions appended to an audit log and applied to a corrected labels file.

Usage:
    queue = ReviewQueue.open(workspace, Path("queue.csv"), task=None)
    item = queue.next_item()                       # the first item not yet decided, or None
    queue.decide(item.key, item.version, "correct", reviewer="A. Reviewer", new="Low harm", reason="...")

A queue is a CSV with columns `id,current,suggested,confidence,reason` (as `review-queue` writes; optional
`field` and `evidence`), or any labels file written by `label` (one item per report and label column).
Everything written lives in `<workspace>/review/<queue name>-<hash of its path>/`: `audit.jsonl` (one
line per decision, fsynced before the decision counts: when, item, old -> new, reason, reviewer) and
`corrected.csv` (rewritten atomically: a labels file with every decided value in place; a queue with its own
columns, the decided label in `corrected` as `distil --corrections` reads it, and decision, reviewer, when). The audit log is the
state: it is replayed on open, so a killed or restarted server carries on where it stopped. Each item
has a version (its number of decisions); a decision made on an older version (another tab got there
first) is refused with `StaleDecision` and nothing is written.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from incident_lens.errors import UserError
from incident_lens.pipelines.output_files import drop_partial_line

ACTIONS = ("accept", "correct", "skip")
QUEUE_COLUMNS = ("id", "current", "suggested", "confidence", "reason")
# Added to a queue's own columns in its corrected file.
DECISION_COLUMNS = ("decision", "reviewer", "decided_at")
# The columns `label` writes after its label columns (pipelines/labelling.py META_COLUMNS starts here).
FIRST_META_COLUMN = "evidence"
MAX_VALUE = 500
MAX_REASON = 2000
MAX_REVIEWER = 80


class StaleDecision(Exception):
    """The item was decided elsewhere (another tab) since the page was drawn; `latest` is that entry."""

    def __init__(self, item: "QueueItem", latest: dict | None):
        super().__init__(f"item {item.key} changed since it was shown")
        self.item = item
        self.latest = latest


@dataclass(frozen=True)
class QueueItem:
    key: str
    id: str
    field: str
    current: str
    suggested: str = ""
    confidence: str = ""
    reason: str = ""
    evidence: tuple[str, ...] = ()
    row: int = 0


@dataclass
class ItemState:
    version: int = 0
    value: str | None = None  # the decided value; None while undecided
    decision: str = "pending"  # pending, accepted, corrected or skipped
    reviewer: str = ""
    when: str = ""
    last: dict | None = None


@dataclass
class _Source:
    header: list[str]
    rows: list[list[str]]
    kind: str  # "queue" or "labels"
    label_columns: list[str] = field(default_factory=list)


def review_dir(workspace, queue_path: Path) -> Path:
    resolved = str(Path(queue_path).resolve())
    return Path(workspace.home) / "review" / f"{Path(queue_path).stem}-{hashlib.sha256(resolved.encode()).hexdigest()[:8]}"


class ReviewQueue:
    """One queue file and its audit log. Open with `ReviewQueue.open`; safe to share between threads."""

    def __init__(self, path: Path, directory: Path, source: _Source, items: list[QueueItem], task=None):
        self.path = path
        self.dir = directory
        self.source = source
        self.items = items
        self.by_key = {item.key: item for item in items}
        self.task = task
        self.audit_path = directory / "audit.jsonl"
        self.corrected_path = directory / "corrected.csv"
        self._states = {item.key: ItemState() for item in items}
        self._offset = 0
        self._lock = threading.Lock()

    @classmethod
    def open(cls, workspace, path: Path, task=None) -> "ReviewQueue":
        path = Path(path)
        source = _read_source(path)
        items = _items(path, source)
        directory = review_dir(workspace, path)
        directory.mkdir(parents=True, exist_ok=True)
        queue = cls(path, directory, source, items, task)
        with queue._file_lock():
            if queue.audit_path.exists():
                drop_partial_line(queue.audit_path)
            queue._catch_up()
            # A kill between the log line and the rewrite leaves the corrected file behind the log: bring it level.
            queue._write_corrected()
        return queue

    @property
    def name(self) -> str:
        return self.path.name

    # --- reading -------------------------------------------------------------------------------

    def state(self, key: str) -> ItemState:
        return self._states[key]

    def value(self, item: QueueItem) -> str:
        state = self._states[item.key]
        return state.value if state.value is not None else item.current

    def counts(self) -> dict[str, int]:
        with self._lock:
            self._catch_up()
            counts = {"pending": 0, "accepted": 0, "corrected": 0, "skipped": 0}
            for state in self._states.values():
                counts[state.decision] += 1
            return counts

    def next_item(self, after: str | None = None) -> QueueItem | None:
        """The first undecided item (never-seen items before skipped ones); `after` starts the search past that key."""
        with self._lock:
            self._catch_up()
            start = self.items.index(self.by_key[after]) + 1 if after in self.by_key else 0
            order = self.items[start:] + self.items[:start]
            for wanted in ("pending", "skipped"):
                for item in order:
                    if self._states[item.key].decision == wanted and item.key != after:
                        return item
            return None

    def item(self, key: str) -> QueueItem:
        if key not in self.by_key:
            raise UserError(f"item {key!r} is not in queue {self.name}")
        with self._lock:
            self._catch_up()
        return self.by_key[key]

    def choices(self) -> list[str]:
        """Label values to offer when correcting: the task's, else those the queue itself uses."""
        if self.task is not None:
            return list(self.task.label_names)
        seen = {v for item in self.items for v in (item.current, item.suggested) if v}
        return sorted(seen)

    # --- deciding ------------------------------------------------------------------------------

    def decide(self, key: str, version: int, action: str, reviewer: str, new: str = "", reason: str = "") -> dict:
        """Record one decision; returns its audit entry. UserError for bad input, StaleDecision if
        `version` is not the item's current version (nothing is written then)."""
        item = self.by_key.get(key)
        if item is None:
            raise UserError(f"item {key!r} is not in queue {self.name}")
        if action not in ACTIONS:
            raise UserError(f"action {action!r}: choose one of {', '.join(ACTIONS)}")
        reviewer = " ".join(str(reviewer or "").split())
        if not reviewer or len(reviewer) > MAX_REVIEWER:
            raise UserError(f"reviewer name: give your name (1-{MAX_REVIEWER} characters) before reviewing")
        reason = " ".join(str(reason or "").split())
        if len(reason) > MAX_REASON:
            raise UserError(f"reason: at most {MAX_REASON} characters")
        with self._lock, self._file_lock():
            self._catch_up()
            state = self._states[key]
            if version != state.version:
                raise StaleDecision(item, state.last)
            old = self.value(item)
            if action == "accept":
                target = item.suggested or old
            elif action == "correct":
                target = self._checked_value(item, new)
            else:
                target = old
            entry = {
                "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "item": key, "id": item.id, "field": item.field, "action": action,
                "old": old, "new": target, "reason": reason, "reviewer": reviewer, "version": version + 1,
            }
            self._append(entry)
            self._catch_up()
            self._write_corrected()
            return entry

    def _checked_value(self, item: QueueItem, value: str) -> str:
        value = " ".join(str(value or "").split())
        if not value:
            raise UserError("correct: type the right label (or press Esc and accept or skip)")
        if len(value) > MAX_VALUE:
            raise UserError(f"correct: a label of at most {MAX_VALUE} characters")
        if self.task is None:
            return value
        from programs.labels import LabelError, normalise_label, normalise_labels, normalise_status

        try:
            if self.task.kind == "findings":
                return normalise_status(value)
            if self.task.kind == "multi":
                return ";".join(normalise_labels(self.task, value))
            return normalise_label(self.task, value)
        except LabelError as exc:
            raise UserError(f"correct: {exc}") from None

    # --- files ---------------------------------------------------------------------------------

    def _file_lock(self):
        from filelock import FileLock

        # Two servers (or a server and a script) on one queue take turns; waits at most 10 s.
        return FileLock(str(self.dir / "review.lock"), timeout=10)

    def _append(self, entry: dict) -> None:
        line = (json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8")
        with open(self.audit_path, "ab") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())

    def _catch_up(self) -> None:
        """Apply audit lines written since the last read (by this process or another one)."""
        if not self.audit_path.exists():
            return
        with open(self.audit_path, "rb") as handle:
            handle.seek(self._offset)
            data = handle.read()
        end = data.rfind(b"\n") + 1  # a line still being written is read next time
        for number, raw in enumerate(data[:end].splitlines(), start=1):
            if not raw.strip():
                continue
            try:
                entry = json.loads(raw)
            except json.JSONDecodeError:
                raise UserError(f"{self.audit_path}: line {number} is not JSON; move the file aside to start the review afresh") from None
            self._apply(entry)
        self._offset += end

    def _apply(self, entry: dict) -> None:
        state = self._states.get(entry.get("item"))
        if state is None:
            return  # an item no longer in the queue file (the queue was regenerated)
        state.version = int(entry.get("version", state.version + 1))
        state.last = entry
        state.reviewer, state.when = entry.get("reviewer", ""), entry.get("when", "")
        action = entry.get("action")
        if action == "skip":
            if state.value is None:
                state.decision = "skipped"
            return
        state.value = entry.get("new", "")
        state.decision = "accepted" if action == "accept" else "corrected"

    def _write_corrected(self) -> None:
        header, rows = self._corrected_rows()
        tmp = self.corrected_path.with_suffix(".tmp")
        with open(tmp, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(rows)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.corrected_path)

    def _corrected_rows(self) -> tuple[list[str], list[list[str]]]:
        source = self.source
        if source.kind == "labels":
            # Same columns as the labels file, decided values in place: `distil` and `evaluate` read it as they read the original.
            rows = [list(row) for row in source.rows]
            for item in self.items:
                state = self._states[item.key]
                if state.value is not None:
                    rows[item.row][source.header.index(item.field)] = state.value
            return list(source.header), rows
        # A queue keeps its columns, the decided label in `corrected` (blank: no decision), which `distil --corrections` reads.
        header = list(source.header) + [c for c in ("corrected", *DECISION_COLUMNS) if c not in source.header]
        at = {name: i for i, name in enumerate(header)}
        rows = []
        for item in self.items:
            state = self._states[item.key]
            row = list(source.rows[item.row]) + [""] * (len(header) - len(source.header))
            if state.value is not None:
                row[at["corrected"]] = state.value
            row[at["decision"]], row[at["reviewer"]], row[at["decided_at"]] = state.decision, state.reviewer, state.when
            rows.append(row)
        return header, rows


def _read_source(path: Path) -> _Source:
    if not path.is_file():
        raise UserError(f"{path}: review queue not found; give a CSV written by `review-queue` or `label`")
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle))
    except UnicodeDecodeError:
        raise UserError(f"{path}: not UTF-8 text; give the CSV as `review-queue` or `label` wrote it") from None
    except csv.Error as exc:
        raise UserError(f"{path}: not a readable CSV ({exc})") from None
    if not rows:
        raise UserError(f"{path}: empty file; expected a header with columns {','.join(QUEUE_COLUMNS)}")
    header, rows = [c.strip() for c in rows[0]], [r for r in rows[1:] if any(cell.strip() for cell in r)]
    if "id" not in header:
        raise UserError(f"{path}: no 'id' column (columns: {', '.join(header)}); expected {','.join(QUEUE_COLUMNS)} or a labels file from `label`")
    for number, row in enumerate(rows, start=2):
        if len(row) != len(header):
            raise UserError(f"{path}: row {number} has {len(row)} fields, the header {len(header)}")
    if "current" in header:
        return _Source(header, rows, "queue")
    if FIRST_META_COLUMN in header and header.index(FIRST_META_COLUMN) > header.index("id") + 1:
        return _Source(header, rows, "labels", header[header.index("id") + 1 : header.index(FIRST_META_COLUMN)])
    raise UserError(f"{path}: neither a review queue (columns {','.join(QUEUE_COLUMNS)}) nor a labels file from `label` "
                    f"(columns id, label(s)..., evidence, ...); its columns: {', '.join(header)}")


def _evidence(raw: str) -> tuple[str, ...]:
    raw = (raw or "").strip()
    if not raw:
        return ()
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        return (raw,)
    if isinstance(value, str):
        return (value,) if value.strip() else ()
    if isinstance(value, list):
        return tuple(str(v) for v in value if str(v).strip())
    return ()


def _items(path: Path, source: _Source) -> list[QueueItem]:
    column = {name: i for i, name in enumerate(source.header)}

    def cell(row, name):
        return row[column[name]].strip() if name in column else ""

    items: list[QueueItem] = []
    for index, row in enumerate(source.rows):
        report_id = cell(row, "id")
        if not report_id:
            raise UserError(f"{path}: row {index + 2} has an empty id")
        evidence = _evidence(cell(row, "evidence"))
        if source.kind == "queue":
            name = cell(row, "field") or "label"
            items.append(QueueItem(_key(report_id, name, "field" in column), report_id, name, cell(row, "current"), cell(row, "suggested"),
                                   cell(row, "confidence"), cell(row, "reason"), evidence, index))
            continue
        findings = len(source.label_columns) > 1
        for name in source.label_columns:
            value = cell(row, name)
            if findings and not value:
                continue  # a finding the model did not mention: nothing to review
            reason = cell(row, "rationale") or ("" if cell(row, "status") in ("", "ok") else f"status: {cell(row, 'status')}")
            items.append(QueueItem(_key(report_id, name, findings), report_id, name, value, "", "", reason, evidence, index))
    seen: set[str] = set()
    for item in items:
        if item.key in seen:
            raise UserError(f"{path}: item {item.key} appears twice; one row per id (and field)")
        seen.add(item.key)
    return items


def _key(report_id: str, field_name: str, with_field: bool) -> str:
    return f"{report_id}::{field_name}" if with_field else report_id
