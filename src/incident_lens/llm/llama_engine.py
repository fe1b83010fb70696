"""DSPy engine that runs a GGUF model in this process with llama.cpp (llama-cpp-python).

Usage: `lm = dspy.LM(engine.model_string, engine=LlamaCppEngine(path), num_retries=0)`;
normally through `incident_lens.llm.build_lm(settings)`.

What it adds to a bare `Llama`: the GGUF's own chat template renders DSPy's messages (or the one given
with `chat_template=NAME|FILE`, see `chat_templates`; a template without a system role gets the system
text at the top of the first user turn); the context size follows the model (`auto_n_ctx`); a JSON schema
from DSPy becomes a llama.cpp grammar (as llama-cpp-python's `{"type": "json_object", "schema": ...}`
does, but failing loudly where that path silently drops to plain JSON); one lock per loaded model
(llama.cpp is not thread-safe, DSPy calls from threads); a prompt that leaves no room for the answer
is refused up front; token usage, including the prompt prefix reused from the KV cache, is reported.
A schema named `CHAT_FIELDS_FORMAT` (sent by programs.adapter's chat adapter) asks for DSPy's chat sections
instead of JSON: `chat_fields_grammar` constrains the `[[ ## field ## ]]` markers and each field's value.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from incident_lens.errors import UserError
from incident_lens.hashing import text_sha256
from incident_lens.llm.chat_templates import BUILTIN, fold_system_into_first_user, resolve_chat_template
from incident_lens.llm.gguf_info import GGUFInfo, inspect_gguf

# Defaults that suit grammar-constrained JSON: a repeat penalty fights JSON's repeated quotes and keys.
SAMPLING = {"top_k": 40, "top_p": 0.95, "min_p": 0.05, "repeat_penalty": 1.0}
# Answer tokens always left free of the prompt (see `complete`).
ANSWER_RESERVE = 512

# Context size when the user sets none: the model's trained context, capped. The longest prompts the
# programs build (rag on incident-type: k labelled reports plus every label definition) need about 5-6k
# tokens, and llama.cpp's KV cache grows linearly with n_ctx (the bundled SmolLM2: ~180 MB at 8192; a
# 7-8B GQA model: ~1 GB), so 8192 fits every program without paying for a 128k window. Overflows are
# still refused per prompt (`complete`), and labelling shortens the report and retries.
AUTO_N_CTX_CAP = 8192
# For a GGUF that does not say its trained context.
FALLBACK_N_CTX = 4096


def auto_n_ctx(info: GGUFInfo) -> int:
    """The context size used when none is set: min(trained context, AUTO_N_CTX_CAP)."""
    return min(info.context_length or FALLBACK_N_CTX, AUTO_N_CTX_CAP)

# llama-cpp-python's JSON-schema converter lets raw control characters into strings (invalid JSON that
# json_repair then "repairs" into the wrong fields); llama.cpp's own converter excludes them.
STRICT_CHAR_RULE = r'char ::= [^"\\\x7F\x00-\x1F] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F])'

# The response_format name programs.adapter.GroundedChatAdapter sends: the schema's properties are the output
# fields in order, to be written as DSPy ChatAdapter sections rather than one JSON object.
CHAT_FIELDS_FORMAT = "dspy_chat_fields"
# A character of a plain-text section value: one line, no control characters (a newline could open a section).
LINE_CHAR_RULE = r"[^\x7F\x00-\x1F]"

_OVERFLOW = re.compile(r"prompt of (\d+) tokens plus max_tokens (\d+) exceeds the context of (\d+) tokens")


def overflow_tokens(message: str) -> int | None:
    """How many tokens too long a refused prompt was (parsed from this engine's error message)."""
    found = _OVERFLOW.search(message or "")
    if not found:
        return None
    prompt, max_tokens, n_ctx = map(int, found.groups())
    return prompt + max_tokens - n_ctx


@dataclass
class LoadedModel:
    """One `Llama` in memory, shared by every engine that asks for the same file and settings."""

    llama: object
    info: GGUFInfo
    formatter: object
    n_ctx: int
    # "gguf" (the file's own template), a built-in name, or a template file's path.
    chat_template: str = "gguf"
    chat_template_sha256: str = ""
    # False: the template refuses or drops a system message, so it is folded into the first user turn.
    system_role: bool = True
    # The BOS token to put first when the GGUF asks for one and the template does not write it.
    bos_id: int | None = None
    bos_text: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)
    grammars: dict = field(default_factory=dict)
    # Prompt tokens llama.cpp evaluated (not reused from the KV cache), over the model's life.
    evaluated_prompt_tokens: int = 0


