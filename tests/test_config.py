"""Settings: defaults, incident-lens.toml, options on top; bad files are one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from incident_lens.config import load_settings, with_overrides
from incident_lens.errors import UserError


def test_home_defaults_to_env_then_option(home, tmp_path):
    assert load_settings().home == home
    assert load_settings(home=tmp_path / "other").home == tmp_path / "other"


def test_toml_sets_defaults_and_options_override(home, tmp_path):
    (tmp_path / "incident-lens.toml").write_text('model_path = "models/m.gguf"\nthreads = 2\nk = 7\n', encoding="utf-8")
    settings = load_settings()
    assert settings.model_path == tmp_path / "models" / "m.gguf"  # relative to the file
    assert (settings.threads, settings.k, settings.n_ctx) == (2, 7, 4096)
    assert with_overrides(settings, {"k": 3, "threads": None}).k == 3
    assert with_overrides(settings, {"k": 3, "threads": None}).threads == 2


@pytest.mark.parametrize("content, message", [
    ("threads = 'many'\n", "'threads' = 'many' is not a valid int"),
    ("colour = 1\n", "unknown key(s) colour"),
    ("k = \n", "not valid TOML"),
])
def test_bad_config_file(home, tmp_path, content, message):
    (tmp_path / "incident-lens.toml").write_text(content, encoding="utf-8")
    with pytest.raises(UserError) as err:
        load_settings()
    assert "incident-lens.toml" in str(err.value) and message in str(err.value)


def test_explicit_missing_config(home):
    with pytest.raises(UserError, match="config file not found"):
        load_settings(config_path=Path("nope.toml"))
