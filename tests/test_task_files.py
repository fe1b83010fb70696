"""Task files: the built-ins load, user files are found, malformed files name the file and key."""

from __future__ import annotations

import pytest

from incident_lens.errors import UserError
from incident_lens.inputs.task_files import find_task, list_tasks, load_task_file
from incident_lens.workspace import Workspace

GOOD = """
name = "falls"
kind = "multi"
description = "Which fall types happened."
input_fields = ["description"]

[[labels]]
name = "Unwitnessed"
definition = "Nobody saw the fall."

[[labels]]
name = "From bed"
definition = "The patient fell from a bed or trolley."
"""


def test_builtin_tasks_have_the_required_labels():
    tasks = list_tasks()
    assert len(tasks["incident-type"].labels) == 15
    assert tasks["incident-type"].kind == "single" and tasks["incident-type"].label_column == "category"
    assert tasks["harm"].label_names == ["No harm", "Low", "Moderate", "Severe", "Death"]
    assert tasks["cxr-findings"].kind == "findings"
    assert tasks["cxr-findings"].label_names == [
        "Atelectasis", "Cardiomegaly", "Effusion", "Infiltration", "Mass", "Nodule", "Pneumonia", "Pneumothorax",
        "Consolidation", "Edema", "Emphysema", "Fibrosis", "Pleural_Thickening", "Hernia"]
    for task in tasks.values():
        assert all(len(label.definition) > 40 for label in task.labels), task.name


def test_user_task_in_workspace_is_listed_and_found_by_name_or_path(tmp_path):
    ws = Workspace(tmp_path)
    ws.tasks_dir.mkdir(parents=True)
    (ws.tasks_dir / "falls.toml").write_text(GOOD, encoding="utf-8")
    assert "falls" in list_tasks(ws)
    assert find_task("falls", ws).label_names == ["Unwitnessed", "From bed"]
    assert find_task(str(ws.tasks_dir / "falls.toml")).sha256


def test_yaml_task_file(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text("name: t\nkind: single\ndescription: d\ninput_fields: [text]\nlabels:\n  - {name: A, definition: a}\n  - {name: B, definition: b}\n")
    assert load_task_file(path).label_names == ["A", "B"]


@pytest.mark.parametrize("edit, message", [
    (lambda s: s.replace('kind = "multi"', 'kind = "several"'), "key 'kind' is 'several'"),
    (lambda s: s.replace('definition = "Nobody saw the fall."\n', ""), "key 'labels[0].definition' is missing"),
    (lambda s: s.replace('input_fields = ["description"]\n', ""), "key 'input_fields' is missing"),
    (lambda s: s.replace('"From bed"', '"Unwitnessed"'), "names 'Unwitnessed' more than once"),
    (lambda s: "colour = 1\n" + s, "unknown key 'colour'"),
    (lambda s: s + "\ncolour = 1\n", "unknown key 'labels[1].colour'"),
    (lambda s: s.replace('name = "falls"', 'name = "falls'), "cannot be parsed"),
])
def test_malformed_task_file_names_file_and_key(tmp_path, edit, message):
    path = tmp_path / "bad.toml"
    path.write_text(edit(GOOD), encoding="utf-8")
    with pytest.raises(UserError) as err:
        load_task_file(path)
    assert str(path) in str(err.value) and message in str(err.value)


def test_unknown_task_name_lists_known_ones():
    with pytest.raises(UserError, match="unknown task 'nope'; known tasks: cxr-findings, harm, incident-type"):
        find_task("nope")
