"""`evaluate` and `optimise` write nothing outside the workspace and the output paths the user named:
not in HOME (library caches and configs), not in TMPDIR (temporary stores), not in the working directory.

The real CLI runs in a fresh process whose HOME, TMPDIR, working directory and workspace (`--home`) are
separate empty folders; knn, rag and a compiled program hold their labelled pools in memory.
"""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from topic_task import TASK

CLI = "import sys; from incident_lens.cli import main; sys.argv[0] = 'incident-lens'; main()"
PHRASES = {"fall": ["found on the floor", "slipped and fell"], "medication": ["insulin dose given twice", "dose omitted"],
           "device": ["pump alarm failed", "battery flat"]}


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.mark.slow
def test_evaluate_and_optimise_write_only_to_the_workspace_and_outputs(tmp_path, tiny_gguf):
    home, tmp, cwd, ws, inputs, out = (tmp_path / name for name in ("home", "tmp", "cwd", "ws", "inputs", "out"))
    for folder in (home, tmp, cwd, inputs):
        folder.mkdir()
    (inputs / "topic.toml").write_text(TASK, encoding="utf-8")
    rng = random.Random(1)
    rows = [{"id": f"{topic[:3]}{i}", "description": f"{rng.choice(phrases)} in bay {topic[:3]}-{i}", "topic": topic}
            for topic, phrases in PHRASES.items() for i in range(4)]
    rng.shuffle(rows)
    pd.DataFrame(rows).to_csv(inputs / "gold.csv", index=False)
    common = ["--task", str(inputs / "topic.toml"), "--gold", str(inputs / "gold.csv")]
    llm = ["--model", str(tiny_gguf), "--threads", "1"]
    # Every default location derives from HOME, TMPDIR or the working directory: nothing else is passed on.
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "TMPDIR": str(tmp), "LANG": "C.UTF-8"}

    def cli(*args: str) -> None:
        done = subprocess.run([sys.executable, "-c", CLI, "--home", str(ws), *args], cwd=cwd, env=env,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout + done.stderr

    cli("optimise", *common, "--optimizer", "labeled", "--program", "rag", *llm, "--out", str(out / "rag.json"))
    cli("optimise", *common, "--optimizer", "knn", "--out", str(out / "knn.json"))
    cli("evaluate", *common, "--method", "tfidf-lr", "--method", "knn", "--method", "rag", "--method", str(out / "rag.json"),
        "--method", str(out / "knn.json"), *llm, "--rag-k", "2", "--knn-k", "2", "--report", str(out / "report"))

    assert _files(home) == [] and _files(tmp) == [] and _files(cwd) == []
    assert _files(inputs) == ["gold.csv", "topic.toml"]
    assert {"rag.json", "rag.meta.json", "knn.json", "knn.meta.json", "report/metrics.json", "report/predictions.csv",
            "report/report.md"} <= set(_files(out))
    assert {Path(name).parts[0] for name in _files(out)} == {"rag.json", "rag.meta.json", "knn.json", "knn.meta.json", "report"}
    # The caches that would otherwise be in HOME or TMPDIR: DSPy's answers (prompts), matplotlib's, torch's.
    assert any((ws / "cache" / "dspy").rglob("*.db"))
    assert (ws / "cache" / "matplotlib").is_dir() and (ws / "cache" / "torchinductor").is_dir()
