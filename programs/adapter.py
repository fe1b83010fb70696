"""The adapters the programs run under, both grammar-constrained by the engine, both reading bounded-text
fields back as the plain strings the model wrote.

- `ADAPTER` (`GroundedJSONAdapter`): DSPy's JSONAdapter, which sends the output schema that llama.cpp
  turns into a grammar.
- `CHAT_ADAPTER` (`GroundedChatAdapter`): DSPy's ChatAdapter (`[[ ## field ## ]]` sections). It sends the
  same output schema named `CHAT_FIELDS_FORMAT`, which an engine that declares `supports_chat_fields = True`
  (the llama.cpp engine) turns into a grammar for the sections: the markers in order, each value as its
  type allows, then `[[ ## completed ## ]]`. Other engines get no format and answer unconstrained.

Usage: the modules apply one themselves (`with dspy.context(adapter=adapter_for(style))`), whatever is configured.
Why the parse override: a `str` subclass (which carries `maxLength` into the schema) is not `str` to DSPy's
value parser, which then runs json_repair over the text and can turn "see [1]" into a list.
"""

from __future__ import annotations

import dspy

# The response_format name that asks for the chat sections rather than a JSON object (the llama.cpp
# engine's `CHAT_FIELDS_FORMAT` is the same string; programs/ imports nothing from the app).
CHAT_FIELDS_FORMAT = "dspy_chat_fields"


def _is_bounded_text(annotation) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, str) and annotation is not str


def plain_signature(signature):
    """The signature with bounded-text outputs as plain `str` (how the answer is parsed)."""
    plain = signature
    for name, field in signature.output_fields.items():
        if _is_bounded_text(field.annotation):
            plain = plain.with_updated_fields(name, type_=str)
    return plain


class GroundedJSONAdapter(dspy.JSONAdapter):
    def parse(self, signature, completion: str) -> dict:
        return super().parse(plain_signature(signature), completion)


def chat_fields_format(signature) -> dict:
    """The output fields' JSON schema (in field order) as a response format named CHAT_FIELDS_FORMAT."""
    from dspy.adapters.json_adapter import _get_structured_outputs_response_format

    schema = _get_structured_outputs_response_format(signature).model_json_schema()
    # OpenAI's spelling, which DSPy turns into the engine's `{"type": "json_schema", "name": ..., "schema": ...}`.
    return {"type": "json_schema", "json_schema": {"name": CHAT_FIELDS_FORMAT, "schema": schema}}


class GroundedChatAdapter(dspy.ChatAdapter):
    """ChatAdapter with a grammar where the engine offers one, and no silent fallback to another adapter
    (a failed parse is the caller's to retry)."""

    def __init__(self):
        super().__init__(use_json_adapter_fallback=False)

    def __call__(self, lm, lm_kwargs, signature, demos, inputs):
        engine = getattr(lm, "engine", None)
        if getattr(engine, "supports_chat_fields", False):
            lm_kwargs = {**lm_kwargs, "response_format": chat_fields_format(signature)}
        return super().__call__(lm, lm_kwargs, signature, demos, inputs)

    def parse(self, signature, completion: str) -> dict:
        return super().parse(plain_signature(signature), completion)


ADAPTER = GroundedJSONAdapter()
CHAT_ADAPTER = GroundedChatAdapter()


def adapter_for(style) -> dspy.Adapter:
    """The adapter a `PromptStyle` asks for."""
    return CHAT_ADAPTER if style.adapter == "chat" else ADAPTER
