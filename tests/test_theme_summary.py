"""Theme names and summaries: quotes checked against the theme's reports (DummyLM), and one theme
summarised through the real stack (MiniLM, Chroma, the bundled SmolLM2 on llama.cpp)."""

from __future__ import annotations

import json

import dspy
import pandas as pd
import pytest
from dspy.utils.dummies import DummyLM
from typer.testing import CliRunner

from incident_lens.cli import app
from programs import ThemeSummariser
from programs.evidence import NOT_IN_REPORT, PROMPT_TEXT

REPORTS = [
    "Infusion pump stopped after the battery was changed and no alarm sounded; heparin missed for an hour.",
    "After a battery swap the pump showed running but nothing had infused for 40 minutes.",
    "Pump paused silently following a battery change on the night shift; dose omitted.",
]


def test_theme_summariser_checks_each_quote_against_the_reports():
    lm = DummyLM([{"name": "Pumps stop after battery change", "claims": [
        {"text": "Pumps stop silently after a battery change.", "evidence": ["no alarm sounded", "showed running but nothing had infused"]},
        {"text": "Doses are missed.", "evidence": ["the dose was never given to the patient"]},
        {"text": "Copied.", "evidence": ["passages copied word for word from the reports"]},
    ]}], adapter=dspy.JSONAdapter())
    with dspy.context(lm=lm):
        prediction = ThemeSummariser()(reports=REPORTS)
    first, invented, copied = prediction.claims
    assert prediction.name == "Pumps stop after battery change"
    assert first["evidence_verified"] and first["sources"] == [[1], [2]]
    assert not invented["evidence_verified"] and invented["unsupported_reasons"] == [NOT_IN_REPORT]
    assert copied["unsupported_reasons"] == [PROMPT_TEXT]
    assert not prediction.evidence_verified


@pytest.fixture
def no_bundled_model():
    """Overrides conftest's fixture: the last test here runs the real bundled model."""


@pytest.mark.slow
def test_one_theme_summarised_by_the_bundled_model(home, tmp_path):
    from incident_lens.config import load_settings
    from incident_lens.llm.default_model import PIP_INSTALL, bundled_file
    from incident_lens.pipelines.themes import fit_themes_job
    from incident_lens.pipelines.theme_summaries import summarise_themes
    from incident_lens.themes.fitting import FitSettings

    assert bundled_file() is not None, f"the bundled model is not installed: `{PIP_INSTALL}`"
    pumps = [f"{text} Ward {n}." for n in range(8) for text in REPORTS[:2]]
    falls = [f"Patient found on the floor beside the bed in bay {n}, unwitnessed fall, no injury." for n in range(16)]
    rows = [(f"R{i:03d}", text) for i, text in enumerate(pumps + falls)]
    path = tmp_path / "reports.csv"
    pd.DataFrame(rows, columns=["id", "text"]).to_csv(path, index=False)
    assert CliRunner().invoke(app, ["--home", str(home), "index", str(path)]).exit_code == 0
    settings = load_settings(home=home)
    run = fit_themes_job(settings, fit=FitSettings(min_size=5, threads=settings.cpu_threads))
    pump_theme = next(t for t in run.model.themes if set(t.representatives) & {r for r, _ in rows[:16]})
    (record,) = summarise_themes(settings, run, [pump_theme.label], representatives=2, max_chars=200)
    assert record["theme"] == pump_theme.label and record["members"] >= 5
    if record["status"] == "ok":
        assert record["name"] and record["claims"]
        for claim in record["claims"]:
            # Every quote the check accepted is in a member report; every rejected one has a reason.
            for quote, sources, count in zip(claim["evidence"], claim["sources"], claim["members_quoting"]):
                assert (sources and count >= 1) or quote in claim["unsupported_evidence"]
    else:
        assert record["status"].startswith("error: ")
    assert json.dumps(record)
