"""Offline by construction: the demo flow runs with every non-loopback connection made to fail."""

from __future__ import annotations

import os
import socket

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
