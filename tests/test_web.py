"""The web app through HTTP (starlette's TestClient) on a small real index: search, report, themes, review, errors."""

from __future__ import annotations

import csv
import json
import logging

import pytest
from starlette.testclient import TestClient

from web_fixtures import build_small_index, demo_rows, write_queue


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, embedder):
    return build_small_index(tmp_path_factory.mktemp("web"), embedder)


@pytest.fixture(scope="module")
def service(workspace):
    from incident_lens.config import Settings
    from incident_lens.web.service import SearchService

    return SearchService.open(Settings(home=workspace), "incidents")


def make_client(workspace, service, queues=(), **options) -> TestClient:
    from incident_lens.config import Settings
    from incident_lens.web.app import WebConfig, create_app

    return TestClient(create_app(WebConfig(Settings(home=workspace), queues=list(queues), **options), service=service))


@pytest.fixture
def client(workspace, service):
    return make_client(workspace, service)


def hit_ids(html: str) -> list[str]:
    import re

    return re.findall(r'class="id" href="/report/([^"?]+)', html)


def test_search_runs_from_the_url_with_filters_and_highlights_the_passage(client):
    rows = demo_rows().set_index("id")
    page = client.get("/search", params={"q": "patient fell", "k": "5"})
    assert page.status_code == 200
    ids = hit_ids(page.text)
    assert 1 <= len(ids) <= 5 and "<mark>" in page.text
    assert "/search?q=patient+fell&amp;mode=hybrid&amp;k=5" in page.text  # the shareable link
    level = rows.loc[ids[0], "harm"]
    filtered = client.get("/search", params={"q": "patient fell", "k": "10", f"f.harm": level})
    found = hit_ids(filtered.text)
    assert found and all(rows.loc[i, "harm"] == level for i in found)
    typed = client.get("/search", params={"q": "patient fell", "where": f"harm!={level}", "mode": "lexical"})
    assert all(rows.loc[i, "harm"] != level for i in hit_ids(typed.text))
    dated = client.get("/search", params={"q": "patient fell", "since": "2024-01-20", "until": "2024-01-31"})
    assert all("2024-01-20" <= rows.loc[i, "occurred_at"] <= "2024-01-31" for i in hit_ids(dated.text))
    assert f'<option value="{level}"' in page.text  # drop-down from the index's metadata


@pytest.mark.parametrize("params, message", [
    ({"q": "x" * 2001}, "at most 2,000"),
    ({"q": "fall", "mode": "fuzzy"}, "choose one of dense, lexical, hybrid"),
    ({"q": "fall", "k": "0"}, "whole number from 1 to 100"),
    ({"q": "fall", "since": "2024-13-01"}, "give a date as YYYY-MM-DD"),
    ({"q": "fall", "since": "2024-03-01", "until": "2024-01-01"}, "is after until"),
    ({"q": "fall", "f.ward": "3"}, "unknown filter field &#39;ward&#39;"),
    ({"q": "fall", "where": "nonsense"}, "expected FIELD=VALUE"),
    ({"q": "fall", "where": "colour=red"}, "unknown filter field &#39;colour&#39;"),
])
def test_bad_search_input_is_one_message_on_the_page(client, params, message):
    page = client.get("/search", params=params)
    assert page.status_code == 400
    assert message in page.text and 'class="problem"' in page.text
    assert "Traceback" not in page.text and not hit_ids(page.text)


def test_report_page_shows_full_text_and_similar_incidents(client):
    rows = demo_rows().set_index("id")
    page = client.get("/report/INC-000003", params={"q": "patient"})
    assert page.status_code == 200
    first_words = " ".join(rows.loc["INC-000003", "description"].split()[:3])
    assert first_words.split()[0] in page.text and "Similar incidents" in page.text
    similar = hit_ids(page.text.split("Similar incidents")[1])
    assert len(similar) == 8 and "INC-000003" not in similar
    missing = client.get("/report/INC-999999")
    assert missing.status_code == 404 and "no report with id &#39;INC-999999&#39;" in missing.text


def test_an_unexpected_failure_is_a_plain_page_and_its_message_stays_out_of_the_log(workspace, service, monkeypatch, caplog):
    client = make_client(workspace, service)
    client.app.state.service = type("Broken", (), {"fields": service.fields, "date_field": service.date_field, "choices": {},
                                                   "collection": "incidents", "count": lambda self: 1,
                                                   "search": lambda self, p: (_ for _ in ()).throw(ValueError("Mrs Smith fell at home"))})()
    with caplog.at_level(logging.ERROR):
        page = TestClient(client.app, raise_server_exceptions=False).get("/search", params={"q": "fell"})
    assert page.status_code == 500 and "Mrs Smith" not in page.text and "Traceback" not in page.text
    assert "ValueError" in caplog.text and "Mrs Smith" not in caplog.text


