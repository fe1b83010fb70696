"""Killing `incident-lens index` mid-run (SIGKILL, no cleanup) and re-running leaves every report
present exactly once, in Chroma and in the lexical index alike."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time

import pandas as pd
from typer.testing import CliRunner

from incident_lens.cli import app
from retrieval.index import IncidentIndex

N_REPORTS = 500
WORDS = "patient nurse ward bed floor dose pump line catheter fall delay alarm wristband insulin heparin oxygen theatre swab".split()
CLI = "import sys; from incident_lens.cli import main; sys.argv[0] = 'incident-lens'; main()"


def write_reports(path) -> list[str]:
    rng = random.Random(7)
    ids = [f"R{i:05d}" for i in range(N_REPORTS)]
    texts = [f"Report {i} code{i}: " + " ".join(rng.choice(WORDS) for _ in range(12)) for i in range(N_REPORTS)]
    pd.DataFrame({"id": ids, "description": texts, "harm": [rng.choice(["none", "low"]) for _ in ids]}).to_csv(path, index=False)
    return ids


def stored_rows(collection_dir) -> int:
    """Rows Chroma has committed, read straight from its SQLite file (no Chroma client in this process)."""
    database = collection_dir / "chroma" / "chroma.sqlite3"
    if not database.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=1) as con:
            return con.execute("select count(*) from embeddings").fetchone()[0]
    except sqlite3.OperationalError:
        return 0  # tables not created yet, or locked for a moment


def test_kill_mid_run_then_rerun_leaves_each_report_once(tmp_path):
    home = tmp_path / "ws"
    csv = tmp_path / "reports.csv"
    ids = write_reports(csv)
    collection_dir = home / "index" / "incidents"
    args = ["--home", str(home), "index", str(csv), "--meta", "harm", "--batch-size", "16"]
    proc = subprocess.Popen([sys.executable, "-c", CLI, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=os.environ | {"INCIDENT_LENS_HOME": str(home)})
    deadline = time.monotonic() + 300
    while stored_rows(collection_dir) < 64:
        assert proc.poll() is None, f"indexer ended before it could be killed: {proc.stderr.read().decode()[-500:]}"
        assert time.monotonic() < deadline, "indexer wrote nothing in time"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stdout.close()
    proc.stderr.close()
    at_kill = stored_rows(collection_dir)
    assert 0 < at_kill < N_REPORTS
    assert (collection_dir / "lexical.stale").exists()  # the lexical side is known to be behind

    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    index = IncidentIndex.open(home / "index", "incidents")
    stored = index.ids()
    assert len(stored) == len(set(stored)) == index.count() == N_REPORTS
    assert set(stored) == set(ids)
    assert sorted(index.lexical.ids) == sorted(ids)
    assert not (collection_dir / "lexical.stale").exists()
    assert "unchanged" in result.output and f"{N_REPORTS} in index" in result.output
    # Rows written before and after the kill are both found by their unique token, both ways.
    for report_id in (ids[0], ids[-1]):
        token = f"code{int(report_id[1:])}"
        assert [h.id for h in index.query(token, k=1, mode="lexical")] == [report_id]
        assert index.get([report_id])[0].metadata["harm"] in ("none", "low")
