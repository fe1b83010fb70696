"""DSPy programs for incident-lens: labellers built from task files, the summariser, evidence checks, metrics.

Usage: `build_program(task, "zero-shot")`, `load_program("optimized/x.json", task)`, `Summariser()`, `ThemeSummariser()`,
`task_metric(task)`, `NearestDemos(program, pool, k, find)`, `example_from_row(task, text, labels)`, `prediction_labels(task, prediction)`.
DSPy only: no files (beyond DSPy's own save/load), no index, no pandas, nothing from incident_lens.
"""

import os

# Importing this package first must not take a process online. `import dspy` (3.4) imports neither
# litellm nor its disk cache: litellm loads on the first LiteLLM-backed call and, at that import,
# fetches a model price map from the internet unless this variable is already set; so it is set here,
# before dspy, as a default (an application's own value wins). DSPy's disk cache is built at the first
# read of `dspy.cache`, from DSPY_CACHEDIR as it is then: the application, which knows its workspace,
# sets that before any program runs (a library cannot). tests/test_offline.py checks both.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from programs.evidence import EvidenceCheck, check_quotes, is_supported
from programs.labellers import (
    PROGRAM_KINDS, RagLabeller, Retriever, WorkedExample, ZeroShotLabeller, build_program, format_examples,
    load_program, saved_program_kind,
)
from programs.nearest_demos import NearestDemos
from programs.labels import FINDING_STATUSES, LabelError, normalise_labels
from programs.task_metric import example_from_row, prediction_labels, task_metric
from programs.signatures import ANSWER_FIELD, SUMMARY_PARTS, labelling_signature
from programs.summariser import Summariser
from programs.theme_summary import ThemeSummariser

__all__ = [
    "EvidenceCheck", "check_quotes", "is_supported", "PROGRAM_KINDS", "RagLabeller", "Retriever", "WorkedExample",
    "ZeroShotLabeller", "build_program", "format_examples", "load_program", "saved_program_kind",
    "example_from_row", "FINDING_STATUSES", "LabelError", "normalise_labels", "prediction_labels", "task_metric", "ANSWER_FIELD", "SUMMARY_PARTS",
    "labelling_signature", "Summariser", "ThemeSummariser", "NearestDemos",
]
