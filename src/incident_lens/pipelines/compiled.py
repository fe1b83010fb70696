"""Compiled programs on disk: the DSPy JSON (plus a knn pool), its meta file, and loading both with checks.

Usage:
    save_compiled(program, Path("optimized/harm.json")); write_meta(path, meta)
    program, meta, warnings = load_compiled(Path("optimized/harm.json"), task, retriever=..., model_sha256=...)
A compiled file for another task or label set is refused; another model only warned about.
`compile_test_overlap(path, test, split)` says why its scores on a test set would be optimistic:
reports it quotes (demos, a knn pool) that are test rows, or its gold file split another way.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING

import dspy

from incident_lens.errors import UserError
from incident_lens.inputs.task_files import Task
from incident_lens.pipelines.labelled_pool import nearest_demos
from programs.nearest_demos import NearestDemos

if TYPE_CHECKING:
    from incident_lens.inputs.gold import GoldSet
    from incident_lens.inputs.splits import Split

META_FORMAT = 1
NEAREST_KEY = "nearest_demos"


def meta_path_for(program_path: Path) -> Path:
    """`optimized/harm.json` -> `optimized/harm.meta.json`."""
    program_path = Path(program_path)
    return program_path.with_name(program_path.stem + ".meta.json")


def has_demos(program) -> bool:
    if isinstance(program, NearestDemos):
        return bool(program.pool)
    return any(p.demos for p in program.predictors())


def save_compiled(program, path: Path) -> None:
    """DSPy's JSON state, written atomically; a knn program also carries its labelled pool."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.json")
    inner = program.program if isinstance(program, NearestDemos) else program
    inner.save(str(tmp))
    if isinstance(program, NearestDemos):
        state = json.loads(tmp.read_text(encoding="utf-8"))
        state[NEAREST_KEY] = program.pool_state()
        tmp.write_text(json.dumps(state, indent=2), encoding="utf-8")
    tmp.replace(path)


def write_meta(path: Path, meta: dict) -> Path:
    target = meta_path_for(path)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(json.dumps(meta, indent=2, default=str), encoding="utf-8")
    tmp.replace(target)
    return target


