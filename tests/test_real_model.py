"""The whole LLM path through the real bundled model (SmolLM2-135M-Instruct, llama.cpp, real MiniLM, real Chroma).

What is asserted could fail with a broken prompt, template, grammar or pipeline: every answer is in the
task's label set, the run records the model's sha256, evidence is checked, a compiled program survives
save and load, and nothing tries the network. Never the model's exact words (a 135M model's labels are
weak; quality is measured in bench/, not here). `make install` installs the model; without it these fail.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from incident_lens.cli import app
from incident_lens.inputs.task_files import find_task
from incident_lens.llm.default_model import PIP_INSTALL, SHA256, bundled_file

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]
GOLD = REPO / "data" / "gold"
runner = CliRunner()

MULTI_TASK = """
name = "factors"
kind = "multi"
description = "Contributing factors named in a patient-safety incident report."
input_fields = ["text"]
label_column = "factors"
[[labels]]
name = "staffing"
definition = "Too few staff, or staff without the right skills, on the shift."
[[labels]]
name = "equipment"
definition = "A device or piece of equipment failed, was missing or was used wrongly."
[[labels]]
name = "communication"
definition = "Information was not passed on, was misunderstood or was written down wrongly."
"""
MULTI_ROWS = [
    ("F1", "Ward was two nurses short overnight and observations were missed.", "staffing"),
    ("F2", "Infusion pump alarm did not sound when the line occluded.", "equipment"),
    ("F3", "Handover did not mention the new allergy, so penicillin was prescribed.", "communication"),
    ("F4", "Agency nurse unfamiliar with the pump set the wrong rate; only one registered nurse on duty.", "staffing; equipment"),
    ("F5", "Bed rails were broken and the request for repair was never passed to estates.", "equipment; communication"),
    ("F6", "Night shift ran with a single healthcare assistant and the call bell was not answered.", "staffing"),
    ("Q1", "Only one nurse for twelve patients; the syringe driver battery ran flat unnoticed.", ""),
    ("Q2", "The discharge letter gave the wrong warfarin dose because the phone message was misheard.", ""),
]


@pytest.fixture(autouse=True)
def no_bundled_model():
    """Overrides conftest's fixture of the same name: these tests use the real install."""


@pytest.fixture(scope="module", autouse=True)
def installed():
    assert bundled_file() is not None, f"the bundled model is not installed: run `make install` (or `{PIP_INSTALL}`)"


def _cli(home: Path, *args: str):
    result = runner.invoke(app, ["--home", str(home), *args])
    assert result.exit_code == 0, result.output
    return result


