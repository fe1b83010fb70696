"""Reading report files: formats (Excel included), encodings, column mapping and every validation message."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from incident_lens.errors import UserError
from incident_lens.inputs.report_files import load_reports


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


CP1252_ROWS = [("1", "Patient charged £20 for parking and complained"), ("2", "Café staff gave food to a nil-by-mouth patient")]


@pytest.mark.parametrize("ext, sep", [("csv", ","), ("tsv", "\t"), ("jsonl", None)])
def test_a_cp1252_export_reads_right_with_its_encoding_and_is_a_one_line_error_without(tmp_path, ext, sep):
    path = tmp_path / f"export.{ext}"
    if sep:
        text = f"id{sep}description\n" + "".join(f"{i}{sep}{t}\n" for i, t in CP1252_ROWS)
    else:
        text = "".join(json.dumps({"id": i, "description": t}, ensure_ascii=False) + "\n" for i, t in CP1252_ROWS)
    path.write_bytes(text.encode("cp1252"))
    reports = load_reports(path, encoding="cp1252")
    assert list(reports.frame["text"]) == [t for _, t in CP1252_ROWS]  # "£" and "é" as written
    with pytest.raises(UserError) as caught:
        load_reports(path)
    message = str(caught.value)
    assert "\n" not in message and "not valid utf-8" in message and "--encoding cp1252" in message
    assert (" line 2 " in message) if sep else (" line 1 " in message)  # "£" is on the first report's line


def test_an_unknown_encoding_and_a_utf8_byte_order_mark(tmp_path):
    path = tmp_path / "r.csv"
    path.write_bytes("\ufeffid,description\n1,Pt fell\n".encode("utf-8"))  # Excel's "CSV UTF-8"
    assert list(load_reports(path).frame["id"]) == ["1"]  # the mark does not stick to the first column name
    with pytest.raises(UserError, match="--encoding 'klingon': not an encoding Python knows"):
        load_reports(path, encoding="klingon")


def write_xlsx(path, rows, sheet="Incidents", extra_sheet=None, number_formats=None):
    import openpyxl

    book = openpyxl.Workbook()
    book.active.title = sheet
    for row in rows:
        book.active.append(row)
    for cell, fmt in (number_formats or {}).items():
        book.active[cell].number_format = fmt
    if extra_sheet:
        other = book.create_sheet(extra_sheet[0])
        for row in extra_sheet[1]:
            other.append(row)
    book.save(path)
    return path


def test_xlsx_numbers_dates_and_ids_keep_their_written_form(tmp_path):
    import datetime as dt

    path = write_xlsx(tmp_path / "r.xlsx", [
        ["id", "description", "occurred_at", "score", "flag"],
        [7, "Pt fell", dt.datetime(2024, 1, 2), 1.5, True],
        [8, "Wrong dose", dt.datetime(2024, 1, 3, 10, 30), 2.0, None],
        [None, None, None, None, None],  # a blank row, as Excel leaves them
        [12345678901234, "Big id", None, 3, "x"],
    ], number_formats={"A2": "000"})
    frame = load_reports(path).frame
    assert list(frame["id"]) == ["007", "8", "12345678901234"]  # not 7.0, not 1.23e13; "000" pads
    assert list(frame["occurred_at"]) == ["2024-01-02", "2024-01-03 10:30:00", ""]
    assert list(frame["score"]) == ["1.5", "2", "3"] and list(frame["flag"]) == ["TRUE", "", "x"]
    assert list(frame["row"]) == [1, 2, 3]


def test_xlsx_sheet_choice_and_its_errors(tmp_path):
    path = write_xlsx(tmp_path / "r.xlsx", [["id", "text"], ["a", "first sheet"]],
                      extra_sheet=("Later", [["id", "text"], ["b", "second sheet"]]))
    assert list(load_reports(path).frame["text"]) == ["first sheet"]
    assert list(load_reports(path, sheet="Later").frame["text"]) == ["second sheet"]
    with pytest.raises(UserError, match=r"r\.xlsx: no sheet 'Nope'; sheets are: Incidents, Later; choose with --sheet"):
        load_reports(path, sheet="Nope")
    with pytest.raises(UserError, match=r"--sheet 'Later' applies to \.xlsx files only"):
        load_reports(write_csv(tmp_path / "r.csv", ["1,a,b"]), sheet="Later")
    (tmp_path / "bad.xlsx").write_bytes(b"not a zip")
    with pytest.raises(UserError, match=r"bad\.xlsx: not a readable \.xlsx workbook"):
        load_reports(tmp_path / "bad.xlsx")


def test_bad_jsonl_line_and_unknown_type_and_missing_file(tmp_path):
    (tmp_path / "r.jsonl").write_text('{"id": 1, "text": "a"}\n{oops\n', encoding="utf-8")
    with pytest.raises(UserError, match=r"r\.jsonl: line 2 is not valid JSON"):
        load_reports(tmp_path / "r.jsonl")
    (tmp_path / "r.docx").write_bytes(b"x")
    with pytest.raises(UserError, match=r"unsupported file type '\.docx'; use .*\.xlsx"):
        load_reports(tmp_path / "r.docx")
    with pytest.raises(UserError, match="file not found"):
        load_reports(tmp_path / "absent.csv")


@pytest.mark.parametrize("ext", ["csv", "parquet", "jsonl", "xlsx"])
def test_streamed_chunks_equal_the_whole_file(tmp_path, monkeypatch, ext):
    from incident_lens.inputs import report_files as reports_module
    from incident_lens.inputs.report_files import open_reports

    rows = [{"id": f"{n:03d}", "description": "" if n % 4 == 1 else f"report {n}", "harm": str(n % 3), "count": n} for n in range(11)]
    frame = pd.DataFrame(rows)
    path = tmp_path / f"r.{ext}"
    if ext == "csv":
        frame.to_csv(path, index=False)
    elif ext == "parquet":
        frame.to_parquet(path)
    elif ext == "xlsx":
        write_xlsx(path, [list(frame.columns), *frame.itertuples(index=False)])
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
    from incident_lens.inputs import report_files as reports_module
    from incident_lens.inputs.report_files import open_reports

    monkeypatch.setattr(reports_module, "CHUNK_ROWS", 2)
    path = write_csv(tmp_path / "r.csv", ["1,a,", "2,b,", "3,c,", "4,d,", "2,e,"])
    with pytest.raises(UserError, match=r"duplicate ids in column 'id' \(1 ids\): '2' in rows 2, 5"):
        open_reports(path)
    path = write_csv(tmp_path / "r.csv", ["1,a,", "2,b,", "3,c,", " ,d,"])
    with pytest.raises(UserError, match=r"column 'id' is empty in row\(s\) 4"):
        open_reports(path)
