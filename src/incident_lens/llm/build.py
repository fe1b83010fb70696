"""Building the `dspy.LM` for a run from its settings, with DSPy's answer cache inside the workspace.

Usage: `lm = build_lm(settings)`; `configure_dspy(lm)`; `model_record(lm)` for the run manifest.
"""

from __future__ import annotations

from pathlib import Path

from incident_lens.llm.default_model import resolve_model_path

# Upper bound on one answer. The programs' output schemas bound their answers well below this;
# it is the backstop that keeps a confused model from generating for minutes.
DEFAULT_MAX_TOKENS = 1024


def _use_workspace_cache(cache_dir: Path) -> None:
    import dspy

    target = cache_dir / "dspy"
    current = getattr(getattr(dspy.cache, "disk_cache", None), "directory", None)
    if current is None or Path(current) != target:
        target.mkdir(parents=True, exist_ok=True)
        # Native engine responses are plain data, so the restricted unpickler is enough.
        dspy.configure_cache(disk_cache_dir=str(target), restrict_pickle=True)


def build_lm(settings, server_url: str | None = None, allow_remote: bool = False, server_model: str | None = None,
             max_tokens: int = DEFAULT_MAX_TOKENS, cache: bool = True):
    """A `dspy.LM` on the settings' GGUF (`model_path`, else the bundled default), or on the server at `server_url`.

    The model is checked before any work (one-line `UserError`); the LM carries the GGUF's sha256 in
    its model string so DSPy's cache never answers for another model; no client-side retries
    (a local model's failures are not transient).
    """
    import dspy

    from incident_lens.llm.llama_engine import LlamaCppEngine
    from incident_lens.llm.server_engine import ServerEngine, check_server_url

    workspace = settings.workspace.ensure()
    _use_workspace_cache(workspace.cache_dir)
    # The server: this call's, else the settings' (`--server` / `server` in incident-lens.toml). Its model id,
    # asked of the server at start, goes into the model string: another model behind the URL is another key.
    server_url = server_url or settings.server
    if server_url:
        engine = ServerEngine(check_server_url(server_url, allow_remote or settings.allow_remote_server),
                              model=server_model or settings.server_model)
    else:
        # The user's model, else the bundled default (a one-line UserError says how to get either).
        engine = LlamaCppEngine(resolve_model_path(settings), n_ctx=settings.n_ctx, n_threads=settings.cpu_threads,
                                n_batch=settings.n_batch, seed=settings.seed, cache_dir=workspace.cache_dir,
                                chat_template=settings.chat_template)
    return dspy.LM(engine.model_string, engine=engine, cache=cache, num_retries=0,
                   temperature=settings.temperature, max_tokens=max_tokens, seed=settings.seed)


def configure_dspy(lm) -> None:
    """Make `lm` DSPy's model, with the JSON adapter: its schema is what the engine turns into a grammar."""
    import dspy

    dspy.configure(lm=lm, adapter=dspy.JSONAdapter())


def engine_of(lm):
    """The engine object behind a `dspy.LM` built here (None for other LMs)."""
    engine = getattr(lm, "engine", None)
    return None if isinstance(engine, str) else engine


def model_record(lm) -> dict:
    """What the manifest says about the model: file, size, sha256, architecture, options, model string."""
    engine = engine_of(lm)
    described = engine.describe() if engine is not None and hasattr(engine, "describe") else {}
    return {"model_string": lm.model, **described}