_LOADED: dict[tuple, LoadedModel] = {}
_LOADED_LOCK = threading.Lock()


def load_model(path: Path, n_ctx: int | None = None, n_threads: int = 1, n_batch: int = 512, seed: int = 13,
               cache_dir: Path | None = None, chat_template: str | None = None) -> LoadedModel:
    """Check the file (one-line `UserError` if missing, truncated or not GGUF), then load it once per process.

    `n_ctx` None: `auto_n_ctx`. `chat_template` None: the GGUF's own; else a built-in name or a file.
    """
    info = inspect_gguf(Path(path), cache_dir)
    n_ctx = n_ctx or auto_n_ctx(info)
    template = resolve_chat_template(chat_template) if chat_template else None
    key = (str(info.path), info.sha256, n_ctx, n_threads, n_batch, seed, template)
    with _LOADED_LOCK:
        if key not in _LOADED:
            _LOADED[key] = _load(info, n_ctx, n_threads, n_batch, seed, template)
        return _LOADED[key]


_PROBE_SYSTEM, _PROBE_USER = "incident-lens probe: system text", "incident-lens probe: user text"


def _renders_system(formatter) -> bool:
    """Whether the template keeps a system message; raises if it cannot render a plain user turn."""
    import jinja2

    formatter(messages=[{"role": "user", "content": _PROBE_USER}])
    try:
        prompt = formatter(messages=[{"role": "system", "content": _PROBE_SYSTEM},
                                     {"role": "user", "content": _PROBE_USER}]).prompt
    except (jinja2.TemplateError, ValueError):
        # The template refuses a system turn (raise_exception raises ValueError): fold it instead.
        return False
    return _PROBE_SYSTEM in prompt


def _load(info: GGUFInfo, n_ctx: int, n_threads: int, n_batch: int, seed: int,
          template: tuple[str, str] | None = None) -> LoadedModel:
    import jinja2
    from llama_cpp import Llama
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    if template is None and not info.has_chat_template:
        raise UserError(f"{info.path}: the GGUF has no chat template (a base model?); supply one with --chat-template NAME|FILE "
                        f"(built in: {', '.join(sorted(BUILTIN))}) or chat_template in incident-lens.toml")
    try:
        llama = Llama(model_path=str(info.path), n_ctx=n_ctx, n_threads=n_threads, n_threads_batch=n_threads,
                      n_batch=n_batch, seed=seed, verbose=False)
    except (ValueError, RuntimeError, OSError) as exc:
        raise UserError(f"{info.path}: llama.cpp cannot load this model ({type(exc).__name__}: {str(exc).splitlines()[0]}); "
                        "check that the file is a complete GGUF of a supported architecture") from None
    label, text_of_template = template or ("gguf", llama.metadata["tokenizer.chat_template"])
    # The template's bos_token/eos_token are the GGUF's own (tokenizer.ggml.bos/eos_token_id).
    eos, bos = llama.token_eos(), llama.token_bos()
    text = llama._model.token_get_text
    bos_text = text(bos) if bos != -1 else ""
    try:
        formatter = Jinja2ChatFormatter(template=text_of_template, eos_token=text(eos) if eos != -1 else "",
                                        bos_token=bos_text, stop_token_ids=[eos])
        system_role = _renders_system(formatter)
    except (jinja2.TemplateError, ValueError, TypeError) as exc:
        raise UserError(f"{info.path}: the chat template ({label}) cannot render a conversation "
                        f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); "
                        "give a working one with --chat-template NAME|FILE") from None
    return LoadedModel(llama=llama, info=info, formatter=formatter, n_ctx=llama.n_ctx(), chat_template=label,
                       chat_template_sha256=text_sha256(text_of_template), system_role=system_role,
                       bos_id=bos if bos != -1 and llama._model.add_bos_token() else None, bos_text=bos_text)


def llama_response_format(response_format: dict | None) -> dict | None:
    """DSPy's response format in the form llama-cpp-python honours: `{"type": "json_object", "schema": ...}`.

    (llama-cpp-python ignores the OpenAI form `{"type": "json_schema", ...}` without a word.)
    """
    if not response_format:
        return None
    if response_format.get("type") == "json_schema":
        return {"type": "json_object", "schema": response_format["schema"]}
    if response_format.get("type") == "json_object":
        return {"type": "json_object"}
    raise ValueError(f"unsupported response_format type {response_format.get('type')!r}")


