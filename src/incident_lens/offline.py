"""Offline guards: environment settings that keep every library off the network.

Imported by `incident_lens/__init__.py` before any third-party import; `activate(home)` is called
again when `--home` moves the workspace, before DSPy is imported.
"""

from __future__ import annotations

import os
from pathlib import Path

# Values that must hold for the process to be offline. Forced, not defaulted: a TRE user who
# exported HF_HUB_OFFLINE=0 by habit must still not reach a hub.
FORCED = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",
    # litellm (pulled in by dspy) fetches a price map from the internet at import unless this is set.
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    # Chroma's product telemetry (posthog).
    "ANONYMIZED_TELEMETRY": "False",
    "TOKENIZERS_PARALLELISM": "false",
}


# Where each library that writes a cache or config keeps it, under `<workspace>/cache/`. DSPy's holds
# prompts (report text); the others hold none, but a run writes nothing outside the workspace and its
# outputs. Without these: ~/.dspy_cache, ~/.cache/huggingface, ~/.cache/matplotlib and
# ~/.config/matplotlib, and $TMPDIR/torchinductor_<user> (made when sentence-transformers imports torch).
CACHE_DIRS = {
    "DSPY_CACHEDIR": "dspy",
    "HF_HOME": "hf",
    "MPLCONFIGDIR": "matplotlib",
    "TORCHINDUCTOR_CACHE_DIR": "torchinductor",
}


def activate(home: Path) -> None:
    """Set the offline variables and point every library cache (`CACHE_DIRS`) into the workspace."""
    os.environ.update(FORCED)
    cache = Path(home).absolute() / "cache"
    for name, folder in CACHE_DIRS.items():
        os.environ[name] = str(cache / folder)


def status() -> dict[str, bool]:
    """Which guards hold in this process (for `incident-lens doctor`, which also checks DSPy's cache itself)."""
    checks = {name: os.environ.get(name) == value for name, value in FORCED.items()}
    import socket

    checks["socket guard"] = bool(getattr(socket.socket.connect, "_incident_lens_guard", False))
    return checks


class NetworkBlocked(OSError):
    """Raised when code tries to reach a non-loopback address while the guard is on."""


_blocked_attempts: list[str] = []
_allowed_hosts: set[str] = set()


def _is_loopback(host) -> bool:
    import ipaddress

    if isinstance(host, str) and host.lower() in ("localhost", "localhost.localdomain", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


def allow_host(host: str) -> None:
    """Let the guard through to one host the user named explicitly (a remote model server)."""
    _allowed_hosts.add(host.lower())


def install_socket_guard() -> None:
    """Make every non-loopback connection (and name lookup) fail, in this process, from now on.

    A second line of defence behind the environment settings: whatever a library forgets, the
    attempt is refused and recorded (see `blocked_attempts`); `allow_host` makes the one exception.
    """
    import socket

    if getattr(socket.socket.connect, "_incident_lens_guard", False):
        return
    real_connect, real_connect_ex, real_getaddrinfo = socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo
    allowed = _allowed_hosts

    def permitted(sock, address) -> bool:
        if sock.family not in (socket.AF_INET, socket.AF_INET6):
            return True
        host = address[0] if isinstance(address, tuple) else address
        return _is_loopback(host) or str(host).lower() in allowed

    def connect(sock, address):
        if not permitted(sock, address):
            _blocked_attempts.append(str(address[0] if isinstance(address, tuple) else address))
            raise NetworkBlocked(f"incident-lens is offline: connection to {address!r} refused")
        return real_connect(sock, address)

    def connect_ex(sock, address):
        if not permitted(sock, address):
            _blocked_attempts.append(str(address[0] if isinstance(address, tuple) else address))
            raise NetworkBlocked(f"incident-lens is offline: connection to {address!r} refused")
        return real_connect_ex(sock, address)

    def getaddrinfo(host, *args, **kwargs):
        if host is not None and not _is_loopback(host) and str(host).lower() not in allowed:
            _blocked_attempts.append(str(host))
            raise NetworkBlocked(f"incident-lens is offline: name lookup of {host!r} refused")
        return real_getaddrinfo(host, *args, **kwargs)

    connect._incident_lens_guard = True
    socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo = connect, connect_ex, getaddrinfo


def blocked_attempts() -> list[str]:
    return list(_blocked_attempts)
