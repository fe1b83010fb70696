"""DSPy programs for incident-lens: labellers built from task files, the summariser, evidence checks, metrics.

Usage: `build_program(task, "zero-shot")`, `load_program("optimized/x.json", task)`, `Summariser()`,
`task_metric(task)`, `NearestDemos(program, pool, k, find)`, `example_from_row(task, text, labels)`, `prediction_labels(task, prediction)`.
DSPy only: no files (beyond DSPy's own save/load), no index, no pandas, nothing from incident_lens.
"""

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

__all__ = [
    "EvidenceCheck", "check_quotes", "is_supported", "PROGRAM_KINDS", "RagLabeller", "Retriever", "WorkedExample",
    "ZeroShotLabeller", "build_program", "format_examples", "load_program", "saved_program_kind",
    "example_from_row", "FINDING_STATUSES", "LabelError", "normalise_labels", "prediction_labels", "task_metric", "ANSWER_FIELD", "SUMMARY_PARTS",
    "labelling_signature", "Summariser", "NearestDemos",
]
