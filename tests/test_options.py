"""Options reach the place they act: the rag/knn "k"s, --server on every LLM command and in the config
file, --encoding and .xlsx on every command that reads reports, and summarise's default text columns.

The model is a scripted OpenAI-compatible server on loopback (tests/fake_openai_server.py), so each test
reads the prompts that were actually sent; embeddings come from a small hashing embedder where the
real one would only cost time.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from incident_lens.cli import app

from conftest import DEMO_DIR, GOLD_DIR
from fake_openai_server import FakeOpenAIServer

runner = CliRunner()


def invoke(home: Path, *args: str):
    return runner.invoke(app, ["--home", str(home), *args], env={"COLUMNS": "250"})


def examples_in_last_prompt(body: dict) -> int:
    """How many retrieved examples ("Example N" blocks) the report's own (last) message shows."""
    return len(re.findall(r"^Example \d+$", body["messages"][-1]["content"], flags=re.M))


class HashingEmbedder:
    """Bag of hashed words, 32 dimensions: similar texts are near, and nothing is loaded."""

    def encode(self, texts):
        out = np.zeros((len(texts), 32), dtype=np.float32)
        for row, text in enumerate(texts):
            out[row, 0] = 1.0
            for word in str(text).lower().split():
                out[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % 31 + 1] += 1.0
        return out


@pytest.fixture
def fake_embedder(monkeypatch):
    import incident_lens.pipelines.indexing as indexing

    monkeypatch.setattr(indexing, "make_embedder", lambda settings, model_path=None: HashingEmbedder())


@pytest.fixture
def server():
    with FakeOpenAIServer(models=["test-model"]) as running:
        yield running


def write_cp1252(frame: pd.DataFrame, path: Path) -> Path:
    """The frame as a cp1252 CSV with a "£" and an "é" in the first report."""
    frame = frame.copy()
    frame.loc[frame.index[0], "description"] = "Café worker's £20 note found in the drug trolley. " + frame.iloc[0]["description"]
    path.write_bytes(frame.to_csv(index=False).encode("cp1252"))
    return path


@pytest.fixture
def gold_files(tmp_path):
    """A small harm gold set split by hand: train (every grade) and test, both cp1252."""
    gold = pd.read_csv(GOLD_DIR / "harm.csv", dtype=str, keep_default_na=False)
    train = gold.groupby("harm", group_keys=False).head(4)
    test = gold.drop(train.index).head(3)
    return write_cp1252(train, tmp_path / "train.csv"), write_cp1252(test, tmp_path / "test.csv")


# --- k: three meanings, three settings -------------------------------------------------------------


def test_label_rag_k_comes_from_the_config_file_and_the_option(home, tmp_path, server, monkeypatch):
    import incident_lens.pipelines.labelling as labelling

    class FakeIndex:  # labelled neighbours, as an index built with --meta harm gives them
        def query(self, text, k, mode, exclude_ids):
            return [SimpleNamespace(text=f"Neighbour report {n} about a fall.", metadata={"harm": "Low"}) for n in range(k)]

        def close(self):
            pass

    monkeypatch.setattr(labelling, "open_rag_index", lambda settings, task, collection: FakeIndex())
    reports = tmp_path / "incidents.csv"
    pd.read_csv(DEMO_DIR / "incidents.csv", dtype=str, keep_default_na=False).head(2).to_csv(reports, index=False)
    # The server and rag_k from incident-lens.toml: no --server, no -k on the command line.
    (tmp_path / "incident-lens.toml").write_text(f'server = "{server.url}"\nrag_k = 3\n', encoding="utf-8")
    result = invoke(home, "label", str(reports), "--task", "harm", "--program", "rag", "--out", str(tmp_path / "a.csv"))
    assert result.exit_code == 0, result.output
    assert [examples_in_last_prompt(body) for body in server.requests] == [3, 3]
    manifest = json.loads(next((home / "runs").iterdir()).joinpath("manifest.json").read_text())
    assert manifest["program"]["k"] == 3 and "test-model" in manifest["model"]["model_string"]
    result = invoke(home, "label", str(reports), "--task", "harm", "--program", "rag", "-k", "2", "--out", str(tmp_path / "b.csv"))
    assert result.exit_code == 0, result.output
    assert [examples_in_last_prompt(body) for body in server.requests[2:]] == [2, 2]


def test_evaluate_rag_k_and_knn_k_reach_the_program_and_the_baseline(home, tmp_path, server, gold_files, fake_embedder, monkeypatch):
    import incident_lens.pipelines.evaluation as evaluation

    built = {}
    real_make_baseline = evaluation.make_baseline

    def spy(name, task, embedder=None, k=10, **options):
        built[name] = k
        return real_make_baseline(name, task, embedder=embedder, k=k, **options)

    monkeypatch.setattr(evaluation, "make_baseline", spy)
    train, test = gold_files
    result = invoke(home, "evaluate", "--task", "harm", "--gold", str(test), "--train", str(train), "--method", "knn",
                    "--method", "rag", "--rag-k", "2", "--knn-k", "3", "--server", server.url, "--encoding", "cp1252",
                    "--report", str(tmp_path / "report"))
    assert result.exit_code == 0, result.output
    assert built == {"knn": 3}
    assert len(server.requests) == 3 and {examples_in_last_prompt(body) for body in server.requests} == {2}
    metrics = json.loads((tmp_path / "report" / "metrics.json").read_text())
    assert "rag" in json.dumps(metrics)
    # The old --k meant both; it now says which to use instead of silently picking one.
    old = invoke(home, "evaluate", "--task", "harm", "--gold", str(test), "--method", "knn", "--k", "3")
    assert old.exit_code == 2 and "--knn-k" in old.output and "--rag-k" in old.output


