"""GGUF checks fail before any work, with one line naming the file."""

from __future__ import annotations

import pytest

from incident_lens.errors import UserError
from incident_lens.llm.gguf_info import inspect_gguf


def test_describes_a_real_gguf(tiny_gguf):
    info = inspect_gguf(tiny_gguf)
    assert info.architecture == "llama" and info.has_chat_template
    assert len(info.sha256) == 64 and info.size == tiny_gguf.stat().st_size


def test_missing_non_gguf_and_truncated_files(tmp_path, tiny_gguf):
    with pytest.raises(UserError, match="model file not found"):
        inspect_gguf(tmp_path / "absent.gguf")
    (tmp_path / "x.gguf").write_bytes(b"PK\x03\x04 zip, not gguf")
    with pytest.raises(UserError, match="not a GGUF file"):
        inspect_gguf(tmp_path / "x.gguf")
    data = tiny_gguf.read_bytes()
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match=r"cut\.gguf: (damaged or )?truncated"):
        inspect_gguf(cut)
