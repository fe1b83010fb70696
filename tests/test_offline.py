"""Offline by construction: the demo flow runs with every non-loopback connection made to fail."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from incident_lens import offline
from incident_lens.cli import app


def _host(address) -> str:
    return str(address[0] if isinstance(address, tuple) else address)


def test_demo_flow_tries_no_network(home, monkeypatch):
    tried: list[str] = []
    real_connect, real_getaddrinfo = socket.socket.connect, socket.getaddrinfo

    def connect(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not offline._is_loopback(_host(address)):
            tried.append(_host(address))
            raise OSError("network disabled by test")
        return real_connect(sock, address)

    def getaddrinfo(host, *args, **kwargs):
        if host is not None and not offline._is_loopback(host):
            tried.append(str(host))
            raise OSError("network disabled by test")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    before = len(offline.blocked_attempts())

    result = CliRunner().invoke(app, ["demo", "--limit", "200"])

    assert result.exit_code == 0, result.output
    assert tried == [] and offline.blocked_attempts()[before:] == []
    assert (home / "index").is_dir() and any((home / "runs").glob("*-demo/manifest.json"))
    for name, value in offline.FORCED.items():
        assert os.environ[name] == value
    assert os.environ["DSPY_CACHEDIR"].startswith(str(home))


def test_socket_guard_refuses_remote_and_allows_loopback():
    offline.install_socket_guard()
    with socket.socket() as sock, pytest.raises(offline.NetworkBlocked):
        sock.connect(("192.0.2.1", 80))  # TEST-NET-1: never routable
    assert "192.0.2.1" in offline.blocked_attempts()
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    with server, socket.socket() as sock:
        sock.connect(server.getsockname())  # loopback still works (llama-server, chroma server)


# Run in a fresh interpreter with nothing from incident_lens imported first: refuses (and records)
# every connection and name lookup, then imports the libraries in the order given.
IMPORT_FIRST = r"""
import json, socket, sys
tried = []

def refuse(host):
    tried.append(str(host))
    raise OSError("network disabled by test")

socket.socket.connect = lambda sock, address: refuse(address)
socket.getaddrinfo = lambda host, *args, **kwargs: refuse(host)
for name in sys.argv[1:]:
    __import__(name)
import dspy
litellm_loaded_by_dspy = "litellm" in sys.modules
import litellm  # what DSPy loads on its first LiteLLM-backed call
import huggingface_hub.constants as hub  # what the embedder loads
print(json.dumps({"tried": tried, "litellm_loaded_by_dspy": litellm_loaded_by_dspy, "hub_offline": hub.HF_HUB_OFFLINE,
                  "dspy_cache_built": "cache" in vars(dspy), "incident_lens": "incident_lens" in sys.modules}))
"""


@pytest.mark.parametrize("first", [["programs"], ["retrieval", "programs"]])
def test_importing_a_library_first_stays_offline_and_writes_nothing(tmp_path, first):
    home, tmp = tmp_path / "home", tmp_path / "tmp"
    home.mkdir()
    tmp.mkdir()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "TMPDIR": str(tmp)}
    done = subprocess.run([sys.executable, "-c", IMPORT_FIRST, *first], env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["tried"] == [], "litellm (or another import) tried the network"
    assert not seen["incident_lens"], "the libraries must not import the application"
    assert seen["litellm_loaded_by_dspy"] is False and seen["dspy_cache_built"] is False
    if "retrieval" in first:
        assert seen["hub_offline"] is True
    assert list(home.iterdir()) == [] and list(tmp.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "tmp"]


def test_doctor_checks_that_dspys_cache_is_inside_the_workspace(home, tmp_path, monkeypatch):
    import dspy
    from dspy.clients.cache import Cache

    from incident_lens.config import Settings
    from incident_lens.pipelines.doctor import run_checks

    def cache_check(settings):
        [check] = [c for c in run_checks(settings) if c.name == "dspy cache"]
        return check

    offline.activate(home)
    monkeypatch.delitem(vars(dspy), "cache", raising=False)  # as in a fresh process: not built yet
    check = cache_check(Settings(home=home))
    assert check.ok and check.value == str((home / "cache" / "dspy").resolve())
    assert dspy.cache.disk_cache_dir == str(home / "cache" / "dspy")

    # The workspace moved (--home) but DSPY_CACHEDIR did not follow: the CLI says so and exits 1,
    # and nothing is created where DSPy would have put it.
    elsewhere = tmp_path / "elsewhere"
    monkeypatch.delitem(vars(dspy), "cache")
    monkeypatch.delitem(offline.CACHE_DIRS, "DSPY_CACHEDIR")
    monkeypatch.setenv("DSPY_CACHEDIR", str(elsewhere))
    result = CliRunner().invoke(app, ["--home", str(home), "doctor"])
    assert result.exit_code == 1
    assert "offline/dspy cache" in " ".join(result.output.split())
    assert not elsewhere.exists() and "cache" not in vars(dspy)

    # A cache built elsewhere that DSPy would not move.
    monkeypatch.setitem(vars(dspy), "cache", Cache(True, True, str(elsewhere), 10**6, 10))
    monkeypatch.setattr(dspy, "configure_cache", lambda **kwargs: None)
    check = cache_check(Settings(home=home))
    assert not check.ok and check.value.startswith(f"{elsewhere.resolve()} is outside the workspace")
