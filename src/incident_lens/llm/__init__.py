"""The language model behind the DSPy programs: an in-process llama.cpp GGUF, or a local OpenAI-compatible server.

Usage: `lm = build_lm(settings)`, then `dspy.configure(lm=lm, adapter=dspy.JSONAdapter())` (or
`configure_dspy(lm)`). `build_lm(settings, server_url="http://127.0.0.1:8080/v1")` uses a server instead.
"""

from __future__ import annotations

from incident_lens.llm.build import DEFAULT_MAX_TOKENS, build_lm, configure_dspy, engine_of, model_record
from incident_lens.llm.llama_engine import LlamaCppEngine, load_model, overflow_tokens
from incident_lens.llm.server_engine import ServerEngine, check_server_url

__all__ = [
    "DEFAULT_MAX_TOKENS", "build_lm", "configure_dspy", "engine_of", "model_record",
    "LlamaCppEngine", "load_model", "overflow_tokens", "ServerEngine", "check_server_url",
]
