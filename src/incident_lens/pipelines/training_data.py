"""Training examples for fine-tuning: the exact prompt a labelling program sends, and its gold answer, as tokens.

Usage:
    examples, shortened = render_examples(engine, program, task, train, max_tokens=2048)
    example.tokens[: example.n_prompt]   # the prompt llama.cpp would be given; the rest is the answer
The messages are DSPy's own fine-tuning format (`ChatAdapter.format_finetune_data`: the adapter's system
and user messages, then the gold outputs as the assistant turn); DSPy 3.4's JSONAdapter does not implement
that method, so the same two calls are made here. The gold answer has no evidence quotes (gold sets have
none) and an empty rationale where the layout has one. Tokens come from the llama.cpp engine's own
rendering (chat template, BOS), so training sees exactly what inference sends.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from incident_lens.inputs.gold import GoldSet
from incident_lens.inputs.task_files import Task

# A report cut to fit the training length loses this share more each try (as labelling cuts to fit the context).
SHRINK = 0.8
MAX_SHRINKS = 6


@dataclass(frozen=True)
class TrainingExample:
    tokens: tuple[int, ...]
    n_prompt: int  # the loss is on tokens[n_prompt:], the answer and its end-of-turn token

    @property
    def n_answer(self) -> int:
        return len(self.tokens) - self.n_prompt


def predictor_of(program):
    """The one `dspy.Predict` of a labeller (its signature and demos make the prompt)."""
    predictors = program.predictors()
    if len(predictors) != 1:
        raise ValueError(f"a labeller has one predictor, this program has {len(predictors)}")
    return predictors[0]


def gold_outputs(task: Task, signature, labels) -> dict:
    """The assistant turn's fields: the gold answer, no evidence, an empty rationale if the layout asks for one."""
    from programs import ANSWER_FIELD, normalise_labels

    answer = normalise_labels(task, list(labels) if task.kind == "multi" else labels)
    outputs = {"evidence": [], ANSWER_FIELD[task.kind]: answer}
    if "rationale" in signature.output_fields:
        outputs["rationale"] = ""
    return outputs


def finetune_messages(program, task: Task, text: str, labels) -> list[dict]:
    """System and user messages exactly as the program's adapter formats them, plus the gold assistant turn."""
    from programs.adapter import adapter_for

    predictor = predictor_of(program)
    adapter = adapter_for(program.style)
    signature = predictor.signature
    messages = adapter.format(signature, predictor.demos, {"report": text})
    answer = adapter.format_assistant_message_content(signature, gold_outputs(task, signature, labels))
    return [*messages, {"role": "assistant", "content": answer}]


def render_example(engine, program, task: Task, text: str, labels) -> TrainingExample:
    messages = finetune_messages(program, task, text, labels)
    prompt, _stops = engine.render_messages(messages[:-1])
    llama = engine.loaded.llama
    answer = llama.tokenize(messages[-1]["content"].encode("utf-8"), add_bos=False, special=False)
    # The turn ends with the end-of-turn token: where llama.cpp stops generating.
    return TrainingExample(tuple(prompt) + tuple(answer) + (llama.token_eos(),), len(prompt))


def render_examples(engine, program, task: Task, gold: GoldSet, max_tokens: int) -> tuple[list[TrainingExample], int]:
    """One example per gold row; a report too long for `max_tokens` is cut (as labelling does) and counted."""
    examples, shortened = [], 0
    for text, labels in zip(gold.texts, gold.labels):
        example, tries = render_example(engine, program, task, text, labels), 0
        while len(example.tokens) > max_tokens and tries < MAX_SHRINKS:
            text, tries = text[: int(len(text) * SHRINK)], tries + 1
            example = render_example(engine, program, task, text, labels)
        if len(example.tokens) > max_tokens:
            raise ValueError(f"the prompt alone is longer than {max_tokens} tokens")
        shortened += tries > 0
        examples.append(example)
    return examples, shortened


def examples_sha256(examples: list[TrainingExample]) -> str:
    """What the model was trained on, as token ids (no text): the same rows and prompt give the same hash."""
    digest = hashlib.sha256()
    for example in examples:
        digest.update(f"{example.n_prompt}:{','.join(map(str, example.tokens))}\n".encode("ascii"))
    return digest.hexdigest()