def _rows(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _last_manifest(home: Path, command: str) -> dict:
    runs = sorted((home / "runs").glob(f"*-{command}"))
    return json.loads((runs[-1] / "manifest.json").read_text())


def _split_gold(path: Path, tmp_path: Path, n_index: int, n_label: int) -> tuple[Path, Path]:
    """The first rows of a gold file to index (labelled neighbours), the next few to label."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        rows, fields = list(reader), reader.fieldnames
    out = []
    for name, part in (("indexed", rows[:n_index]), ("to-label", rows[n_index:n_index + n_label])):
        target = tmp_path / f"{path.stem}-{name}.csv"
        with target.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=fields)
            writer.writeheader()
            writer.writerows(part)
        out.append(target)
    return out[0], out[1]


def _answers(task, rows: list[dict]) -> list:
    if task.kind == "single":
        return [r["label"] for r in rows]
    if task.kind == "multi":
        return [r["labels"].split(";") for r in rows]
    return [{name: r[name] for name in task.label_names} for r in rows]


def _in_label_set(task, answer) -> bool:
    if task.kind == "single":
        return answer in task.label_names
    if task.kind == "multi":
        return bool(answer) and set(answer) <= set(task.label_names)
    return set(answer) == set(task.label_names) and set(answer.values()) <= {"positive", "negative", "uncertain", "not_mentioned"}


@pytest.mark.parametrize("kind", ["single", "multi", "findings"])
def test_zero_shot_and_rag_label_every_kind_inside_the_label_set(kind, home, tmp_path):
    if kind == "multi":
        task_file = tmp_path / "factors.toml"
        task_file.write_text(MULTI_TASK, encoding="utf-8")
        task_arg, text_cols = str(task_file), ["text"]
        indexed, to_label = tmp_path / "factors-indexed.csv", tmp_path / "factors-to-label.csv"
        for target, rows in ((indexed, MULTI_ROWS[:6]), (to_label, MULTI_ROWS[6:7])):
            with target.open("w", newline="", encoding="utf-8") as handle:
                csv.writer(handle).writerows([("id", "text", "factors"), *rows])
        meta = ["factors"]
    else:
        task_arg = {"single": "harm", "findings": "cxr-findings"}[kind]
        task = find_task(task_arg)
        indexed, to_label = _split_gold(GOLD / f"{task_arg}.csv", tmp_path, n_index=12, n_label=1)
        text_cols = list(task.input_fields)
        meta = [task.label_column] if kind == "single" else list(task.label_names)
    task = find_task(task_arg)
    text_args = [a for col in text_cols for a in ("--text-col", col)]
    _cli(home, "index", str(indexed), *text_args, *[a for m in meta for a in ("--meta", m)], "--collection", f"gold-{kind}")
    for program in ("zero-shot", "rag"):
        out = tmp_path / f"{kind}-{program}.csv"
        _cli(home, "label", str(to_label), "--task", task_arg, *text_args, "--program", program,
             "--collection", f"gold-{kind}", "--out", str(out))
        rows = _rows(out)
        assert [r["status"] for r in rows] == ["ok"]
        assert all(_in_label_set(task, answer) for answer in _answers(task, rows))
        assert all(r["evidence_verified"] in ("true", "false") for r in rows)
        manifest = _last_manifest(home, "label")
        assert manifest["model"]["sha256"] == SHA256
        assert manifest["program"]["name"] == program


def test_summarise_one_report_with_checked_evidence(home, tmp_path):
    out = tmp_path / "summary.jsonl"
    reports = REPO / "data" / "demo" / "incidents.csv"
    _cli(home, "summarise", str(reports), "--id", "INC-000001", "--text-col", "description", "--out", str(out))
    record = json.loads(out.read_text(encoding="utf-8").splitlines()[0])
    assert record["id"] == "INC-000001" and record["status"] == "ok"
    parts = record["summary"]
    assert set(parts) == {"what_happened", "patient_outcome", "contributing_factors", "immediate_actions", "reviewer_checks"}
    report_text = next(r["description"] for r in csv.DictReader(reports.open(encoding="utf-8")) if r["id"] == "INC-000001")
    for part in parts.values():
        # A quote marked verified really is in the report (the check is not a formality).
        if part["evidence_verified"]:
            assert all(" ".join(q.lower().split()).strip(" .\"'") in " ".join(report_text.lower().split()) for q in part["evidence"])


def test_compile_save_load_and_run_a_program(home, tmp_path):
    # 20 gold rows: a split of about 12 / 4 / 4, so the dev score before and after is eight model calls.
    small_gold, _ = _split_gold(GOLD / "harm.csv", tmp_path, n_index=20, n_label=0)
    out = tmp_path / "harm.json"
    _cli(home, "optimise", "--task", "harm", "--gold", str(small_gold), "--optimizer", "labeled", "--out", str(out))
    meta = json.loads(out.with_name("harm.meta.json").read_text())
    assert meta["model"]["sha256"] == SHA256 and meta["demos"] == 4 and meta["contains_source_text"] is True
    assert meta["dev_before"]["n"] > 0 and meta["dev_after"]["n"] == meta["dev_before"]["n"]
    _, to_label = _split_gold(GOLD / "harm.csv", tmp_path, n_index=20, n_label=1)
    labels = tmp_path / "compiled-labels.csv"
    _cli(home, "label", str(to_label), "--task", "harm", "--program", str(out), "--out", str(labels))
    rows = _rows(labels)
    assert [r["status"] for r in rows] == ["ok"] and all(r["label"] in find_task("harm").label_names for r in rows)
    assert _last_manifest(home, "label")["program"]["sha256"]


def test_real_labelling_call_opens_no_connection(home, tmp_path):
    """A fresh process with every non-loopback connection made to fail: labelling still works and tried nothing."""
    _, to_label = _split_gold(GOLD / "harm.csv", tmp_path, n_index=0, n_label=1)
    out = tmp_path / "offline.csv"
    script = f"""
import socket, sys
tried = []
real_connect, real_getaddrinfo = socket.socket.connect, socket.getaddrinfo
def connect(self, address):
    if isinstance(address, tuple) and address[0] not in ("127.0.0.1", "::1", "localhost"):
        tried.append(address[0]); raise OSError("network refused in test")
    return real_connect(self, address)
def getaddrinfo(host, *args, **kwargs):
    if host not in ("127.0.0.1", "::1", "localhost", None):
        tried.append(host); raise OSError("name lookup refused in test")
    return real_getaddrinfo(host, *args, **kwargs)
socket.socket.connect, socket.getaddrinfo = connect, getaddrinfo
from incident_lens.cli import main
sys.argv = ["incident-lens", "--home", {str(home)!r}, "label", {str(to_label)!r}, "--task", "harm", "--out", {str(out)!r}]
try:
    main()
except SystemExit as exc:
    assert not exc.code, exc.code
from incident_lens import offline
assert tried == [] and offline.blocked_attempts() == [], (tried, offline.blocked_attempts())
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-2000:]
    assert [r["status"] for r in _rows(out)] == ["ok"]
