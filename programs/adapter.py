"""The adapter the programs run under: DSPy's JSONAdapter, which sends the output schema that llama.cpp
turns into a grammar, made to read bounded-text fields back as the plain strings the model wrote.

Usage: the modules apply it themselves (`with dspy.context(adapter=ADAPTER)`), whatever is configured.
Why: a `str` subclass (which carries `maxLength` into the schema) is not `str` to DSPy's value parser,
which then runs json_repair over the text and can turn "see [1]" into a list.
"""

from __future__ import annotations

import dspy


def _is_bounded_text(annotation) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, str) and annotation is not str


class GroundedJSONAdapter(dspy.JSONAdapter):
    def parse(self, signature, completion: str) -> dict:
        plain = signature
        for name, field in signature.output_fields.items():
            if _is_bounded_text(field.annotation):
                plain = plain.with_updated_fields(name, type_=str)
        return super().parse(plain, completion)


ADAPTER = GroundedJSONAdapter()
