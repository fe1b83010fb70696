"""`incident-lens summarise`: JSONL summaries with checked evidence, --id selection, resume, manifest."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from incident_lens.cli import app
from incident_lens.config import Settings
from incident_lens.errors import UserError
from incident_lens.pipelines.summarising import summarise_file
from programs import SUMMARY_PARTS, check_quotes

from conftest import DEMO_DIR

runner = CliRunner()


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> Path:
    frame = pd.read_csv(DEMO_DIR / "incidents.csv", dtype=str, keep_default_na=False).head(5)
    path = tmp_path_factory.mktemp("data") / "incidents.csv"
    frame.to_csv(path, index=False)
    return path


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_summarise_selected_ids_writes_checked_summaries_and_a_manifest(home, tiny_gguf, reports, tmp_path):
    out = tmp_path / "summaries.jsonl"
    result = runner.invoke(app, ["--home", str(home), "summarise", str(reports), "--id", "INC-000004",
                                 "--model", str(tiny_gguf), "--out", str(out), "--threads", "1", "--text-col", "description"])
    assert result.exit_code == 0, result.output
    records = lines(out)
    assert [r["id"] for r in records] == ["INC-000004"]
    texts = pd.read_csv(reports, dtype=str).set_index("id")["description"]
    for record in records:
        assert record["status"] == "ok" and set(record["summary"]) == set(SUMMARY_PARTS)
        for part in record["summary"].values():
            assert part["evidence_verified"] == check_quotes(part["evidence"], texts[record["id"]]).verified
        assert record["prompt_tokens"] > 0 and record["completion_tokens"] > 0
    [run_dir] = (home / "runs").iterdir()
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["command"] == "summarise" and manifest["counts"]["ok"] == 1
    assert manifest["program"]["name"] == "summariser" and manifest["inputs"]["model"]["sha256"]


def test_summarise_resumes_without_duplicates(home, tiny_gguf, reports, tmp_path):
    out = tmp_path / "summaries.jsonl"
    settings = Settings(home=home, model_path=tiny_gguf, threads=1)
    summarise_file(settings, reports, out, limit=1, text_cols=["description"])
    summary = summarise_file(settings, reports, out, limit=2, resume=True, text_cols=["description"])
    assert [r["id"] for r in lines(out)] == ["INC-000001", "INC-000002"]
    assert summary.counts["skipped"] == 1 and summary.counts["ok"] == 1


def test_unknown_id_is_a_user_error(home, tiny_gguf, reports, tmp_path):
    with pytest.raises(UserError, match="INC-999"):
        summarise_file(Settings(home=home, model_path=tiny_gguf, threads=1), reports, tmp_path / "s.jsonl", ids=["INC-999"])


def test_llm_demo_step_labels_and_summarises_the_demo_incidents(home, tiny_gguf, reports, tmp_path):
    from incident_lens.pipelines.demo_steps import llm_demo

    settings = Settings(home=home, model_path=tiny_gguf, threads=1)
    done = llm_demo(settings, reports, tmp_path / "demo", n_labels=2, n_summaries=1)
    assert done["labels"].counts["ok"] == 2 and done["summaries"].counts["ok"] == 1
    assert len((tmp_path / "demo" / "labels.csv").read_text().splitlines()) == 3
    # Running the demo again continues the same files instead of failing on them.
    again = llm_demo(settings, reports, tmp_path / "demo", n_labels=2, n_summaries=1)
    assert again["labels"].counts["skipped"] == 2 and again["summaries"].counts["skipped"] == 1
