"""The one label normaliser: gold files, index metadata and model answers read a value the same way."""

import pytest

from incident_lens.inputs.gold import load_gold
from incident_lens.inputs.task_files import Label, Task
from incident_lens.pipelines.labelling import labels_from_metadata
from programs.labels import LabelError, normalise_labels, normalise_status

SINGLE = Task("harm", "single", "Degree of harm.", ("text",), (Label("No harm", "none"), Label("Low harm", "minor")),
              label_column="harm")
MULTI = Task("tags", "multi", "Tags.", ("text",), (Label("Falls", "a fall"), Label("Medication", "a drug error")))
FINDINGS = Task("cxr", "findings", "Findings.", ("text",), (Label("Effusion", "fluid"), Label("Edema", "oedema")))


@pytest.mark.parametrize(("value", "status"), [("1", "positive"), ("0", "not_mentioned"), ("", "not_mentioned"),
                                               ("Positive", "positive"), (" uncertain ", "uncertain"), ("neg", "negative")])
def test_status_spellings(value, status):
    assert normalise_status(value) == status


def test_chexpert_minus_one_is_refused_with_a_reason():
    with pytest.raises(LabelError, match="CheXpert"):
        normalise_status("-1")


def test_label_names_match_ignoring_case_and_spaces_everywhere(tmp_path):
    assert normalise_labels(SINGLE, "  no HARM ") == "No harm"
    assert normalise_labels(MULTI, "medication; falls") == ["Falls", "Medication"]
    assert normalise_labels(FINDINGS, {"effusion": "1"}) == {"Effusion": "positive", "Edema": "not_mentioned"}
    # The same values through the gold reader and through index metadata (what RAG reads) agree.
    gold_file = tmp_path / "gold.csv"
    gold_file.write_text("id,text,harm\nA,patient fell,no HARM\nB,wrong dose,Low harm\n", encoding="utf-8")
    assert load_gold(gold_file, SINGLE).labels == ["No harm", "Low harm"]
    assert labels_from_metadata(SINGLE, {"harm": "no HARM"}) == "No harm"
    findings_file = tmp_path / "cxr.csv"
    findings_file.write_text("id,text,Effusion,Edema\nA,small effusion,1,0\n", encoding="utf-8")
    assert load_gold(findings_file, FINDINGS).labels == [labels_from_metadata(FINDINGS, {"Effusion": "1", "Edema": "0"})]


def test_a_value_outside_the_task_is_a_label_error_naming_it():
    with pytest.raises(LabelError, match="'Burns' is not a label of task 'harm'"):
        normalise_labels(SINGLE, "Burns")
    with pytest.raises(LabelError, match="'Mass' is not a finding"):
        normalise_labels(FINDINGS, {"Mass": "1"})
