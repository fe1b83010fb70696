"""Reading report files: formats, column mapping and every validation message."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from incident_lens.errors import UserError
from incident_lens.reports import load_reports


def write_csv(path, rows, header="id,description,actions"):
    path.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_csv_parquet_and_jsonl_give_the_same_reports(tmp_path):
    frame = pd.DataFrame({"id": ["007", "8"], "description": ["Pt fell", "Wrong dose"], "actions": ["obs", ""]})
    frame.to_csv(tmp_path / "r.csv", index=False)
    frame.to_parquet(tmp_path / "r.parquet")
    (tmp_path / "r.jsonl").write_text("\n".join(json.dumps(r) for r in frame.to_dict("records")), encoding="utf-8")
    loaded = [load_reports(tmp_path / f"r.{ext}", text_cols=["description"]) for ext in ("csv", "parquet", "jsonl")]
    for reports in loaded:
        assert list(reports.frame["id"]) == ["007", "8"]  # leading zeros kept
        assert list(reports.frame["text"]) == ["Pt fell", "Wrong dose"]


def test_several_text_columns_are_joined_with_their_names(tmp_path):
    path = write_csv(tmp_path / "r.csv", ["1,Pt fell,obs done", "2,Wrong dose,"])
    reports = load_reports(path, text_cols=["description", "actions"])
    assert reports.frame.loc[0, "text"] == "description: Pt fell\n\nactions: obs done"
    assert reports.frame.loc[1, "text"] == "description: Wrong dose"


def test_missing_column_lists_what_exists(tmp_path):
    path = write_csv(tmp_path / "r.csv", ["1,a,b"])
    with pytest.raises(UserError, match=r"r\.csv: column 'narrative' not found; columns are: id, description, actions"):
        load_reports(path, text_cols=["narrative"])


def test_duplicate_ids_are_an_error_naming_them_and_their_rows(tmp_path):
    path = write_csv(tmp_path / "r.csv", ["1,a,", "2,b,", "1,c,", "2,d,"])
    with pytest.raises(UserError, match=r"duplicate ids.*'1' in rows 1, 3; '2' in rows 2, 4"):
        load_reports(path)


def test_empty_text_is_skipped_and_counted(tmp_path):
    path = write_csv(tmp_path / "r.csv", ["1,a,", "2,   ,", "3,c,"])
    reports = load_reports(path)
    assert list(reports.frame["id"]) == ["1", "3"]
    assert reports.skipped_empty == 1
    assert "skipped 1 row(s) with empty text" in reports.warnings[0] and "rows 2" in reports.warnings[0]


def test_long_text_is_truncated_counted_and_flagged(tmp_path):
    path = write_csv(tmp_path / "r.csv", ["1," + "x" * 50 + ",", "2,short,"])
    reports = load_reports(path, max_chars=10)
    assert reports.frame.loc[0, "text"] == "x" * 10
    assert list(reports.frame["truncated"]) == [True, False]
    assert reports.truncated == 1 and "truncated 1 text(s)" in reports.warnings[0]


def test_undecodable_bytes_name_the_line(tmp_path):
    path = tmp_path / "r.csv"
    path.write_bytes(b"id,description\n1,fine\n2,caf\xe9 latin-1\n")
    with pytest.raises(UserError, match=r"r\.csv: line 3 .*not valid utf-8"):
        load_reports(path)


def test_bad_jsonl_line_and_unknown_type_and_missing_file(tmp_path):
    (tmp_path / "r.jsonl").write_text('{"id": 1, "text": "a"}\n{oops\n', encoding="utf-8")
    with pytest.raises(UserError, match=r"r\.jsonl: line 2 is not valid JSON"):
        load_reports(tmp_path / "r.jsonl")
    (tmp_path / "r.xlsx").write_bytes(b"x")
    with pytest.raises(UserError, match="unsupported file type"):
        load_reports(tmp_path / "r.xlsx")
    with pytest.raises(UserError, match="file not found"):
        load_reports(tmp_path / "absent.csv")
