"""The labelling core every pipeline shares: one report through a program, with truncation and retries.

Usage:
    result = predict_one(program, task, text)          # -> LabelResult; never raises for a bad answer
    result = predict_one(program, task, text, samples=4)   # ... with a confidence: agreement of 4 samples
    done = run_with_retries(lambda body: summariser(report=body), text)
    predictions = label_rows(program, task, gold)      # gold rows -> labels in the gold form (None on error)
A report too long for the model's context is cut to fit and flagged; an answer that stays invalid
after a retry becomes an `error:` status. An LLM's confidence is the share of `samples` further answers,
sampled at SAMPLE_TEMPERATURE, that agree with it (per label for multi and findings tasks, the least
agreed label counting): the label token's probability is not used because llama-cpp-python gives
logprobs only with logits kept for every prompt token, and a server may give none.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from incident_lens.errors import UserError
from incident_lens.inputs.gold import GoldSet
from incident_lens.inputs.task_files import Task

# A retry samples at this temperature (with a new rollout id, so DSPy's cache does not replay the failure).
RETRY_TEMPERATURE = 0.7
# Confidence samples: each its own rollout id (so none is a cached replay) and its own sampling seed (the
# engines seed every call, so with one seed every sample would be the same answer), at this temperature.
SAMPLE_TEMPERATURE = 0.7
SAMPLE_ROLLOUT_BASE = 1000
MAX_SHRINKS = 3
# Below this many characters a truncated report says too little to label.
MIN_TRUNCATED_CHARS = 200

@dataclass
class LabelResult:
    labels: object  # str (single), sorted list (multi), {finding: status} (findings); None on error
    evidence: list[str]
    evidence_verified: bool
    rationale: str
    status: str  # "ok" or "error: reason"
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    truncated: bool = False
    unsupported_evidence: list[str] = field(default_factory=list)
    cached_prompt_tokens: int = 0
    # Probability of the chosen label(s) (students), or for LLM programs the agreement of samples; None if not asked.
    confidence: float | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass
class Attempt:
    """The outcome of running a program on one report with truncation and retries."""

    prediction: object  # dspy.Prediction or None
    status: str
    truncated: bool
    prompt_tokens: int
    completion_tokens: int
    cached_prompt_tokens: int
    latency_s: float


def _usage(tracker) -> tuple[int, int, int]:
    prompt = completion = cached = 0
    for usage in tracker.get_total_tokens().values():
        prompt += int(usage.get("prompt_tokens") or 0)
        completion += int(usage.get("completion_tokens") or 0)
        cached += int((usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0)
    return prompt, completion, cached


def _first_line(exc: Exception, limit: int = 160) -> str:
    text = (getattr(exc, "message", None) or str(exc)).strip().splitlines()
    return text[0][:limit] if text else ""


def _chars_per_token(lm, text: str) -> float:
    from incident_lens.llm import engine_of

    engine = engine_of(lm)
    if engine is not None and hasattr(engine, "count_tokens") and text:
        return len(text) / max(engine.count_tokens(text), 1)
    return 4.0


def run_with_retries(call: Callable[[str], object], text: str, retries: int = 1) -> Attempt:
    """`call(text)` under DSPy's configured LM, cutting the text to fit the context and retrying a bad answer.

    Never raises for what the model or the report did; the status says what went wrong (no report text in it).
    """
    import dspy
    from dspy.utils.exceptions import AdapterParseError, ContextWindowExceededError, LMError
    from dspy.utils.usage_tracker import track_usage

    from incident_lens.llm import overflow_tokens

    lm = dspy.settings.lm
    if lm is None:
        raise UserError("no language model configured: build one with incident_lens.llm.build_lm(settings) "
                        "and run inside dspy.context(lm=lm)")
    started = time.perf_counter()
    attempt, shrinks, truncated, status, prediction = 0, 0, False, "ok", None
    with track_usage() as tracker:
        while True:
            try:
                retry_lm = lm.copy(rollout_id=attempt, temperature=RETRY_TEMPERATURE) if attempt else lm
                with dspy.context(lm=retry_lm, track_usage=True):
                    prediction = call(text)
                status = "ok"
                break
            except ContextWindowExceededError as exc:
                excess = overflow_tokens(str(exc))
                if excess is None or shrinks >= MAX_SHRINKS:
                    status = "error: report too long for the model context"
                    break
                keep = len(text) - math.ceil(excess * _chars_per_token(lm, text) * 1.2) - 20
                if keep < MIN_TRUNCATED_CHARS:
                    status = "error: report too long for the model context (instructions leave no room; raise n_ctx)"
                    break
                text, truncated, shrinks = text[:keep], True, shrinks + 1
            except (AdapterParseError, LMError) as exc:
                attempt += 1
                if attempt > retries:
                    # Engine messages carry counts and settings, never report text.
                    reason = ("answer did not match the output schema" if isinstance(exc, AdapterParseError)
                              else f"model call failed ({type(exc).__name__}: {_first_line(exc)})")
                    status = f"error: {reason} after {attempt} attempt(s)"
                    prediction = None
                    break
    prompt, completion, cached = _usage(tracker)
    return Attempt(prediction if status == "ok" else None, status, truncated, prompt, completion, cached,
                   round(time.perf_counter() - started, 3))


def predict_one(program, task: Task, text: str, report_id: str | None = None, retries: int = 1, samples: int = 0) -> LabelResult:
    """Label one report with `program` under DSPy's configured LM; errors become the status, not exceptions.
    `samples` > 0 adds a confidence: the agreement of that many sampled answers with this one."""
    import dspy

    from programs import RagLabeller, prediction_labels

    def call(body: str):
        return program(report=body, report_id=report_id) if isinstance(program, RagLabeller) else program(report=body)

    done = run_with_retries(call, text, retries)
    if done.prediction is None:
        return LabelResult(None, [], False, "", done.status, done.prompt_tokens, done.completion_tokens, done.latency_s,
                           done.truncated, [], done.cached_prompt_tokens)
    p = done.prediction
    try:
        labels = prediction_labels(task, p)
    except ValueError:
        return LabelResult(None, [], False, "", "error: answer outside the task's labels", done.prompt_tokens,
                           done.completion_tokens, done.latency_s, done.truncated, [], done.cached_prompt_tokens)
    result = LabelResult(labels, [str(q) for q in p.evidence], bool(p.evidence_verified), str(p.rationale), "ok",
                         done.prompt_tokens, done.completion_tokens, done.latency_s, done.truncated,
                         list(p.unsupported_evidence), done.cached_prompt_tokens)
    if samples > 0:
        lm, answers = dspy.settings.lm, []
        seed = int(lm.kwargs.get("seed") or 0)
        for n in range(samples):
            with dspy.context(lm=lm.copy(rollout_id=SAMPLE_ROLLOUT_BASE + n, temperature=SAMPLE_TEMPERATURE, seed=seed + 1 + n)):
                sampled = run_with_retries(call, text, retries=0)
            result.prompt_tokens += sampled.prompt_tokens
            result.completion_tokens += sampled.completion_tokens
            result.latency_s = round(result.latency_s + sampled.latency_s, 3)
            try:
                answers.append(prediction_labels(task, sampled.prediction) if sampled.prediction is not None else None)
            except ValueError:
                answers.append(None)  # an answer outside the labels agrees with nothing
        result.confidence = agreement(task, labels, answers)
    return result


def agreement(task: Task, labels, answers: list) -> float:
    """Share of `answers` agreeing with `labels`; for multi and findings tasks per label, the lowest share
    (as a classifier's confidence is that of its least certain target). A failed answer (None) disagrees."""
    if not answers:
        return 0.0
    if task.kind == "single":
        return sum(a == labels for a in answers) / len(answers)
    chosen = gold_form(task, labels)
    formed = [gold_form(task, a) for a in answers]
    shares = []
    for name in task.label_names:
        if task.kind == "multi":
            mine = name in chosen
            shares.append(sum(f is not None and (name in f) == mine for f in formed) / len(formed))
        else:
            shares.append(sum(f is not None and f[name] == chosen[name] for f in formed) / len(formed))
    return min(shares)


def gold_form(task: Task, labels):
    """Labels as the programs give them (sorted list for multi) in the gold form (task-ordered tuple)."""
    if labels is None:
        return None
    if task.kind == "multi":
        chosen = set(labels)
        return tuple(name for name in task.label_names if name in chosen)
    if task.kind == "findings":
        return {name: dict(labels).get(name, "not_mentioned") for name in task.label_names}
    return str(labels)


def gold_examples(task: Task, gold: GoldSet, with_ids: bool = False) -> list:
    """The gold rows as `dspy.Example`s; `with_ids` adds `report_id` so RAG can leave the row itself out."""
    from programs import example_from_row

    out = []
    for id_, text, labels in zip(gold.ids, gold.texts, gold.labels):
        example = example_from_row(task, text, list(labels) if task.kind == "multi" else labels)
        out.append(example.copy(report_id=id_).with_inputs("report", "report_id") if with_ids else example)
    return out


def label_rows(program, task: Task, gold: GoldSet, progress=None, description: str = "labelling",
               usage: dict | None = None, samples: int = 0, confidence: list | None = None) -> list:
    """Each gold row labelled by the program under DSPy's configured LM (None where it failed).

    `usage`, when given, gets the run's `prompt_tokens` and `completion_tokens` added to it; `confidence`,
    when given, gets each row's confidence (with `samples` > 0: 0 for a failed row; else None)."""
    bar = progress.add_task(description, total=len(gold)) if progress is not None else None
    predictions = []
    for id_, text in zip(gold.ids, gold.texts):
        result = predict_one(program, task, text, report_id=id_, samples=samples)
        predictions.append(gold_form(task, result.labels) if result.ok else None)
        if confidence is not None:
            # A failed row is the least sure: at any coverage it goes to people first.
            confidence.append(None if samples <= 0 else result.confidence if result.ok else 0.0)
        if usage is not None:
            usage["prompt_tokens"] = usage.get("prompt_tokens", 0) + result.prompt_tokens
            usage["completion_tokens"] = usage.get("completion_tokens", 0) + result.completion_tokens
        if bar is not None:
            progress.advance(bar)
    return predictions