def read_meta(path: Path) -> dict | None:
    target = meta_path_for(path)
    if not target.is_file():
        return None
    try:
        return json.loads(target.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise UserError(f"{target}: not valid JSON; rebuild it with `incident-lens optimise` or remove it") from None


def check_meta(meta: dict | None, path: Path, task: Task, model_sha256: str | None) -> list[str]:
    """A compiled file for another task or label set is refused; another model only warned about."""
    if meta is None:
        return [f"{path}: no {meta_path_for(path).name} beside it; task, label set and model cannot be checked"]
    if meta.get("task", {}).get("name") != task.name:
        raise UserError(f"{path}: compiled for task '{meta.get('task', {}).get('name')}', not '{task.name}'; "
                        f"compile one for this task with `incident-lens optimise --task {task.name}`")
    labels = meta.get("task", {}).get("labels")
    if labels != task.label_names:
        missing = sorted(set(task.label_names) - set(labels or []))
        extra = sorted(set(labels or []) - set(task.label_names))
        raise UserError(f"{path}: compiled for a different label set of task '{task.name}' "
                        f"(not in the file: {', '.join(missing) or 'none'}; no longer in the task: {', '.join(extra) or 'none'}); "
                        "re-run `incident-lens optimise`")
    warnings = []
    built_with = (meta.get("model") or {}).get("sha256")
    if model_sha256 and built_with != model_sha256:
        built = f"{(meta.get('model') or {}).get('file')} (sha256 {str(built_with)[:12]})" if built_with else "no model (demos only)"
        warnings.append(f"{path}: compiled with {built}, not the model in use; its dev scores do not carry over")
    if task.sha256 and meta.get("task", {}).get("sha256") not in (None, task.sha256):
        warnings.append(f"{path}: the task file changed since it was compiled (label definitions may differ)")
    return warnings


def compiled_kind(path: Path) -> str:
    """`zero-shot` or `rag`: which labeller a compiled file holds (read before building its retriever)."""
    from programs import saved_program_kind

    try:
        return saved_program_kind(json.loads(Path(path).read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise UserError(f"{path}: compiled program file not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError, AttributeError) as exc:
        raise UserError(f"{path}: not a compiled labelling program ({str(exc).splitlines()[0]})") from None


def load_compiled(path: Path, task: Task, retriever=None, model_sha256: str | None = None, embedder=None,
                  k: int | None = None):
    """(program, meta, warnings) for a compiled file, after checking it belongs to this task."""
    from programs import build_program, saved_program_kind

    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: compiled program file not found")
    meta = read_meta(path)
    warnings = check_meta(meta, path, task, model_sha256)
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
        kind = saved_program_kind(state)
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError) as exc:
        raise UserError(f"{path}: not a compiled labelling program ({str(exc).splitlines()[0]})") from None
    if kind == "rag" and retriever is None:
        raise UserError(f"{path}: a RAG program needs labelled reports to retrieve from (a train split)")
    program = build_program(task, kind, retriever=retriever, **({"k": k} if k and kind == "rag" else {}))
    try:
        program.load(str(path))
    except (KeyError, ValueError, TypeError) as exc:
        raise UserError(f"{path}: does not fit task '{task.name}' ({type(exc).__name__}); re-run `incident-lens optimise`") from None
    if NEAREST_KEY in state:
        nearest = state[NEAREST_KEY]
        pool = [dspy.Example(**demo).with_inputs("report") for demo in nearest["pool"]]
        program = nearest_demos(program, pool, int(nearest["k"]), embedder)
    return program, meta, warnings


def ids_digest(ids) -> str:
    """sha256 of a set of row ids (order-free): which rows a program was compiled on, without naming them."""
    return hashlib.sha256("\n".join(sorted(ids)).encode("utf-8")).hexdigest()


def _normalised(text: str) -> str:
    return " ".join(str(text).split()).lower()


def quoted_reports(state) -> list[str]:
    """The report texts a compiled program's JSON state quotes: every predictor's demos and a knn pool."""
    found = []
    if isinstance(state, dict):
        for key, value in state.items():
            if key in ("demos", "pool") and isinstance(value, list):
                found += [str(item["report"]) for item in value if isinstance(item, dict) and item.get("report")]
            else:
                found += quoted_reports(value)
    elif isinstance(state, list):
        for value in state:
            found += quoted_reports(value)
    return found


def compile_test_overlap(path: Path, test: "GoldSet", split: "Split | None") -> list[str]:
    """Why a compiled program's scores on `test` would be optimistic, one reason each; empty when nothing overlaps.

    (a) reports it quotes (demos, knn pool; compared with whitespace and case folded) that are test rows;
    (b) it was compiled on this same gold file (same sha256) but its train split is not this evaluation's
    (another seed or split file, or no split because the whole file is the test set here).
    """
    path = Path(path)
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: not a compiled labelling program ({str(exc).splitlines()[0]})") from None
    problems = []
    tested = {_normalised(t) for t in test.texts}
    quoted = quoted_reports(state)
    shared = sum(_normalised(t) in tested for t in quoted)
    if shared:
        problems.append(f"{shared} of the {len(quoted)} report(s) it quotes (demos or knn pool) are test rows of {test.path.name}")
    gold = (read_meta(path) or {}).get("gold") or {}
    if gold.get("sha256") and gold["sha256"] == test.sha256:
        here = "all its rows (a separate train file was given)" if split is None else \
            f"split seed {split.seed} ({split.path.name})"
        if gold.get("train_ids_sha256") and split is not None:
            differs = gold["train_ids_sha256"] != ids_digest(split.ids("train"))
        else:
            differs = split is None or (gold.get("split_seed"), gold.get("split_file"), gold.get("split_counts")) != \
                (split.seed, split.path.name, split.counts())
        if differs:
            problems.append(f"compiled on the train split (seed {gold.get('split_seed')}, {gold.get('split_file')}) "
                            f"of this same gold file, scored here on {here}: its train rows may be test rows")
    return problems


def model_description(settings) -> dict | None:
    from incident_lens.llm.default_model import available_model_path
    from incident_lens.llm.gguf_info import inspect_gguf

    path = available_model_path(settings)
    if path is None:
        return None
    info = inspect_gguf(path, settings.workspace.cache_dir)
    return {"file": info.path.name, "sha256": info.sha256, "size": info.size, "architecture": info.architecture}


def finetuned_model_path(program_path: Path, cache_dir: Path | None = None) -> Path | None:
    """The GGUF a fine-tuned program runs on (named in its meta file, beside it), checked; None for other programs."""
    from incident_lens.hashing import file_sha256

    program_path = Path(program_path)
    if program_path.suffix.lower() != ".json" or not program_path.is_file():
        return None
    tuned = (read_meta(program_path) or {}).get("finetuned_model")
    if not tuned:
        return None
    path = program_path.parent / tuned["file"]
    if not path.is_file():
        raise UserError(f"{program_path}: its fine-tuned model {path} is missing; keep the .gguf beside the program "
                        "or re-run `incident-lens optimise --optimizer finetune`")
    if file_sha256(path, cache_dir) != tuned.get("sha256"):
        raise UserError(f"{path}: not the model {program_path.name} was fine-tuned into (sha256 differs); "
                        "re-run `incident-lens optimise --optimizer finetune`")
    return path.absolute()


def settings_for_program(settings, program) -> tuple[object, list[str]]:
    """The settings a program runs under: a fine-tuned program's own GGUF wins over `model_path` and the default.

    (settings, warnings); other programs leave the settings as they are."""
    from dataclasses import replace

    if program is None or settings.server:
        return settings, []
    path = finetuned_model_path(Path(program), settings.workspace.cache_dir)
    if path is None:
        return settings, []
    warnings = []
    if settings.model_path is not None and Path(settings.model_path).absolute() != path:
        warnings.append(f"{program}: runs on its own fine-tuned model {path.name}; model {settings.model_path} is not used")
    return replace(settings, model_path=path), warnings
