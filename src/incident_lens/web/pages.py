"""Rendering a page from the shipped templates, and the one-message page used for every bad input.

Usage: `page(request, "search.html", {...}, status=200)`; `message_page(request, "no report with id ...", 404)`.
"""

from __future__ import annotations

from starlette.requests import Request


def page(request: Request, name: str, context: dict | None = None, status: int = 200):
    context = {"service": request.app.state.service, **(context or {})}
    return request.app.state.templates.TemplateResponse(request, name, context, status_code=status)


def message_page(request: Request, message: str, status: int, title: str = "Cannot show that"):
    return page(request, "message.html", {"title": title, "message": message}, status)
