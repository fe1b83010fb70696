"""Student models by kind, and the student folder on disk: `meta.json` beside the model files.

Usage: see incident_lens.students. A folder is written whole under a temporary name and renamed into
place, so a killed `distil` never leaves half a student; an existing folder is never overwritten.
`meta.json` says what the student is (kind, task, label set), what it learnt from (file hashes, counts,
the ids it trained on, to refuse scoring it on them), how it scored on held-out rows, and the library
versions that wrote it. `load_student` checks the task and, for `embed-lr`, the embedding model.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from incident_lens.errors import UserError
from incident_lens.inputs.task_files import Task
from incident_lens.pipelines.baselines import EmbedLR, TfidfLR, predict_from_probabilities

STUDENT_KINDS = ("tfidf-lr", "embed-lr", "encoder")
META_FILE = "meta.json"
MODEL_FILE = "model.joblib"
FORMAT = 1


class LRStudent:
    """A logistic-regression baseline (tfidf-lr or embed-lr) as a student: weighted fit, probabilities, saving."""

    def __init__(self, inner, embedder=None):
        self.inner = inner
        self.name = inner.name
        self.task = inner.task
        self.embedder = embedder

    def fit(self, texts, labels, sample_weight=None, progress=None) -> "LRStudent":
        self.inner.fit(texts, labels, sample_weight)
        return self

    def probabilities(self, texts: list[str]) -> dict:
        return self.inner.probabilities(list(texts))

    def config(self) -> dict:
        out = {"tuning": self.inner.tuning()}
        if self.embedder is not None:
            out["embedding_model"] = {"name": self.embedder.name, "path": str(self.embedder.model_path),
                                      "fingerprint": self.embedder.fingerprint}
        return out

    def save(self, folder: Path) -> list[str]:
        import joblib

        state = {"models": self.inner.model.models, "tuning": self.inner.model.tuning}
        if isinstance(self.inner, TfidfLR):
            state["vectorizer"] = self.inner.vectorizer
        joblib.dump(state, Path(folder) / MODEL_FILE)
        return [MODEL_FILE]

    @classmethod
    def load(cls, folder: Path, task: Task, kind: str, embedder=None) -> "LRStudent":
        import joblib

        state = joblib.load(Path(folder) / MODEL_FILE)
        inner = TfidfLR(task) if kind == "tfidf-lr" else EmbedLR(task, embedder)
        inner.model.models, inner.model.tuning = state["models"], state["tuning"]
        if kind == "tfidf-lr":
            inner.vectorizer = state["vectorizer"]
        return cls(inner, embedder)


def student_predict(student, texts: list[str]) -> tuple[list, list[float]]:
    """(labels in the gold form, confidence = probability of the least certain target's chosen class)."""
    return predict_from_probabilities(student.task, student.probabilities(list(texts)), len(texts))


def _embedder(settings):
    from incident_lens.pipelines.baselines import MemoEmbedder
    from incident_lens.pipelines.indexing import make_embedder

    return MemoEmbedder(make_embedder(settings))


def make_student(kind: str, task: Task, settings, epochs: int = 3, max_length: int = 128, batch_size: int = 16,
                 embedder=None):
    """An untrained student of `kind`; the encoder starts from `settings.embedding_model` (default all-MiniLM-L6-v2).
    `embedder`: an embedder to share (embed-lr), else one is made from the settings."""
    if kind == "tfidf-lr":
        return LRStudent(TfidfLR(task, settings.seed))
    if kind == "embed-lr":
        embedder = embedder or _embedder(settings)
        return LRStudent(EmbedLR(task, embedder, settings.seed), embedder)
    if kind == "encoder":
        from incident_lens.students.encoder import EncoderStudent
        from retrieval.embedder import check_model_dir, default_model_path

        return EncoderStudent(task, check_model_dir(settings.embedding_model or default_model_path()), epochs=epochs,
                              batch_size=batch_size, max_length=max_length, seed=settings.seed, threads=settings.threads or None)
    raise UserError(f"--student {kind}: unknown; use one of {', '.join(STUDENT_KINDS)}")


def is_student_dir(path) -> bool:
    path = Path(str(path))
    if not (path / META_FILE).is_file():
        return False
    try:
        return json.loads((path / META_FILE).read_text(encoding="utf-8")).get("kind") == "student"
    except (json.JSONDecodeError, UnicodeDecodeError, OSError):
        return False


def read_meta(folder: Path) -> dict:
    folder = Path(folder)
    try:
        meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{folder}: not a student folder (no {META_FILE}); train one with `incident-lens distil`") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{folder / META_FILE}: unreadable ({type(exc).__name__}); train the student again") from None
    if meta.get("kind") != "student" or meta.get("student") not in STUDENT_KINDS:
        raise UserError(f"{folder / META_FILE}: not a student's meta file; train one with `incident-lens distil`")
    return meta


def save_student(student, folder: Path, meta: dict) -> Path:
    """Write the student and `meta.json` into a new folder (temporary name, then renamed into place)."""
    folder = Path(folder)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise UserError(f"--out {folder} already exists; choose another folder (a student is never overwritten)")
    tmp = folder.with_name(folder.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    try:
        files = student.save(tmp)
        meta = {"kind": "student", "format": FORMAT, "student": student.name, **meta, "files": files,
                "config": student.config()}
        (tmp / META_FILE).write_text(json.dumps(meta, indent=1, default=str), encoding="utf-8")
        if folder.exists():
            folder.rmdir()
        tmp.rename(folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def load_student(folder: Path, task: Task, settings):
    """(student, meta): refused with one line when it was trained for another task or label set."""
    folder = Path(folder)
    meta = read_meta(folder)
    trained = meta.get("task", {})
    if trained.get("name") != task.name or trained.get("labels") != task.label_names or trained.get("kind") != task.kind:
        raise UserError(f"{folder}: this student was trained for task '{trained.get('name')}' ({trained.get('kind')}, "
                        f"{len(trained.get('labels') or [])} labels), not '{task.name}' with its current labels; "
                        "train one for this task with `incident-lens distil`")
    kind = meta["student"]
    if kind == "encoder":
        from incident_lens.students.encoder import EncoderStudent

        return EncoderStudent.load(folder, task, threads=settings.threads or None), meta
    embedder = None
    if kind == "embed-lr":
        embedder = _embedder(settings)
        wanted = meta.get("config", {}).get("embedding_model", {}).get("fingerprint")
        if wanted and embedder.fingerprint != wanted:
            raise UserError(f"{folder}: trained on embeddings of another model ({meta['config']['embedding_model'].get('name')}); "
                            "set embedding_model to that model, or train the student again")
    return LRStudent.load(folder, task, kind, embedder), meta
