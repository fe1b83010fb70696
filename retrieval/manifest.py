"""The files beside an index's store that say who may write it and what it holds: `write.lock`
(one writer at a time) and `index.json` (collection, embedding model, fields, counts, versions).

Usage: `lock = take_write_lock(directory, "incidents")`; `manifest = read_manifest(directory)`;
`write_manifest(directory, manifest, collection=..., embedding=..., count=...)`; `lock.release()`.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from retrieval.embedder import Embedder
from retrieval.errors import IndexBusy, RetrievalError

LOCK_FILE = "write.lock"
MANIFEST_FILE = "index.json"


def take_write_lock(directory: Path, collection: str):
    """The index's write lock, held by this process until released (or the process exits)."""
    lock = try_write_lock(directory)
    if lock is None:
        raise IndexBusy(f"index '{collection}' at {directory} is busy (another incident-lens process is writing it); wait for it to finish")
    return lock


def try_write_lock(directory: Path):
    """The write lock if no other process holds it, else None; never waits."""
    from filelock import FileLock, Timeout

    directory.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(directory / LOCK_FILE))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return None
    return lock


def read_manifest(directory: Path) -> dict:
    path = directory / MANIFEST_FILE
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise RetrievalError(f"{path}: damaged index description; rebuild the index into a new collection") from None


def write_manifest(directory: Path, manifest: dict, *, collection: str, embedding: dict, count: int) -> None:
    """Update `manifest` in place with the index's current state and save it atomically."""
    manifest.update(
        collection=collection,
        embedding=embedding,
        count=count,
        updated_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        versions=library_versions(),
    )
    path = directory / MANIFEST_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    tmp.replace(path)


def recorded_model_path(root: Path, collection: str) -> Path | None:
    """The embedding model directory an existing index was built with, if it is still there."""
    manifest = Path(root) / collection / MANIFEST_FILE
    try:
        path = json.loads(manifest.read_text(encoding="utf-8"))["embedding"]["path"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return Path(path) if Path(path).is_dir() else None


def recorded_embedder(manifest: dict) -> Embedder:
    """The embedder the manifest names, if its model directory is still there; else the default."""
    recorded = manifest.get("embedding", {})
    path = recorded.get("path")
    if path and Path(path).is_dir():
        return Embedder(Path(path), backend=recorded.get("backend", "torch"))
    return Embedder()


def library_versions() -> dict[str, str | None]:
    """The versions that decide what an index holds, recorded in its manifest."""
    import platform
    from importlib import metadata

    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in ("chromadb", "sentence-transformers", "torch", "scikit-learn", "incident-lens"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions
