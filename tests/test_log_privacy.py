"""Report text stays out of the logs DSPy writes when a call on an example fails."""

from __future__ import annotations

import logging

import dspy
import pytest
from dspy.utils.parallelizer import ParallelExecutor

import incident_lens  # noqa: F401  (installs the filters)
from incident_lens.log_privacy import LOG_TEXT_ENV

SECRET = "Mrs Zebedee-Quartermaine fell in bay 7"


def _fail_on_each_example(executor_kwargs):
    def task(example):
        raise RuntimeError(f"model output could not be parsed for {example.text}")

    ParallelExecutor(num_threads=1, max_errors=10, **executor_kwargs).execute(task, [dspy.Example(text=SECRET).with_inputs("text")])


@pytest.mark.parametrize("provide_traceback", [False, True])
def test_failed_example_is_logged_without_its_text(capfd, caplog, monkeypatch, provide_traceback):
    monkeypatch.delenv(LOG_TEXT_ENV, raising=False)
    with caplog.at_level(logging.ERROR):
        _fail_on_each_example({"provide_traceback": provide_traceback})
    out, err = capfd.readouterr()
    logged = out + err + caplog.text
    assert "a call on one example failed" in logged
    assert "Zebedee" not in logged


def test_text_is_logged_when_the_user_asks(capfd, caplog, monkeypatch):
    monkeypatch.setenv(LOG_TEXT_ENV, "1")
    with caplog.at_level(logging.ERROR):
        _fail_on_each_example({})
    out, err = capfd.readouterr()
    assert "Zebedee" in out + err + caplog.text
