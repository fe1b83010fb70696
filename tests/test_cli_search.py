"""`incident-lens index`, `search` and `similar` through the CLI, asserting on files written."""

from __future__ import annotations

import csv
import io
import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from incident_lens.cli import app

ROWS = [
    ("INC-1", "2024-01-05", "Ward 3", "Falls", "No harm", "Patient found on the floor beside the bed; unwitnessed fall.", "Bed rails checked"),
    ("INC-2", "2024-02-10", "Ward 5", "Medication", "Low harm", "Enoxaparin 40 mg given twice in error.", "Pharmacy informed"),
    ("INC-3", "2024-03-01", "ICU", "Infection", "Moderate harm", "Hickman line site red and swollen.", "Line removed, cultures sent"),
    ("INC-4", "2024-03-15", "Ward 3", "Falls", "Low harm", "Patient slipped in the bathroom and bruised her hip.", ""),
    ("INC-5", "2024-04-02", "Theatre", "Identification", "No harm", "Wrong patient wristband applied at admission.", "Wristband replaced"),
]


def write_reports(folder):
    path = folder / "incidents.csv"
    pd.DataFrame(ROWS, columns=["id", "occurred_at", "location", "category", "harm", "description", "actions"]).to_csv(path, index=False)
    return path


@pytest.fixture
def reports(tmp_path):
    return write_reports(tmp_path)


@pytest.fixture(scope="module")
def indexed(tmp_path_factory):
    """A workspace with the reports indexed once, for tests that only read."""
    folder = tmp_path_factory.mktemp("indexed")
    home = folder / "ws"
    result = run(home, *index_args(write_reports(folder)))
    assert result.exit_code == 0, result.output
    return home


def run(home, *args):
    result = CliRunner().invoke(app, ["--home", str(home), *args])
    return result


def index_args(path):
    return ["index", str(path), "--text-col", "description", "--text-col", "actions", "--meta", "occurred_at", "--meta", "location",
            "--meta", "category", "--meta", "harm"]


def test_index_writes_the_index_and_a_run_record_and_is_idempotent(home, reports):
    first = run(home, *index_args(reports))
    assert first.exit_code == 0, first.output
    assert "5 added" in first.output
    collection = home / "index" / "incidents"
    described = json.loads((collection / "index.json").read_text())
    assert described["count"] == 5 and described["date_field"] == "occurred_at"
    assert described["meta_fields"] == ["occurred_at", "location", "category", "harm"]
    assert described["embedding"]["name"] == "all-MiniLM-L6-v2" and len(described["embedding"]["fingerprint"]) == 64
    assert (collection / "lexical.npz").is_file() and not (collection / "lexical.stale").exists()
    manifests = list(home.glob("runs/*-index*/manifest.json"))
    assert len(manifests) == 1
    record = json.loads(manifests[0].read_text())
    assert record["status"] == "ok" and record["summary"]["added"] == 5 and record["inputs"]["reports"]["sha256"]
    assert "Enoxaparin" not in manifests[0].read_text()  # no report text in provenance

    again = run(home, *index_args(reports))
    assert again.exit_code == 0 and "0 added" in again.output and "5 unchanged" in again.output
    (second,) = set(home.glob("runs/*-index*/manifest.json")) - set(manifests)
    assert json.loads(second.read_text())["summary"]["unchanged"] == 5


def test_search_formats_and_filters(indexed):
    home = indexed
    as_json = run(home, "search", "enoxaparin", "-k", "3", "--format", "json")
    assert as_json.exit_code == 0, as_json.output
    hits = json.loads(as_json.output)
    assert hits[0]["id"] == "INC-2" and hits[0]["metadata"]["harm"] == "Low harm" and len(hits) == 3
    assert "actions: Pharmacy informed" in hits[0]["text"]  # both text fields, under their names

    as_csv = run(home, "search", "patient fell", "--where", "location=Ward 3", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.output)))
    assert {r["id"] for r in rows} == {"INC-1", "INC-4"} and rows[0]["location"] == "Ward 3"

    dated = json.loads(run(home, "search", "patient", "--since", "2024-03-01", "--until", "2024-03-31", "--format", "json").output)
    assert {h["id"] for h in dated} == {"INC-3", "INC-4"}
    excluded = json.loads(run(home, "search", "patient", "--where", "harm in No harm,Low harm", "--where", "category!=Falls", "--format", "json").output)
    assert {h["id"] for h in excluded} == {"INC-2", "INC-5"}

    table = run(home, "search", "hickman line", "-k", "2", "--mode", "lexical")
    assert table.exit_code == 0 and "INC-3" in table.output and "(lexical)" in table.output


def test_similar_leaves_out_the_report_itself(indexed):
    result = run(indexed, "similar", "INC-1", "-k", "2", "--format", "json")
    assert result.exit_code == 0, result.output
    found = [h["id"] for h in json.loads(result.output)]
    assert "INC-1" not in found and len(found) == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["similar", "INC-99"], "error: id 'INC-99' is not in index 'incidents'"),
        (["search", "   "], "error: empty query"),
        (["search", "fall", "--where", "ward=3"], "error: unknown filter field 'ward'"),
        (["search", "fall", "--where", "harm"], "error: filter 'harm'"),
        (["search", "fall", "--since", "01/02/2024"], "error: since '01/02/2024'"),
        (["search", "fall", "--mode", "fuzzy"], "error: search mode 'fuzzy'"),
        (["search", "fall", "--format", "xml"], "error: --format 'xml'"),
        (["search", "fall", "--collection", "other"], "error: no index 'other'"),
    ],
)
def test_bad_requests_are_one_line_errors(indexed, args, message):
    result = run(indexed, *args)
    assert result.exit_code == 2
    assert result.output.strip().startswith(message) and len(result.output.strip().splitlines()) == 1


def test_index_with_a_missing_column_is_a_one_line_error(home, reports):
    result = run(home, "index", str(reports), "--meta", "ward")
    assert result.exit_code == 2 and "column 'ward' not found" in result.output
    assert not (home / "index" / "incidents").exists()  # checked before the index is created
