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
    assert (settings.threads, settings.k) == (2, 7)
    assert with_overrides(settings, {"k": 3, "threads": None}).k == 3
    assert with_overrides(settings, {"k": 3, "threads": None}).threads == 2


def test_the_three_ks_encoding_and_server_are_settings(home, tmp_path):
    defaults = load_settings()
    assert (defaults.k, defaults.knn_k, defaults.rag_k, defaults.encoding) == (10, 10, 4, "utf-8")
    assert (defaults.server, defaults.server_model, defaults.allow_remote_server) == (None, None, False)
    (tmp_path / "incident-lens.toml").write_text(
        'k = 20\nknn_k = 5\nrag_k = 2\nencoding = "cp1252"\nserver = "http://127.0.0.1:8080/v1"\n'
        'server_model = "qwen"\nallow_remote_server = true\n', encoding="utf-8")
    settings = load_settings()
    assert (settings.k, settings.knn_k, settings.rag_k, settings.encoding) == (20, 5, 2, "cp1252")
    assert (settings.server, settings.server_model, settings.allow_remote_server) == ("http://127.0.0.1:8080/v1", "qwen", True)
    # An unset flag (None) keeps the file's True; only a given option overrides.
    assert with_overrides(settings, {"allow_remote_server": None, "rag_k": 3}).allow_remote_server is True
    assert with_overrides(settings, {"rag_k": 3}).rag_k == 3


@pytest.mark.parametrize("content, message", [
    ("threads = 'many'\n", "'threads' = 'many' is not a valid int"),
    ("colour = 1\n", "unknown key(s) colour"),
    ("k = \n", "not valid TOML"),
    ("rag_k = 0\n", "'rag_k' = 0 is not a valid int (at least 1)"),
    ("encoding = 'klingon'\n", "'encoding' = 'klingon' is not an encoding Python knows"),
    ("allow_remote_server = 'yes'\n", "'allow_remote_server' = 'yes' is not a valid bool"),
])
def test_bad_config_file(home, tmp_path, content, message):
    (tmp_path / "incident-lens.toml").write_text(content, encoding="utf-8")
    with pytest.raises(UserError) as err:
        load_settings()
    assert "incident-lens.toml" in str(err.value) and message in str(err.value)


def test_explicit_missing_config(home):
    with pytest.raises(UserError, match="config file not found"):
        load_settings(config_path=Path("nope.toml"))
