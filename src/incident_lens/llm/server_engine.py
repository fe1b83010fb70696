"""DSPy engine for an OpenAI-compatible chat server (llama.cpp's `llama-server`, vLLM) reached by URL.

Usage: `ServerEngine(check_server_url("http://127.0.0.1:8080/v1"))`; normally through
`build_lm(settings)` with `settings.server` set (`--server URL`). Offline by construction: only loopback
hosts are accepted unless the user names a remote host explicitly (`allow_remote=True`, the CLI's
`--allow-remote-server`).
At start the engine asks the server which model it serves (`GET /v1/models`; an unreachable server is a
one-line `UserError`) and names that model in its model string, DSPy's cache key: another model behind
the same URL never gets the first one's cached answers. An answer cut off at max_tokens while a JSON
schema was asked for is refused, as the in-process engine does (a repaired half answer would look valid).
The JSON schema goes out in the OpenAI `json_schema` form, which llama-server and vLLM turn into a
grammar (llama-cpp-python's own server does not: use llama-server).
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
from urllib.parse import urlsplit

from incident_lens.errors import UserError

LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def check_server_url(url: str, allow_remote: bool = False) -> str:
    """The base URL (ending in `/v1`), or a one-line `UserError` for a bad or non-loopback URL."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UserError(f"--server {url!r}: not an http(s) URL; give e.g. http://127.0.0.1:8080/v1")
    if not is_loopback(parts.hostname):
        if not allow_remote:
            raise UserError(
                f"--server {url!r}: host '{parts.hostname}' is not this machine; incident-lens only talks to "
                "loopback servers (127.0.0.1, localhost) unless you allow a remote one with --allow-remote-server")
        from incident_lens import offline

        offline.allow_host(parts.hostname)
    base = url.strip().rstrip("/")
    return base if base.endswith("/v1") else base + "/v1"


def served_models(client, base_url: str) -> list[dict]:
    """The server's `GET /models` entries (`id`, and llama-server's `meta`), or a one-line `UserError`."""
    import httpx

    try:
        reply = client.get("/models", timeout=10.0)
    except httpx.HTTPError as exc:
        raise UserError(f"--server {base_url}: no answer ({type(exc).__name__}); start the model server "
                        "(e.g. `llama-server -m MODEL.gguf --port 8080`) or check the URL") from None
    if reply.status_code >= 400:
        raise UserError(f"--server {base_url}: GET /models answered HTTP {reply.status_code}; "
                        "is this an OpenAI-compatible server (llama-server, vLLM)?")
    try:
        entries = reply.json().get("data")
    except (ValueError, AttributeError):
        entries = None
    if not isinstance(entries, list) or not all(isinstance(e, dict) and e.get("id") for e in entries):
        raise UserError(f"--server {base_url}: GET /models did not list models with ids; "
                        "is this an OpenAI-compatible server (llama-server, vLLM)?")
    return entries


