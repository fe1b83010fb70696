"""A tiny OpenAI-compatible HTTP server on loopback for tests: `GET /v1/models` and `POST /v1/chat/completions`.

Usage:
    with FakeOpenAIServer(models=["model-a"]) as server:
        build_lm(Settings(...), server_url=server.url)
        server.requests[-1]["messages"]      # what the client sent
It answers a JSON-schema request with the simplest object that fits the schema (first enum value, empty
lists, "x" strings), anything else with `reply from <model>`; `finish_reason` can be set to "length".
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def fill(schema: dict, root: dict | None = None):
    """The simplest value that satisfies `schema` (enough for DSPy's output schemas)."""
    root = root or schema
    if "$ref" in schema:
        name = schema["$ref"].split("/")[-1]
        return fill((root.get("$defs") or root.get("definitions") or {})[name], root)
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"] or schema[key]
            return fill(options[0], root)
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or "properties" in schema:
        return {name: fill(sub, root) for name, sub in (schema.get("properties") or {}).items()}
    if kind == "array":
        return [fill(schema["items"], root) for _ in range(schema.get("minItems", 0))]
    if kind == "string":
        return "x"
    if kind in ("integer", "number"):
        return 0
    if kind == "boolean":
        return False
    return None


class FakeOpenAIServer:
    def __init__(self, models: list[str] | None = None, meta: dict | None = None):
        self.models = list(models or ["model-a"])
        self.meta = dict(meta or {})  # model id -> llama-server style `meta` object
        self.requests: list[dict] = []
        self.finish_reason = "stop"
        self.model_listing = True  # False: GET /v1/models answers 404
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _send(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):  # noqa: N802 (http.server's naming)
                if self.path.rstrip("/") != "/v1/models" or not server.model_listing:
                    self._send(404, {"error": "not found"})
                    return
                data = [{"id": m, "object": "model", "owned_by": "test", **({"meta": server.meta[m]} if m in server.meta else {})}
                        for m in server.models]
                self._send(200, {"object": "list", "data": data})

            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append(body)
                schema = ((body.get("response_format") or {}).get("json_schema") or {}).get("schema")
                content = json.dumps(fill(schema)) if schema else f"reply from {body.get('model')}"
                self._send(200, {
                    "id": "chatcmpl-test", "object": "chat.completion", "model": body.get("model"),
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                                 "finish_reason": server.finish_reason}],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
                })

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def prompts(self) -> list[str]:
        """Every chat request's messages joined into one text (system and user), in order."""
        return ["\n".join(m.get("content") or "" for m in body["messages"]) for body in self.requests]

    def __enter__(self) -> "FakeOpenAIServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