def test_access_log_drops_query_strings_and_other_hosts_get_a_warning():
    from incident_lens.web.server import NoQueryStrings, exposure_warning

    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5000", "GET", "/search?q=Mrs+Smith+fell", "1.1", 200), None)
    NoQueryStrings().filter(record)
    assert "Smith" not in record.getMessage() and "/search?[query withheld]" in record.getMessage()
    assert exposure_warning("127.0.0.1") is None and exposure_warning("localhost") is None and exposure_warning("::1") is None
    assert "other machines" in exposure_warning("0.0.0.0")


def test_themes_page_empty_state_then_shows_the_last_themes_run(workspace, service):
    from incident_lens.config import Settings
    from incident_lens.pipelines.themes import fit_themes_job, latest_path, record_latest
    from incident_lens.themes.fitting import FitSettings
    from incident_lens.web.themes_routes import shown_themes

    client = make_client(workspace, service)
    empty = client.get("/themes")
    assert empty.status_code == 200 and "No themes yet" in empty.text and "incident-lens themes" in empty.text
    settings = Settings(home=workspace)
    run = fit_themes_job(settings, "incidents", fit=FitSettings(min_size=5, min_samples=2, dims=5))
    path = record_latest(settings, run)
    try:
        assert path == latest_path(settings) and run.model.themes
        shown = client.get("/themes").text
        payload = json.loads(path.read_text(encoding="utf-8"))
    finally:
        path.unlink()
    for theme in run.rows():
        assert f">{theme['id']}<" in shown and theme["representatives"][0] in shown
    assert f"reports in no theme: {run.in_no_theme * 100:.1f} %" in shown
    # A flagged theme (as `emerging` writes it) goes first, whatever its size, with its weekly sparkline.
    smallest = min(payload["themes"], key=lambda t: t["size"])["id"]
    payload["emerging"] = {"signals": [{"theme": smallest, "flagged": True, "new": False, "a": 4, "prr": 3.0, "weekly": [0, 1, 4]}]}
    ordered = shown_themes(payload)
    assert ordered[0]["id"] == smallest and ordered[0]["emerging"] and "<svg" in ordered[0]["sparkline"]


def decide(client, slug, key, version, action, new=""):
    return client.post(f"/review/{slug}/item/{key}", data={"version": str(version), "action": action, "new": new},
                       follow_redirects=False)


def test_review_decisions_are_logged_applied_and_survive_a_restart(workspace, service, tmp_path):
    rows = demo_rows()
    queue_path = write_queue(tmp_path / "queue.csv", rows, count=3)
    client = make_client(workspace, service, [queue_path])
    (slug,) = client.app.state.queues
    assert "give your name" not in client.get(f"/review/{slug}").text and "Your name" in client.get(f"/review/{slug}").text
    assert client.post(f"/review/{slug}", data={"reviewer": " "}).status_code == 400
    client.post(f"/review/{slug}", data={"reviewer": "Dr Test"})
    first = client.get(f"/review/{slug}")
    assert first.url.path.endswith("/item/INC-000001") and "<mark>" in first.text  # evidence marked in the report
    assert decide(client, slug, "INC-000001", 0, "accept").status_code == 303
    stale = decide(client, slug, "INC-000001", 0, "correct", "No harm")  # a second tab still showing version 0
    assert stale.status_code == 409 and "another tab" in stale.text and "nothing was overwritten" in stale.text
    assert decide(client, slug, "INC-000002", 0, "correct", "").status_code == 400
    decide(client, slug, "INC-000002", 0, "correct", "Severe")

    queue = client.app.state.queues[slug]
    audit = [json.loads(line) for line in queue.audit_path.read_text().splitlines()]
    assert [(a["item"], a["action"], a["reviewer"]) for a in audit] == [("INC-000001", "accept", "Dr Test"), ("INC-000002", "correct", "Dr Test")]
    suggested = list(csv.DictReader(queue_path.open()))[0]["suggested"]
    assert audit[0]["old"] == rows.loc[0, "harm"] and audit[0]["new"] == suggested and audit[1]["new"] == "Severe"
    corrected = {r["id"]: r for r in csv.DictReader(queue.corrected_path.open())}
    assert corrected["INC-000001"]["corrected"] == suggested and corrected["INC-000001"]["decision"] == "accepted"
    assert corrected["INC-000002"]["corrected"] == "Severe" and corrected["INC-000003"]["decision"] == "pending"
    assert corrected["INC-000003"]["corrected"] == "" and corrected["INC-000001"]["reason"] == "student disagrees"
    # The corrected queue is what `distil --corrections` reads: decided rows only.
    from incident_lens.pipelines.distil import read_corrections
    from incident_lens.inputs.task_files import find_task

    assert read_corrections(queue.corrected_path, find_task("harm")) == {"INC-000001": suggested, "INC-000002": "Severe"}

    # A kill mid-line leaves half an entry; a restarted server drops it and comes back with the same state.
    with queue.audit_path.open("a") as handle:
        handle.write('{"item": "INC-000003", "act')
    restarted = make_client(workspace, service, [queue_path])
    restarted.post(f"/review/{slug}", data={"reviewer": "Dr Test"})
    assert restarted.get(f"/review/{slug}").url.path.endswith("/item/INC-000003")
    again = restarted.app.state.queues[slug]
    assert again.state("INC-000001").version == 1 and again.value(again.item("INC-000002")) == "Severe"
    assert len(again.audit_path.read_text().splitlines()) == 2


