"""Running the app under uvicorn: loopback by default, and an access log that never holds a query string.

Usage: `serve(app, host="127.0.0.1", port=8765)` (blocks until Ctrl-C); `warn_if_exposed(host)` says
what binding another address means. Search queries are in the URL (so links can be shared) and may
quote patient text, so the access log keeps method, path and status but drops everything after `?`.
"""

from __future__ import annotations

import ipaddress
import logging

LOOPBACK = "127.0.0.1"


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def exposure_warning(host: str) -> str | None:
    """The warning to print when `host` is not a loopback address, else None."""
    if is_loopback(host):
        return None
    return (f"serving on {host}: other machines that can reach this one can open the app, search the reports and read "
            "them in full, with no login. Use the default (127.0.0.1) unless the network is the TRE's own and that is intended.")


class NoQueryStrings(logging.Filter):
    """Cuts the query string from uvicorn's access-log line (`%s - "%s %s HTTP/%s" %d`: the third value is the path)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str) and "?" in args[2]:
            record.args = (*args[:2], args[2].split("?", 1)[0] + "?[query withheld]", *args[3:])
        return True


def make_server(app, host: str = LOOPBACK, port: int = 8765, log_level: str = "info"):
    """A uvicorn server for `app`, its access log filtered (see `NoQueryStrings`); call `.run()` to serve."""
    import uvicorn

    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, server_header=False, proxy_headers=False, lifespan="off")
    # uvicorn configures its loggers in Config(); the filter goes on after that, so it is not replaced.
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, NoQueryStrings) for f in access.filters):
        access.addFilter(NoQueryStrings())
    return uvicorn.Server(config)


def serve(app, host: str = LOOPBACK, port: int = 8765, log_level: str = "info") -> None:
    make_server(app, host, port, log_level).run()
