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


@pytest.mark.parametrize("ext", ["csv", "parquet", "jsonl"])
def test_streamed_chunks_equal_the_whole_file(tmp_path, monkeypatch, ext):
    from incident_lens import reports as reports_module
    from incident_lens.reports import open_reports

    rows = [{"id": f"{n:03d}", "description": "" if n % 4 == 1 else f"report {n}", "harm": str(n % 3), "count": n} for n in range(11)]
    frame = pd.DataFrame(rows)
    path = tmp_path / f"r.{ext}"
    if ext == "csv":
        frame.to_csv(path, index=False)
    elif ext == "parquet":
        frame.to_parquet(path)
    else:
        path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    whole = load_reports(path).frame
    monkeypatch.setattr(reports_module, "CHUNK_ROWS", 3)  # 11 rows: four chunks, blanks in several
    stream = open_reports(path)
    chunks = list(stream.chunks())
    assert len(chunks) == 4 and len(stream) == len(whole) == 8 and stream.skipped_empty == 3
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), whole)
    assert list(whole["row"]) == [n + 1 for n in range(11) if n % 4 != 1]  # file rows, blanks counted
    assert list(whole["count"]) == [str(n) for n in range(11) if n % 4 != 1]  # numbers as written, not 7.0
    only = pd.concat(open_reports(path).chunks(["harm"]), ignore_index=True)
    assert list(only.columns) == ["id", "text", "truncated", "row", "harm"]
    limited = open_reports(path, limit=5)
    assert len(limited) == 5 and list(pd.concat(limited.chunks(), ignore_index=True)["id"]) == list(whole["id"][:5])


def test_duplicate_id_in_a_later_chunk_is_found_before_any_chunk_is_read(tmp_path, monkeypatch):
    from incident_lens import reports as reports_module
    from incident_lens.reports import open_reports

    monkeypatch.setattr(reports_module, "CHUNK_ROWS", 2)
    path = write_csv(tmp_path / "r.csv", ["1,a,", "2,b,", "3,c,", "4,d,", "2,e,"])
    with pytest.raises(UserError, match=r"duplicate ids in column 'id' \(1 ids\): '2' in rows 2, 5"):
        open_reports(path)
    path = write_csv(tmp_path / "r.csv", ["1,a,", "2,b,", "3,c,", " ,d,"])
    with pytest.raises(UserError, match=r"column 'id' is empty in row\(s\) 4"):
        open_reports(path)