def test_optimise_takes_server_rag_k_and_encoding(home, tmp_path, server, fake_embedder):
    gold = pd.read_csv(GOLD_DIR / "harm.csv", dtype=str, keep_default_na=False).groupby("harm", group_keys=False).head(6)
    path = write_cp1252(gold, tmp_path / "gold.csv")
    out = tmp_path / "optimized" / "harm.json"
    result = invoke(home, "optimise", "--task", "harm", "--gold", str(path), "--optimizer", "labeled", "--program", "rag",
                    "--rag-k", "2", "--server", server.url, "--encoding", "cp1252", "--out", str(out))
    assert result.exit_code == 0, result.output
    meta = json.loads(out.with_name("harm.meta.json").read_text())
    assert meta["rag_k"] == 2 and "test-model" in meta["model"]["model_string"]
    assert meta["dev_before"] is not None and server.requests  # dev was scored through the server
    assert {examples_in_last_prompt(body) for body in server.requests} == {2}


# --- summarise: the text it reads --------------------------------------------------------------------


def test_summarise_reads_every_known_text_column_by_default(home, tmp_path, server):
    frame = pd.DataFrame({"id": ["R1"], "ward": ["Ward 7"], "description": ["Pt fell in the bay."],
                          "actions": ["Obs done."], "causes": ["Wet floor."]})
    path = write_cp1252(frame, tmp_path / "r.csv")
    result = invoke(home, "summarise", str(path), "--out", str(tmp_path / "s.jsonl"), "--server", server.url, "--encoding", "cp1252")
    assert result.exit_code == 0, result.output
    sent = server.requests[-1]["messages"][-1]["content"]
    assert "description: Café worker's £20 note" in sent and "actions: Obs done." in sent and "causes: Wet floor." in sent
    assert "Ward 7" not in sent  # not a report field
    manifest = json.loads(next((home / "runs").iterdir()).joinpath("manifest.json").read_text())
    assert manifest["columns"]["text"] == ["description", "actions", "causes"]


def test_summarise_without_a_known_text_column_names_the_columns(home, tmp_path, server):
    path = tmp_path / "r.csv"
    pd.DataFrame({"id": ["R1"], "free_text": ["Pt fell."], "ward": ["7"]}).to_csv(path, index=False)
    result = invoke(home, "summarise", str(path), "--out", str(tmp_path / "s.jsonl"), "--server", server.url)
    assert result.exit_code == 2 and not server.requests
    assert "no --text-col given and no column is a known report field" in result.output
    assert "columns are: id, free_text, ward" in result.output and "Traceback" not in result.output
    chosen = invoke(home, "summarise", str(path), "--out", str(tmp_path / "s.jsonl"), "--server", server.url, "--text-col", "free_text")
    assert chosen.exit_code == 0, chosen.output


def test_a_cp1252_file_without_encoding_is_a_one_line_error_on_every_command(home, tmp_path, server, gold_files):
    train, test = gold_files
    commands = [
        ["index", str(test)],
        ["label", str(test), "--task", "harm", "--out", str(tmp_path / "l.csv"), "--server", server.url],
        ["summarise", str(test), "--out", str(tmp_path / "s.jsonl"), "--server", server.url],
        ["evaluate", "--task", "harm", "--gold", str(test), "--train", str(train), "--method", "tfidf-lr"],
        ["optimise", "--task", "harm", "--gold", str(test), "--optimizer", "labeled", "--out", str(tmp_path / "o.json")],
    ]
    for args in commands:
        result = invoke(home, *args)
        assert result.exit_code == 2, (args[0], result.output)
        errors = [line for line in result.output.splitlines() if line.startswith("error:")]  # (index's bar is on stderr too)
        assert len(errors) == 1 and result.output.rstrip().endswith(errors[0].rstrip()), (args[0], result.output)
        assert "line 2" in errors[0] and "--encoding cp1252" in errors[0], (args[0], result.output)
    assert not server.requests
    # The config file's encoding serves every command.
    (tmp_path / "incident-lens.toml").write_text('encoding = "cp1252"\n', encoding="utf-8")
    result = invoke(home, "evaluate", "--task", "harm", "--gold", str(test), "--train", str(train), "--method", "tfidf-lr",
                    "--report", str(tmp_path / "rep"))
    assert result.exit_code == 0, result.output


# --- .xlsx through the commands ---------------------------------------------------------------------


def test_an_xlsx_with_numeric_ids_indexes_and_searches(home, tmp_path):
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Export"
    sheet.append(["Incident ID", "description", "harm"])
    for number, (text, harm) in enumerate([("Patient found on the floor beside the bed.", "Low"),
                                           ("Enoxaparin dose given twice in error.", "No harm"),
                                           ("Hickman line site red and swollen.", "Moderate")], start=1001):
        sheet.append([number, text, harm])
    path = tmp_path / "export.xlsx"
    book.save(path)
    result = invoke(home, "index", str(path), "--id-col", "Incident ID", "--meta", "harm", "--sheet", "Export")
    assert result.exit_code == 0, result.output
    assert "3 added" in result.output
    found = invoke(home, "search", "fell out of bed", "-k", "1", "--format", "json")
    assert found.exit_code == 0, found.output
    assert json.loads(found.output)[0]["id"] == "1001"  # not 1001.0
    wrong = invoke(home, "index", str(path), "--id-col", "Incident ID", "--sheet", "Sheet9")
    assert wrong.exit_code == 2 and "no sheet 'Sheet9'; sheets are: Export" in wrong.output
