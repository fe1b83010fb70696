"""The web app: its pages (search, report, themes, review), shipped templates and static files, and error pages.

Usage:
    app = create_app(WebConfig(settings, collection="incidents", queues=[Path("queue.csv")]))
    # then server.serve(app, "127.0.0.1", 8765), or starlette's TestClient(app) in tests
Every bad input is a page with one clear message (400/404/409); anything unexpected is a plain 500 page,
logged by exception type only, since an exception's message can quote report text.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from incident_lens.config import Settings
from incident_lens.errors import UserError
from incident_lens.web import review_routes, search_routes, themes_routes
from incident_lens.web.pages import message_page
from incident_lens.web.review_routes import open_queues
from incident_lens.web.service import SearchService
from retrieval.errors import RetrievalError

HERE = Path(__file__).parent
log = logging.getLogger("incident_lens.web")


@dataclass
class WebConfig:
    settings: Settings
    collection: str = "incidents"
    queues: list[Path] = field(default_factory=list)
    task: str | None = None  # labels a correction must be one of
    themes_file: Path | None = None  # default: <workspace>/themes/themes.json


def create_app(config: WebConfig, service=None) -> Starlette:
    """The app with its index loaded and warm (`service` may be passed in, e.g. shared between tests)."""
    if service is None:
        service = SearchService.open(config.settings, config.collection)
    app = Starlette(
        routes=[
            Route("/", lambda request: RedirectResponse("/search", status_code=307)),
            *search_routes.ROUTES,
            *themes_routes.ROUTES,
            *review_routes.ROUTES,
            Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
        ],
        middleware=[Middleware(PageErrors)],
        exception_handlers={UserError: _bad_input, RetrievalError: _bad_input, 404: _not_found, 405: _not_allowed},
    )
    app.state.config = config
    app.state.service = service
    app.state.templates = Jinja2Templates(directory=HERE / "templates")
    app.state.queues = open_queues(config)
    return app


async def _bad_input(request: Request, exc: Exception):
    return message_page(request, str(exc), 400)


async def _not_found(request: Request, exc: Exception):
    return message_page(request, f"no page at {request.url.path}; use the links above", 404, "Not found")


async def _not_allowed(request: Request, exc: Exception):
    return message_page(request, f"{request.method} is not used on {request.url.path}", 405, "Not allowed")


class PageErrors:
    """Turns an unexpected exception into a plain 500 page; logs its type, never its message or traceback."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def tracked(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as exc:  # noqa: BLE001 - the page must not become a traceback
            log.error("%s %s failed: %s (details withheld: they may quote report text)", scope.get("method"), scope.get("path"),
                      type(exc).__name__)
            if not started:
                body = ("<!doctype html><title>Error</title><p>Something went wrong on the server; the request was not "
                        "completed. Details are withheld from the log because they may quote report text.</p><p><a href='/search'>Back to search</a></p>")
                await HTMLResponse(body, status_code=500)(scope, receive, send)
