"""Checking and describing a GGUF model file before any work is done with it.

Usage: `info = inspect_gguf(Path("model.gguf"))` -> architecture, size, sha256, chat template...
A missing, truncated or non-GGUF file is a one-line `UserError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from incident_lens.errors import UserError
from incident_lens.hashing import file_sha256

GGUF_MAGIC = b"GGUF"


@dataclass(frozen=True)
class GGUFInfo:
    path: Path
    size: int
    sha256: str
    architecture: str
    name: str
    context_length: int | None
    n_tensors: int
    has_chat_template: bool

    def to_dict(self) -> dict:
        return {**self.__dict__, "path": str(self.path)}


def _field_value(reader, key: str):
    field = reader.fields.get(key)
    if field is None:
        return None
    # Strings are stored as byte arrays; scalars as one-element arrays.
    part = field.parts[field.data[0]]
    if field.types and field.types[0].name == "STRING":
        return bytes(part).decode("utf-8", errors="replace")
    return part.tolist()[0] if hasattr(part, "tolist") else part


def inspect_gguf(path: Path, cache_dir: Path | None = None) -> GGUFInfo:
    from gguf import GGUFReader

    path = Path(path).expanduser()
    hint = "give the path of a .gguf model file with --model or model_path in incident-lens.toml"
    if not path.is_file():
        raise UserError(f"{path}: model file not found; {hint}")
    with path.open("rb") as handle:
        if handle.read(4) != GGUF_MAGIC:
            raise UserError(f"{path}: not a GGUF file (no GGUF header); {hint}")
    size = path.stat().st_size
    try:
        reader = GGUFReader(path)
    except (ValueError, IndexError, OSError, KeyError) as exc:
        raise UserError(f"{path}: damaged or truncated GGUF file ({type(exc).__name__}); copy it again") from None
    end = max((t.data_offset + t.n_bytes for t in reader.tensors), default=0)
    if end > size:
        raise UserError(f"{path}: truncated GGUF file ({size} bytes, tensors need {end}); copy it again")
    architecture = _field_value(reader, "general.architecture") or "unknown"
    return GGUFInfo(
        path=path.absolute(),
        size=size,
        sha256=file_sha256(path, cache_dir),
        architecture=architecture,
        name=_field_value(reader, "general.name") or path.stem,
        context_length=_field_value(reader, f"{architecture}.context_length"),
        n_tensors=len(reader.tensors),
        has_chat_template=_field_value(reader, "tokenizer.chat_template") is not None,
    )
