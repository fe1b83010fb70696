"""The core commands through the real CLI: doctor, tasks, one-line errors."""

from __future__ import annotations

from typer.testing import CliRunner

from incident_lens.cli import app

runner = CliRunner()


def test_tasks_lists_builtins_and_show_prints_definitions(home):
    result = runner.invoke(app, ["tasks"])
    assert result.exit_code == 0, result.output
    for name in ("incident-type", "harm", "cxr-findings"):
        assert name in result.output
    shown = runner.invoke(app, ["tasks", "show", "harm"])
    assert shown.exit_code == 0 and "Moderate" in shown.output and "Death" in shown.output


def test_malformed_user_task_is_one_line_error(home):
    (home / "tasks").mkdir(parents=True)
    (home / "tasks" / "bad.toml").write_text('name = "bad"\nkind = "single"\n', encoding="utf-8")
    result = runner.invoke(app, ["tasks"])
    assert result.exit_code == 2
    assert "bad.toml: key 'description' is missing" in result.output
    assert "Traceback" not in result.output


def test_doctor_reports_versions_workspace_embedding_and_guards(home, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")  # long paths stay on one line
    result = runner.invoke(app, ["doctor"])
    assert result.exit_code == 0, result.output
    for expected in ("dspy", "chromadb", str(home), "all-MiniLM-L6-v2", "active"):
        assert expected in result.output
    # No --model: the bundled default where its package is installed, else a line saying how to get one.
    assert "bundled default SmolLM2-135M-Instruct" in result.output or "none: search and baselines work" in result.output


def test_doctor_describes_a_gguf_and_fails_on_a_bad_one(home, tmp_path, tiny_gguf):
    good = runner.invoke(app, ["doctor", "--model", str(tiny_gguf)])
    assert good.exit_code == 0, good.output
    assert "llama" in good.output and "sha256" in good.output
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not a model at all")
    result = runner.invoke(app, ["doctor", "--model", str(bad)])
    assert result.exit_code == 1
    assert "not a GGUF file" in result.output