def chat_fields_grammar(schema: dict) -> str:
    """GBNF for DSPy ChatAdapter sections: `[[ ## name ## ]]` per property in order, then `[[ ## completed ## ]]`.

    As the ChatAdapter writes values: a plain string is one line of text (at most `maxLength` characters),
    a string enum one of its values unquoted, anything else JSON under the property's schema.
    """
    from llama_cpp.llama_grammar import SchemaConverter, _build_repetition

    converter = SchemaConverter(prop_order={}, allow_fetch=False, dotall=False, raw_pattern=False)
    schema = converter.resolve_refs(schema, "stdin")
    sequence = []
    for i, (name, prop) in enumerate(schema.get("properties", {}).items()):
        rule = re.sub(r"[^A-Za-z0-9-]+", "-", name) + "-section"
        if prop.get("type") == "string" and "enum" in prop:
            rule = converter._add_rule(rule, " | ".join(converter._format_literal(str(v)) for v in prop["enum"]))
        elif prop.get("type") == "string" and set(prop) <= {"type", "maxLength", "title", "description"}:
            converter._add_rule("line-char", LINE_CHAR_RULE)
            rule = converter._add_rule(rule, _build_repetition("line-char", 1, prop.get("maxLength")))
        else:
            rule = converter.visit(prop, rule)
        sequence += [converter._format_literal(("\n\n" if i else "") + f"[[ ## {name} ## ]]\n"), rule]
    sequence.append(converter._format_literal("\n\n[[ ## completed ## ]]"))
    converter._add_rule("root", " ".join(sequence))
    return re.sub(r"^char ::= .*$", lambda _: STRICT_CHAR_RULE, converter.format_grammar(), flags=re.M)


def grammar_for(loaded: LoadedModel, response_format: dict | None):
    """The llama.cpp grammar for a response format, compiled once per schema."""
    from llama_cpp.llama_grammar import JSON_GBNF, LlamaGrammar

    if response_format and response_format.get("name") == CHAT_FIELDS_FORMAT:
        key = json.dumps(response_format, sort_keys=True)
        if key not in loaded.grammars:
            loaded.grammars[key] = LlamaGrammar.from_string(chat_fields_grammar(response_format["schema"]), verbose=False)
        return loaded.grammars[key]
    fmt = llama_response_format(response_format)
    if fmt is None:
        return None
    key = json.dumps(fmt, sort_keys=True)
    if key not in loaded.grammars:
        if "schema" in fmt:
            # No silent fallback to free JSON: an unconstrained answer would look valid and not be.
            text = LlamaGrammar.from_json_schema(json.dumps(fmt["schema"]), verbose=False)._grammar
            text = re.sub(r"^char ::= .*$", lambda _: STRICT_CHAR_RULE, text, flags=re.M)
            loaded.grammars[key] = LlamaGrammar.from_string(text, verbose=False)
        else:
            loaded.grammars[key] = LlamaGrammar.from_string(JSON_GBNF, verbose=False)
    return loaded.grammars[key]


def _common_prefix(a, b) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


