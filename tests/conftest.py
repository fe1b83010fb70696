"""Shared fixtures: an isolated workspace per test; heavy models loaded once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DEMO_DIR = REPO / "data" / "demo"
GOLD_DIR = REPO / "data" / "gold"


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A fresh workspace; every code path that reads INCIDENT_LENS_HOME lands here."""
    path = tmp_path / "ws"
    monkeypatch.setenv("INCIDENT_LENS_HOME", str(path))
    monkeypatch.chdir(tmp_path)
    return path
