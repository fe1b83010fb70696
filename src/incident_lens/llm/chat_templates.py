"""Chat templates for GGUF models: built-in templates of the common families, or a Jinja file.

A GGUF normally carries its own template (`tokenizer.chat_template`) and that one is used. The
`chat_template` setting (`--chat-template NAME|FILE`, or `chat_template` in incident-lens.toml)
overrides it, or supplies one where the file has none (base models such as Gemma 3 270M).

Usage: `name, text = resolve_chat_template("chatml")` or `resolve_chat_template("my-template.jinja")`.

The built-in templates are copied verbatim from the `chat_template` of each model's published
tokenizer_config.json (JSON escapes decoded: a `\\n` there is a newline here).
"""

from __future__ import annotations

from pathlib import Path

from incident_lens.errors import UserError

# teknium/OpenHermes-2.5-Mistral-7B (plain ChatML: Qwen, SmolLM, Hermes, ...).
CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

# meta-llama/Meta-Llama-3-8B-Instruct.
LLAMA3 = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + "
    "message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
    "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
)

# google/gemma-3-1b-it (and the other Gemma 3 instruct models). Gemma has no system turn: this
# template itself puts a system message at the top of the first user turn.
GEMMA = """{{ bos_token }}
{%- if messages[0]['role'] == 'system' -%}
    {%- if messages[0]['content'] is string -%}
        {%- set first_user_prefix = messages[0]['content'] + '\n\n' -%}
    {%- else -%}
        {%- set first_user_prefix = messages[0]['content'][0]['text'] + '\n\n' -%}
    {%- endif -%}
    {%- set loop_messages = messages[1:] -%}
{%- else -%}
    {%- set first_user_prefix = "" -%}
    {%- set loop_messages = messages -%}
{%- endif -%}
{%- for message in loop_messages -%}
    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}
        {{ raise_exception("Conversation roles must alternate user/assistant/user/assistant/...") }}
    {%- endif -%}
    {%- if (message['role'] == 'assistant') -%}
        {%- set role = "model" -%}
    {%- else -%}
        {%- set role = message['role'] -%}
    {%- endif -%}
    {{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else "") }}
    {%- if message['content'] is string -%}
        {{ message['content'] | trim }}
    {%- elif message['content'] is iterable -%}
        {%- for item in message['content'] -%}
            {%- if item['type'] == 'image' -%}
                {{ '<start_of_image>' }}
            {%- elif item['type'] == 'text' -%}
                {{ item['text'] | trim }}
            {%- endif -%}
        {%- endfor -%}
    {%- else -%}
        {{ raise_exception("Invalid content type") }}
    {%- endif -%}
    {{ '<end_of_turn>\n' }}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {{'<start_of_turn>model\n'}}
{%- endif -%}
"""

# microsoft/Phi-3-mini-4k-instruct.
PHI3 = (
    "{% for message in messages %}{% if message['role'] == 'system' %}{{'<|system|>\n' + message['content'] + '<|end|>\n'}}"
    "{% elif message['role'] == 'user' %}{{'<|user|>\n' + message['content'] + '<|end|>\n'}}"
    "{% elif message['role'] == 'assistant' %}{{'<|assistant|>\n' + message['content'] + '<|end|>\n'}}{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% else %}{{ eos_token }}{% endif %}"
)

# mistralai/Mistral-7B-Instruct-v0.2 (also Mixtral-8x7B-Instruct-v0.1). It refuses a system message;
# the engine then puts the system text at the top of the first user message.
MISTRAL = (
    "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}"
    "{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}"
)

BUILTIN = {"chatml": CHATML, "gemma": GEMMA, "llama3": LLAMA3, "mistral": MISTRAL, "phi3": PHI3}

# Larger than any real template (Llama 3.1's with tools is ~10 kB): a bigger "template" is a wrong file.
MAX_TEMPLATE_BYTES = 256_000


def resolve_chat_template(value: str) -> tuple[str, str]:
    """(label, Jinja text) for a built-in name or a template file; one-line `UserError` otherwise."""
    names = ", ".join(sorted(BUILTIN))
    key = str(value).strip()
    if key.lower() in BUILTIN:
        return key.lower(), BUILTIN[key.lower()]
    path = Path(key).expanduser()
    if not path.is_file():
        raise UserError(f"--chat-template {value}: not a built-in template ({names}) and no such file; "
                        "give one of those names or the path of a Jinja chat template file")
    if path.stat().st_size > MAX_TEMPLATE_BYTES:
        raise UserError(f"{path}: {path.stat().st_size} bytes is too big for a chat template; give a Jinja template file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{path}: not a UTF-8 text file; give a Jinja chat template file") from None
    if "messages" not in text:
        raise UserError(f"{path}: does not look like a chat template (it never reads `messages`)")
    return str(path.absolute()), text


def fold_system_into_first_user(messages: list[dict]) -> list[dict]:
    """The conversation without a system turn: its text leads the first user message.

    For templates that refuse a system message (Mistral v0.2, Gemma 1/2) or drop it; this is what
    Gemma 3's own template does.
    """
    if not messages or messages[0]["role"] != "system":
        return messages
    system, rest = messages[0]["content"], messages[1:]
    if rest and rest[0]["role"] == "user":
        return [{"role": "user", "content": f"{system}\n\n{rest[0]['content']}"}, *rest[1:]]
    return [{"role": "user", "content": system}, *rest]
