"""The OpenAI-compatible server backend: loopback-only URLs, and a real HTTP round trip.

The server here stands in for llama.cpp's `llama-server`: it answers `/v1/chat/completions` with the tiny
GGUF through llama-cpp-python, turning the `json_schema` response format into a grammar as llama-server does.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dspy
import pytest

from incident_lens.config import Settings
from incident_lens.errors import UserError
from incident_lens.llm import build_lm, check_server_url
from incident_lens.task_files import Label, Task
from programs import build_program, prediction_labels


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/v1", "http://localhost:8080", "http://[::1]:9000/v1/"])
def test_loopback_urls_are_accepted(url):
    assert check_server_url(url).endswith("/v1")


def test_remote_host_is_refused_unless_explicitly_allowed():
    with pytest.raises(UserError, match="--allow-remote-server") as caught:
        check_server_url("http://10.1.2.3:8080/v1")
    assert "\n" not in str(caught.value)
    from incident_lens import offline

    try:
        assert check_server_url("http://10.1.2.3:8080", allow_remote=True) == "http://10.1.2.3:8080/v1"
        assert "10.1.2.3" in offline._allowed_hosts  # the socket guard lets that one host through
    finally:
        offline._allowed_hosts.discard("10.1.2.3")


def test_non_http_url_is_refused():
    with pytest.raises(UserError, match="not an http"):
        check_server_url("file:///etc/passwd")


@pytest.fixture(scope="module")
def server(tiny_gguf):
    from llama_cpp import Llama

    llama = Llama(str(tiny_gguf), n_ctx=4096, n_threads=1, verbose=False)
    seen: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's naming)
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append(body)
            fmt = body.get("response_format") or {}
            schema = fmt.get("json_schema", {}).get("schema")
            out = llama.create_chat_completion(
                messages=body["messages"], max_tokens=body.get("max_tokens"), temperature=body.get("temperature", 0),
                response_format={"type": "json_object", "schema": schema} if schema else None)
            data = json.dumps(out).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1", seen
    httpd.shutdown()


def test_labeller_runs_against_the_server_with_the_schema_sent(server, tmp_path):
    url, seen = server
    task = Task("kind", "single", "What kind of incident.", ("text",), (Label("fall", "a fall"), Label("medication", "a drug error")))
    lm = build_lm(Settings(home=tmp_path / "ws"), server_url=url, cache=False)
    assert lm.model.startswith("server/")
    with dspy.context(lm=lm):
        prediction = build_program(task)(report="Patient found on the floor beside the bed.")
    assert prediction_labels(task, prediction) in task.label_names
    sent = seen[-1]["response_format"]
    assert sent["type"] == "json_schema"
    assert sent["json_schema"]["schema"]["properties"]["label"]["enum"] == task.label_names


def test_unreachable_server_is_an_lm_error_not_a_hang(tmp_path):
    from dspy.utils.exceptions import LMError

    lm = build_lm(Settings(home=tmp_path / "ws"), server_url="http://127.0.0.1:9/v1", cache=False)
    with pytest.raises(LMError):
        lm("hello")
