"""Gold files: labels read per task kind, unknown labels refused with their rows, splits recorded and reused."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from incident_lens.errors import UserError
from incident_lens.inputs.gold import load_gold
from incident_lens.inputs.splits import assign_split, load_or_create_split, strata
from incident_lens.inputs.task_files import load_task_file

SINGLE = """
name = "severity"
kind = "single"
description = "How bad."
input_fields = ["description", "actions"]
label_column = "severity"
[[labels]]
name = "No harm"
definition = "None."
[[labels]]
name = "Severe"
definition = "Bad."
"""

MULTI = """
name = "factors"
kind = "multi"
description = "Contributing factors."
input_fields = ["text"]
[[labels]]
name = "staffing"
definition = "Too few staff."
[[labels]]
name = "equipment"
definition = "Kit failed."
[[labels]]
name = "communication"
definition = "Message lost."
"""

FINDINGS = """
name = "cxr"
kind = "findings"
description = "Findings."
input_fields = ["findings", "impression"]
[[labels]]
name = "Effusion"
definition = "Pleural fluid."
[[labels]]
name = "Edema"
definition = "Pulmonary oedema."
"""


def _task(tmp_path: Path, text: str, name: str):
    path = tmp_path / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return load_task_file(path)


def _csv(tmp_path: Path, name: str, rows: list[dict]) -> Path:
    path = tmp_path / name
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_single_label_column_case_is_forgiven_and_fields_are_joined(tmp_path):
    task = _task(tmp_path, SINGLE, "severity")
    path = _csv(tmp_path, "g.csv", [
        {"id": "a", "description": "fell", "actions": "checked", "severity": "no harm "},
        {"id": "b", "description": "died", "actions": "", "severity": "Severe"},
    ])
    gold = load_gold(path, task)
    assert gold.labels == ["No harm", "Severe"]
    assert gold.label_columns == ["severity"]
    assert gold.texts[0] == "description: fell\n\nactions: checked"


def test_single_accepts_a_plain_label_column(tmp_path):
    task = _task(tmp_path, SINGLE, "severity")
    path = _csv(tmp_path, "g.csv", [{"id": "a", "description": "x", "actions": "y", "label": "Severe"}])
    assert load_gold(path, task).labels == ["Severe"]


def test_unknown_labels_are_listed_with_their_rows(tmp_path):
    task = _task(tmp_path, SINGLE, "severity")
    path = _csv(tmp_path, "g.csv", [
        {"id": "a", "description": "x", "actions": "", "severity": "No harm"},
        {"id": "b", "description": "x", "actions": "", "severity": "Catastrophic"},
        {"id": "c", "description": "x", "actions": "", "severity": "Mild"},
        {"id": "d", "description": "x", "actions": "", "severity": "Catastrophic"},
    ])
    with pytest.raises(UserError) as info:
        load_gold(path, task)
    message = str(info.value)
    assert "g.csv" in message and "'severity'" in message
    assert "'Catastrophic' (rows 2, 4)" in message and "'Mild' (row 3)" in message
    assert "No harm" in message  # the allowed labels are listed


def test_blank_single_label_is_an_error_naming_rows(tmp_path):
    task = _task(tmp_path, SINGLE, "severity")
    path = _csv(tmp_path, "g.csv", [{"id": "a", "description": "x", "actions": "", "severity": ""},
                                     {"id": "b", "description": "y", "actions": "", "severity": "Severe"}])
    with pytest.raises(UserError, match="empty in row 1"):
        load_gold(path, task)


def test_missing_label_column_names_the_columns(tmp_path):
    task = _task(tmp_path, SINGLE, "severity")
    path = _csv(tmp_path, "g.csv", [{"id": "a", "description": "x", "actions": "", "harm": "Severe"}])
    with pytest.raises(UserError, match="no label column 'severity' or 'label'.*columns are: id, description, actions, harm"):
        load_gold(path, task)


def test_multi_from_separated_column_and_from_indicator_columns(tmp_path):
    task = _task(tmp_path, MULTI, "factors")
    joined = _csv(tmp_path, "j.csv", [{"id": "1", "text": "t", "label": "communication; Staffing"},
                                       {"id": "2", "text": "t", "label": ""}])
    assert load_gold(joined, task).labels == [("staffing", "communication"), ()]
    indicators = _csv(tmp_path, "i.csv", [{"id": "1", "text": "t", "staffing": "1", "equipment": "0", "communication": "1"},
                                           {"id": "2", "text": "t", "staffing": "0", "equipment": "", "communication": "0"}])
    assert load_gold(indicators, task).labels == [("staffing", "communication"), ()]
    bad = _csv(tmp_path, "b.csv", [{"id": "1", "text": "t", "label": "staffing;weather"}])
    with pytest.raises(UserError, match="'weather' \\(row 1\\)"):
        load_gold(bad, task)


def test_findings_statuses_and_one_zero_columns(tmp_path):
    task = _task(tmp_path, FINDINGS, "cxr")
    path = _csv(tmp_path, "f.csv", [
        {"id": "1", "findings": "f", "impression": "i", "Effusion": "positive", "Edema": "Uncertain"},
        {"id": "2", "findings": "f", "impression": "i", "Effusion": "1", "Edema": "0"},
        {"id": "3", "findings": "f", "impression": "i", "Effusion": "", "Edema": "negative"},
    ])
    assert load_gold(path, task).labels == [
        {"Effusion": "positive", "Edema": "uncertain"},
        {"Effusion": "positive", "Edema": "not_mentioned"},
        {"Effusion": "not_mentioned", "Edema": "negative"},
    ]


def test_findings_bad_status_and_missing_column(tmp_path):
    task = _task(tmp_path, FINDINGS, "cxr")
    bad = _csv(tmp_path, "f.csv", [{"id": "1", "findings": "f", "impression": "i", "Effusion": "maybe", "Edema": ""}])
    with pytest.raises(UserError, match="column 'Effusion'.*'maybe' \\(row 1\\)"):
        load_gold(bad, task)
    missing = _csv(tmp_path, "m.csv", [{"id": "1", "findings": "f", "impression": "i", "Effusion": "1"}])
    with pytest.raises(UserError, match="missing: Edema"):
        load_gold(missing, task)


def _severity_gold(tmp_path: Path, n: int, name: str = "g.csv") -> tuple:
    task = _task(tmp_path, SINGLE, "severity")
    rows = [{"id": f"r{i}", "description": f"report {i}", "actions": "", "severity": "Severe" if i % 5 == 0 else "No harm"}
            for i in range(n)]
    return task, _csv(tmp_path, name, rows)


def test_split_is_stratified_seeded_and_recorded(tmp_path):
    task, path = _severity_gold(tmp_path, 100)
    gold = load_gold(path, task)
    record = tmp_path / "splits" / "s.json"
    split = load_or_create_split(gold, record, seed=7)
    assert split.counts() == {"train": 60, "dev": 20, "test": 20}
    labels = dict(zip(gold.ids, gold.labels))
    assert Counter(labels[i] for i in split.ids("test")) == {"No harm": 16, "Severe": 4}
    saved = json.loads(record.read_text())
    assert saved["seed"] == 7 and saved["gold_sha256"] == gold.sha256 and saved["assignments"] == split.assignments
    other = assign_split(gold.ids, strata(task, gold.labels), seed=8, fractions=split.fractions)
    assert other != split.assignments  # the seed matters


def test_recorded_split_is_reused_even_with_another_seed_and_new_rows(tmp_path):
    task, path = _severity_gold(tmp_path, 60)
    record = tmp_path / "s.json"
    first = load_or_create_split(load_gold(path, task), record, seed=1)
    # The gold file grows: old rows keep their parts, new rows are split, another seed is ignored.
    task, path = _severity_gold(tmp_path, 90)
    second = load_or_create_split(load_gold(path, task), record, seed=2)
    assert all(second.assignments[i] == part for i, part in first.assignments.items())
    assert len(second.assignments) == 90 and second.seed == 1
    assert any("seed 2 requested" in note for note in second.notes)
    assert any("30 new row(s)" in note for note in second.notes)
    assert len(json.loads(record.read_text())["assignments"]) == 90


def test_split_record_of_another_task_is_refused(tmp_path):
    task, path = _severity_gold(tmp_path, 30)
    record = tmp_path / "s.json"
    load_or_create_split(load_gold(path, task), record, seed=1)
    data = json.loads(record.read_text())
    data["task"] = "harm"
    record.write_text(json.dumps(data))
    with pytest.raises(UserError, match="recorded for task 'harm'"):
        load_or_create_split(load_gold(path, task), record, seed=1)


def test_tiny_strata_still_reach_test(tmp_path):
    ids = [f"x{i}" for i in range(400)]
    keys = [f"k{i}" for i in range(400)]  # every row its own stratum
    parts = Counter(assign_split(ids, keys, seed=3, fractions={"train": 0.6, "dev": 0.2, "test": 0.2}).values())
    assert 50 < parts["test"] < 110 and 50 < parts["dev"] < 110