def test_review_of_a_labels_file_checks_corrections_against_the_task_and_keeps_its_columns(workspace, service, tmp_path):
    from incident_lens.pipelines.reviewing import ReviewQueue
    from incident_lens.config import Settings

    header = ["id", "label", "evidence", "evidence_verified", "unsupported_evidence", "rationale", "status", "truncated",
              "prompt_tokens", "completion_tokens", "latency_s"]
    labels = tmp_path / "harm-labels.csv"
    with labels.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerow(["INC-000001", "No harm", '["given over the phone"]', "true", "[]", "r", "ok", "false", 10, 2, "0.1"])
        writer.writerow(["INC-000002", "Low", "[]", "false", "[]", "r", "ok", "false", 10, 2, "0.1"])
    client = make_client(workspace, service, [labels], task="harm")
    (slug,) = client.app.state.queues
    client.post(f"/review/{slug}", data={"reviewer": "R"})
    bad = decide(client, slug, "INC-000001", 0, "correct", "catastrophic-ish")
    assert bad.status_code == 400 and "is not a label of task" in bad.text
    fixed = decide(client, slug, "INC-000001", 0, "correct", "  moderate ")  # case is forgiven, the task's spelling kept
    assert fixed.status_code == 303, fixed.text[-600:]
    queue = ReviewQueue.open(Settings(home=workspace).workspace, labels)
    with queue.corrected_path.open() as handle:
        written = list(csv.reader(handle))
    assert written[0] == header and written[1][:2] == ["INC-000001", "Moderate"] and written[2][:2] == ["INC-000002", "Low"]


def test_bad_queue_files_are_one_line_errors(workspace, tmp_path):
    from incident_lens.config import Settings
    from incident_lens.errors import UserError
    from incident_lens.pipelines.reviewing import ReviewQueue

    ws = Settings(home=workspace).workspace
    bad = tmp_path / "bad.csv"
    bad.write_text("report,label\nA,b\n")
    with pytest.raises(UserError, match="no 'id' column"):
        ReviewQueue.open(ws, bad)
    bad.write_text("id,current\nA,x\nA,y\n")
    with pytest.raises(UserError, match="appears twice"):
        ReviewQueue.open(ws, bad)
    with pytest.raises(UserError, match="not found"):
        ReviewQueue.open(ws, tmp_path / "missing.csv")


@pytest.mark.slow
def test_serve_command_answers_on_loopback_and_logs_no_query_or_report_text(workspace, tmp_path):
    """`incident-lens serve` as a process: a search through HTTP, then its log checked for the query and the text."""
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    from web_fixtures import free_port

    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    log = tmp_path / "serve.log"
    with log.open("w") as handle:
        process = subprocess.Popen([sys.executable, "-c", "from incident_lens.cli import main; main()", "--home", str(workspace),
                                    "serve", "--port", str(port)], stdout=handle, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, log.read_text()
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                assert time.monotonic() < deadline, "serve did not start listening"
                time.sleep(0.3)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/search?q=zebrafinch+unwitnessed+fall&k=3") as answer:
            page = answer.read().decode()
        assert answer.status == 200 and 'class="id"' in page
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
    written = log.read_text()
    assert "serving at http://127.0.0.1:" in written and "GET /search?[query withheld]" in written
    assert "zebrafinch" not in written and "warning" not in written


def test_a_decision_posted_from_another_site_is_refused(workspace, service, tmp_path):
    queue_path = write_queue(tmp_path / "queue.csv", demo_rows(), count=1)
    client = make_client(workspace, service, [queue_path])
    (slug,) = client.app.state.queues
    client.post(f"/review/{slug}", data={"reviewer": "R"})
    forged = client.post(f"/review/{slug}/item/INC-000001", data={"version": "0", "action": "accept"},
                         headers={"origin": "http://elsewhere.example"})
    assert forged.status_code == 400 and "another site" in forged.text
    assert not client.app.state.queues[slug].audit_path.exists()
