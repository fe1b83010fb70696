"""The OpenAI-compatible server backend: loopback-only URLs, a real HTTP round trip, the served model's
id in DSPy's cache key, refusal of cut-off answers, and one-line errors at start.

The `server` fixture stands in for llama.cpp's `llama-server`: it answers `/v1/chat/completions` with the
tiny GGUF through llama-cpp-python, turning the `json_schema` response format into a grammar as
llama-server does. The others use the scripted `FakeOpenAIServer` (tests/fake_openai_server.py).
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
from incident_lens.inputs.task_files import Label, Task
from programs import build_program, prediction_labels

from fake_openai_server import FakeOpenAIServer

TASK = Task("kind", "single", "What kind of incident.", ("text",), (Label("fall", "a fall"), Label("medication", "a drug error")))


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
        def do_GET(self):  # noqa: N802 (http.server's naming)
            data = json.dumps({"object": "list", "data": [{"id": "tiny.gguf", "object": "model"}]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

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
    assert lm.model.startswith("server/tiny.gguf@127.0.0.1:")
    with dspy.context(lm=lm):
        prediction = build_program(task)(report="Patient found on the floor beside the bed.")
    assert prediction_labels(task, prediction) in task.label_names
    assert seen[-1]["model"] == "tiny.gguf"  # the request names the served model
    sent = seen[-1]["response_format"]
    assert sent["type"] == "json_schema"
    assert sent["json_schema"]["schema"]["properties"]["label"]["enum"] == task.label_names


def test_unreachable_server_is_a_one_line_error_at_start(tmp_path):
    with pytest.raises(UserError, match=r"--server http://127.0.0.1:9/v1: no answer .*start the model server") as caught:
        build_lm(Settings(home=tmp_path / "ws"), server_url="http://127.0.0.1:9/v1", cache=False)
    assert "\n" not in str(caught.value)


def test_another_model_behind_the_same_url_does_not_replay_the_first_ones_answers(tmp_path):
    settings = Settings(home=tmp_path / "ws")
    with FakeOpenAIServer(models=["model-a"]) as server:
        first = build_lm(settings, server_url=server.url)
        assert "model-a" in first.model
        assert first("hello") == ["reply from model-a"]
        assert first("hello") == ["reply from model-a"] and len(server.requests) == 1  # the cache answered
        server.models = ["model-b"]  # the server restarted with another model on the same port
        second = build_lm(settings, server_url=server.url)
        assert "model-b" in second.model and second.model != first.model
        assert second("hello") == ["reply from model-b"] and len(server.requests) == 2


def test_llama_server_meta_tells_two_ggufs_under_one_alias_apart(tmp_path):
    settings = Settings(home=tmp_path / "ws")
    with FakeOpenAIServer(models=["local"], meta={"local": {"n_params": 135, "size": 98}}) as server:
        first = build_lm(settings, server_url=server.url, cache=False)
        server.meta["local"] = {"n_params": 3000, "size": 2000}
        second = build_lm(settings, server_url=server.url, cache=False)
    assert first.model.startswith("server/local#meta:") and first.model != second.model


def test_an_answer_cut_off_at_max_tokens_is_refused_like_the_in_process_engine(tmp_path):
    from dspy.lm15 import Config, InvalidRequestError, Message, Request

    from incident_lens.llm import engine_of

    with FakeOpenAIServer() as server:
        lm = build_lm(Settings(home=tmp_path / "ws"), server_url=server.url, cache=False)
        server.finish_reason = "length"
        fmt = {"type": "json_schema", "name": "out", "schema": {"type": "object", "properties": {"label": {"type": "string"}}}}
        request = Request(model=lm.model, messages=(Message.user("label this"),),
                          config=Config(max_tokens=16, response_format=fmt))
        with pytest.raises(InvalidRequestError, match="max_tokens=16 before the JSON was complete"):
            engine_of(lm).complete(request)
        with pytest.raises(Exception, match="before the JSON was complete"), dspy.context(lm=lm):
            build_program(TASK)(report="Patient found on the floor.")
        # Free text has no structure to break: a cut-off plain answer is returned, marked "length".
        plain = engine_of(lm).complete(Request(model=lm.model, messages=(Message.user("hi"),), config=Config(max_tokens=4)))
        assert plain.finish_reason == "length" and plain.text == "reply from model-a"


def test_several_served_models_need_server_model_and_settings_carry_the_server(tmp_path):
    with FakeOpenAIServer(models=["alpha", "beta"]) as server:
        with pytest.raises(UserError, match=r"lists 2 models \(alpha, beta\); choose one with --server-model"):
            build_lm(Settings(home=tmp_path / "ws"), server_url=server.url)
        with pytest.raises(UserError, match=r"--server-model 'gamma': not served .*alpha, beta"):
            build_lm(Settings(home=tmp_path / "ws", server_model="gamma"), server_url=server.url)
        # `server` and `server_model` from the settings (config file or options) need no server_url argument.
        lm = build_lm(Settings(home=tmp_path / "ws", server=server.url, server_model="beta"), cache=False)
        assert "beta" in lm.model and lm("hi") == ["reply from beta"]


def test_a_server_that_lists_no_models_is_refused(tmp_path):
    with FakeOpenAIServer() as server:
        server.model_listing = False
        with pytest.raises(UserError, match=r"GET /models answered HTTP 404; is this an OpenAI-compatible server"):
            build_lm(Settings(home=tmp_path / "ws"), server_url=server.url)