class ServerEngine:
    """A `dspy.LM` engine: one `POST /chat/completions` per request, to the model the server names.

    `model`: which of the server's models to use; None takes the only one it serves (a server with
    several must be told which: a one-line `UserError` lists them).
    """

    supports_response_schema = True
    supported_params = {"response_format", "max_tokens", "temperature", "top_p", "seed", "stop"}

    def __init__(self, base_url: str, model: str | None = None, timeout_s: float = 600.0):
        import httpx

        self.base_url = base_url
        # trust_env=False: a proxy variable must not route a loopback request off the machine.
        self.client = httpx.Client(base_url=base_url, timeout=timeout_s, trust_env=False)
        try:
            entries = served_models(self.client, base_url)
        except UserError:
            self.client.close()
            raise
        ids = [str(e["id"]) for e in entries]
        if not ids:
            self.client.close()
            raise UserError(f"--server {base_url}: the server lists no model (GET /models); load one into it first")
        if model is None and len(ids) > 1:
            self.client.close()
            raise UserError(f"--server {base_url}: the server lists {len(ids)} models ({', '.join(ids)}); "
                            "choose one with --server-model (or server_model in incident-lens.toml)")
        if model is not None and model not in ids:
            self.client.close()
            raise UserError(f"--server-model {model!r}: not served at {base_url}; the server lists: {', '.join(ids)}")
        self.model = model if model is not None else ids[0]
        # llama-server's `meta` (parameter count, size, vocabulary, trained context) tells two GGUFs apart
        # even when they are served under the same alias; vLLM has none (its id is the model's name).
        meta = next(e for e in entries if str(e["id"]) == self.model).get("meta")
        self.meta = meta if isinstance(meta, dict) else None

    @property
    def model_string(self) -> str:
        """DSPy's cache key: the served model's id (and a digest of llama-server's model meta) at the URL."""
        host = urlsplit(self.base_url).netloc
        name = re.sub(r"[^A-Za-z0-9._:/-]+", "-", self.model)
        digest = f"#meta:{hashlib.sha256(json.dumps(self.meta, sort_keys=True).encode()).hexdigest()[:16]}" if self.meta else ""
        return f"server/{name}{digest}@{host}"

    def describe(self) -> dict:
        return {"backend": "OpenAI-compatible server", "url": self.base_url, "model": self.model,
                **({"model_meta": self.meta} if self.meta else {})}

    def body(self, request) -> dict:
        config = request.config
        messages = []
        if request.system is not None:
            system = request.system if isinstance(request.system, str) else "".join(p.text for p in request.system)
            messages.append({"role": "system", "content": system})
        messages.extend({"role": m.role, "content": m.text or ""} for m in request.messages)
        body = {"model": self.model, "messages": messages}
        for name in ("max_tokens", "temperature", "top_p", "seed"):
            if getattr(config, name) is not None:
                body[name] = getattr(config, name)
        if config.stop:
            body["stop"] = list(config.stop)
        fmt = config.response_format
        if fmt and fmt.get("type") == "json_schema":
            body["response_format"] = {"type": "json_schema", "json_schema": {
                "name": fmt.get("name", "output"), "schema": fmt["schema"], "strict": fmt.get("strict", True)}}
        elif fmt:
            body["response_format"] = {"type": "json_object"}
        return body

    def complete(self, request):
        import httpx
        from dspy import lm15
        from dspy.lm15 import Message, Response, TextPart, Usage

        try:
            reply = self.client.post("/chat/completions", json=self.body(request))
        except httpx.TimeoutException as exc:
            raise lm15.TimeoutError(f"model server at {self.base_url} did not answer in time", provider="server") from exc
        except httpx.HTTPError as exc:
            raise lm15.TransportError(f"model server at {self.base_url} unreachable ({type(exc).__name__})", provider="server") from exc
        if reply.status_code >= 400:
            text = reply.text[:200]
            kind = lm15.ContextLengthError if "context" in text.lower() else lm15.ServerError if reply.status_code >= 500 else lm15.InvalidRequestError
            raise kind(f"model server answered HTTP {reply.status_code}: {text}", provider="server", status=reply.status_code)
        data = reply.json()
        choice = data["choices"][0]
        usage = data.get("usage") or {}
        finish = choice.get("finish_reason") or "stop"
        if finish == "length" and request.config.response_format:
            # The JSON answer is cut off; json_repair would quietly complete it, so refuse it here.
            raise lm15.InvalidRequestError(
                f"the answer reached max_tokens={request.config.max_tokens} before the JSON was complete; "
                "raise max_tokens or shorten the output fields", provider="server")
        return Response(
            id=data.get("id"), model=request.model,
            message=Message.assistant([TextPart(choice["message"].get("content") or "")]),
            finish_reason=finish if finish in ("stop", "length", "content_filter") else "stop",
            usage=Usage(input_tokens=usage.get("prompt_tokens"), output_tokens=usage.get("completion_tokens")),
        )

    def stream(self, request):
        from dspy.lm15 import response_to_events

        return response_to_events(self.complete(request))

    def close(self) -> None:
        self.client.close()
