"""The web app in a real headless browser (Debian's chromium driven by Playwright): search, report, themes,
and a review queue worked through with the keyboard; the audit log and corrected file checked afterwards.

`make test` installs chromium when it is missing (as root). Screenshots of the search, report and review
pages go to the test's folder, and also to $INCIDENT_LENS_SCREENSHOTS when that names a folder.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import threading
import time
from pathlib import Path

import pytest

from web_fixtures import build_small_index, demo_rows, free_port, write_queue

CHROMIUM = Path(os.environ.get("INCIDENT_LENS_CHROMIUM", "/usr/bin/chromium"))

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no {CHROMIUM}: install Debian's chromium (`make test` does, as root) "
                       "or set INCIDENT_LENS_CHROMIUM to a chromium binary"),
]


@pytest.fixture(scope="module")
def served(tmp_path_factory, embedder):
    """The app on a free loopback port, served by uvicorn in a thread, with two queues over the small index."""
    from incident_lens.config import Settings
    from incident_lens.web.app import WebConfig, create_app
    from incident_lens.web.server import make_server

    folder = tmp_path_factory.mktemp("browser")
    home = build_small_index(folder, embedder)
    rows = demo_rows()
    queues = [write_queue(folder / "harm-queue.csv", rows, count=3), write_queue(folder / "second-queue.csv", rows, count=2)]
    app = create_app(WebConfig(Settings(home=home), queues=queues))
    port = free_port()
    server = make_server(app, "127.0.0.1", port, log_level="warning")
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    yield {"url": f"http://127.0.0.1:{port}", "app": app, "folder": folder, "queues": queues, "rows": rows}
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        yield chromium
        chromium.close()


def screenshot(page, folder: Path, name: str) -> None:
    path = folder / name
    page.screenshot(path=str(path), full_page=True)
    target = os.environ.get("INCIDENT_LENS_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(target) / name)


def test_search_report_and_themes_in_the_browser(served, browser):
    base, rows = served["url"], served["rows"].set_index("id")
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    page.goto(f"{base}/")
    page.fill("#q", "patient fell on the ward")
    page.press("#q", "Enter")
    page.wait_for_selector("li.hit")
    assert "q=patient+fell+on+the+ward" in page.url  # the search is in the address, so the link can be shared
    assert page.locator("li.hit").count() == 10 and page.locator("li.hit mark").count() > 0
    level = rows.loc[page.locator("li.hit a.id").first.inner_text(), "harm"]
    page.select_option("select[name='f.harm']", level)
    page.click("button[type=submit]")
    page.wait_for_selector("li.hit")
    shown = page.locator("li.hit a.id").all_inner_texts()
    assert shown and all(rows.loc[i, "harm"] == level for i in shown)
    screenshot(page, served["folder"], "search.png")

    first = shown[0]
    page.click("li.hit a.id >> nth=0")
    page.wait_for_selector("#report-text")
    assert page.url.startswith(f"{base}/report/{first}")
    assert rows.loc[first, "description"].split()[0] in page.inner_text("#report-text")
    assert page.locator("ol.similar li.hit").count() == 8
    screenshot(page, served["folder"], "report.png")

    page.goto(f"{base}/search?q=fall&since=2024-99-01")
    assert "give a date as YYYY-MM-DD" in page.inner_text(".problem")
    page.goto(f"{base}/themes")
    assert "No themes yet" in page.inner_text("#no-themes")
    assert requested and all(url.startswith(base) for url in requested), "a page asked for something outside the app"
    context.close()


def test_a_queue_reviewed_with_the_keyboard_and_two_tabs_that_do_not_overwrite(served, browser):
    base, app = served["url"], served["app"]
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    page.goto(f"{base}/review")
    page.click("text=harm-queue.csv")
    page.fill("#reviewer", "Test Reviewer")
    page.press("#reviewer", "Enter")
    page.wait_for_selector("#decide")
    assert page.locator("#report-text mark").count() >= 1  # the evidence, marked in the report
    screenshot(page, served["folder"], "review.png")
    page.keyboard.press("a")  # accept the suggestion
    page.wait_for_url("**/item/INC-000002")
    page.keyboard.press("c")  # correct: type it, Enter
    page.keyboard.type("Severe harm")
    page.keyboard.press("Enter")
    page.wait_for_url("**/item/INC-000003")
    page.keyboard.press("s")  # skip
    page.wait_for_selector("#done")

    (slug, queue), (second_slug, _) = list(app.state.queues.items())
    audit = [json.loads(line) for line in queue.audit_path.read_text().splitlines()]
    with served["queues"][0].open(newline="") as handle:
        asked = list(csv.DictReader(handle))
    assert [(a["item"], a["action"], a["old"], a["new"], a["reviewer"]) for a in audit] == [
        ("INC-000001", "accept", asked[0]["current"], asked[0]["suggested"], "Test Reviewer"),
        ("INC-000002", "correct", asked[1]["current"], "Severe harm", "Test Reviewer"),
        ("INC-000003", "skip", asked[2]["current"], asked[2]["current"], "Test Reviewer"),
    ]
    with queue.corrected_path.open(newline="") as handle:
        corrected = {r["id"]: (r["corrected"], r["decision"]) for r in csv.DictReader(handle)}
    assert corrected == {"INC-000001": (asked[0]["suggested"], "accepted"), "INC-000002": ("Severe harm", "corrected"),
                         "INC-000003": ("", "skipped")}

    # Two tabs on one item: the second decision is refused and said so; the first stands.
    tab_a, tab_b = context.new_page(), context.new_page()
    for tab in (tab_a, tab_b):
        tab.goto(f"{base}/review/{second_slug}/item/INC-000001")
    tab_a.keyboard.press("a")
    tab_a.wait_for_url("**/item/INC-000002")
    tab_b.keyboard.press("c")
    tab_b.keyboard.type("No harm")
    tab_b.keyboard.press("Enter")
    tab_b.wait_for_selector("#problem")
    assert "another tab" in tab_b.inner_text("#problem")
    second = app.state.queues[second_slug]
    entries = [json.loads(line) for line in second.audit_path.read_text().splitlines()]
    assert [e["action"] for e in entries] == ["accept"]
    context.close()