class LlamaCppEngine:
    """A `dspy.LM` engine: `complete(Request) -> Response` on an in-process llama.cpp model."""

    supports_response_schema = True
    # The chat sections' grammar (CHAT_FIELDS_FORMAT) is understood here.
    supports_chat_fields = True
    supported_params = {"response_format", "max_tokens", "temperature", "top_p", "seed", "stop"}

    def __init__(self, model_path: Path, n_ctx: int | None = None, n_threads: int = 1, n_batch: int = 512, seed: int = 13,
                 cache_dir: Path | None = None, chat_template: str | None = None):
        self.loaded = load_model(Path(model_path), n_ctx=n_ctx, n_threads=n_threads, n_batch=n_batch, seed=seed,
                                 cache_dir=cache_dir, chat_template=chat_template)
        self.options = {"n_ctx": self.loaded.n_ctx, "n_ctx_source": "set" if n_ctx else "auto", "n_threads": n_threads,
                        "n_batch": n_batch, "seed": seed, "chat_template": self.loaded.chat_template,
                        "chat_template_sha256": self.loaded.chat_template_sha256}
        self.info = self.loaded.info
        self.seed = seed
        self.last_call: dict = {}

    @property
    def model_string(self) -> str:
        """DSPy's cache key names the model; the file's sha256 keeps two models' answers apart."""
        stem = re.sub(r"[^A-Za-z0-9._-]+", "-", self.info.path.stem)
        name = f"llamacpp/{stem}@sha256:{self.info.sha256}"
        # Another template means other prompts, so other answers: keep them apart in the cache too.
        if self.loaded.chat_template != "gguf":
            name += f"+template:{self.loaded.chat_template_sha256[:16]}"
        return name

    def describe(self) -> dict:
        return {"backend": "llama.cpp (in process)", **self.info.to_dict(), **self.options}

    def count_tokens(self, text: str) -> int:
        return len(self.loaded.llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def render(self, request) -> tuple[list[int], list[str]]:
        """The prompt tokens for a request (the model's chat template) and the template's stop strings."""
        messages = []
        if request.system is not None:
            system = request.system if isinstance(request.system, str) else "".join(p.text for p in request.system)
            messages.append({"role": "system", "content": system})
        messages.extend({"role": m.role, "content": m.text or ""} for m in request.messages)
        return self.render_messages(messages)

    def render_messages(self, messages: list[dict]) -> tuple[list[int], list[str]]:
        """As `render`, for chat messages as dicts (`role`, `content`): fine-tuning renders its prompts here too."""
        if not self.loaded.system_role:
            messages = fold_system_into_first_user(messages)
        rendered = self.loaded.formatter(messages=messages)
        prompt = rendered.prompt
        tokens = self.loaded.llama.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)
        # BOS as llama.cpp's server does: the template's own if it writes one, else the GGUF's if it asks for one.
        if self.loaded.bos_id is not None and not (self.loaded.bos_text and prompt.startswith(self.loaded.bos_text)):
            tokens = [self.loaded.bos_id, *tokens]
        stops = rendered.stop if isinstance(rendered.stop, list) else [rendered.stop] if rendered.stop else []
        return tokens, stops

    def complete(self, request):
        from dspy import lm15
        from dspy.lm15 import Message, Response, TextPart, Usage

        config = request.config
        loaded, llama = self.loaded, self.loaded.llama
        max_tokens = config.max_tokens or 1024
        with loaded.lock:
            tokens, stops = self.render(request)
            # The output schema bounds the answer, max_tokens is only a backstop: a long prompt may eat into
            # it down to ANSWER_RESERVE tokens; past that the prompt is refused (the caller can shorten it).
            reserve = min(max_tokens, ANSWER_RESERVE)
            if len(tokens) + reserve > loaded.n_ctx:
                raise lm15.ContextLengthError(
                    f"prompt of {len(tokens)} tokens plus max_tokens {reserve} exceeds the context of {loaded.n_ctx} tokens",
                    provider="llamacpp")
            max_tokens = min(max_tokens, loaded.n_ctx - len(tokens))
            grammar = grammar_for(loaded, config.response_format)
            # llama-cpp-python reuses the longest prefix already in the KV cache (minus one token when the
            # whole prompt matches, to refresh the logits); count it the same way.
            reused = _common_prefix(llama._input_ids.tolist(), tokens) if llama.n_tokens else 0
            reused = reused - 1 if reused == len(tokens) else reused
            started = time.perf_counter()
            out = llama.create_completion(
                prompt=tokens, max_tokens=max_tokens,
                temperature=config.temperature if config.temperature is not None else 0.0,
                seed=config.seed if config.seed is not None else self.seed,
                stop=[*stops, *config.stop], grammar=grammar,
                **{**SAMPLING, **({"top_p": config.top_p} if config.top_p is not None else {})},
            )
            loaded.evaluated_prompt_tokens += len(tokens) - max(reused, 0)
            # Counts only (no text): for benchmarks and diagnostics.
            self.last_call = {"prompt_tokens": len(tokens), "reused_tokens": max(reused, 0),
                              "completion_tokens": out["usage"]["completion_tokens"], "max_tokens": max_tokens,
                              "seconds": time.perf_counter() - started}
        choice, usage = out["choices"][0], out["usage"]
        finish = "length" if choice.get("finish_reason") == "length" else "stop"
        if finish == "length" and grammar is not None:
            # The JSON answer is cut off; json_repair would quietly complete it, so refuse it here.
            raise lm15.InvalidRequestError(
                f"the answer reached max_tokens={max_tokens} before the JSON was complete "
                f"({time.perf_counter() - started:.1f}s); raise max_tokens or shorten the output fields",
                provider="llamacpp")
        return Response(
            id=out.get("id"), model=request.model, message=Message.assistant([TextPart(choice["text"])]),
            finish_reason=finish,
            usage=Usage(input_tokens=usage["prompt_tokens"], output_tokens=usage["completion_tokens"],
                        cache_read_tokens=max(reused, 0)),
        )

    def stream(self, request):
        from dspy.lm15 import response_to_events

        return response_to_events(self.complete(request))

    def close(self) -> None:
        """The model stays loaded for other engines in this process (see `load_model`)."""
