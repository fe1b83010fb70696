"""Review pages (`/review`, `/review/QUEUE/...`): a reviewer works through a queue with the keyboard.

Usage: `serve --queue queue.csv` (repeatable); the app opens each with `open_queues(config)` and mounts `ROUTES`.
The reviewer's name is asked once and kept in a same-site cookie. Each decision is a form POST carrying
the item's version; the queue (pipelines/reviewing.py) appends it to the audit log and rewrites the
corrected file, or refuses it when another tab decided the item first, and the page says so.
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote, urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool
from starlette.routing import Route

from incident_lens.errors import UserError
from incident_lens.pipelines.reviewing import MAX_REVIEWER, ReviewQueue, StaleDecision
from incident_lens.web.pages import page
from incident_lens.web.highlight import mark_quotes

COOKIE = "reviewer"
MAX_FORM = 8


def open_queues(config) -> dict[str, ReviewQueue]:
    """Queue slug (for URLs) -> the opened queue."""
    task = None
    if config.task:
        from incident_lens.inputs.task_files import find_task

        task = find_task(config.task, config.settings.workspace)
    queues = {}
    for path in config.queues:
        queue = ReviewQueue.open(config.settings.workspace, path, task)
        queues[re.sub(r"[^A-Za-z0-9_.-]", "_", queue.dir.name)] = queue
    return queues


def _queue(request: Request) -> tuple[str, ReviewQueue]:
    slug = request.path_params["queue"]
    queue = request.app.state.queues.get(slug)
    if queue is None:
        raise UserError(f"no review queue {slug!r}; the queues this server was started with are listed on the review page")
    return slug, queue


def reviewer(request: Request) -> str:
    return " ".join(unquote(request.cookies.get(COOKIE, "")).split())[:MAX_REVIEWER]


def overview(request: Request):
    queues = [{"slug": slug, "queue": q, "counts": q.counts()} for slug, q in request.app.state.queues.items()]
    return page(request, "review_list.html", {"queues": queues, "reviewer": reviewer(request)})


async def start(request: Request):
    form = await _form(request) if request.method == "POST" else None
    return await run_in_threadpool(_start, request, form)


def _start(request: Request, form):
    slug, queue = _queue(request)
    if form is not None:
        name = " ".join(str(form.get("reviewer", "")).split())
        if not name or len(name) > MAX_REVIEWER:
            return page(request, "review_start.html", {"slug": slug, "queue": queue, "problem": f"give your name (1-{MAX_REVIEWER} characters); it goes into the audit log with each decision"}, 400)
        response = RedirectResponse(f"/review/{slug}", status_code=303)
        response.set_cookie(COOKIE, quote(name), httponly=True, samesite="strict")
        return response
    if not reviewer(request):
        return page(request, "review_start.html", {"slug": slug, "queue": queue})
    item = queue.next_item(request.query_params.get("after"))
    if item is None:
        return page(request, "review_done.html", {"slug": slug, "queue": queue, "counts": queue.counts(), "reviewer": reviewer(request)})
    return RedirectResponse(f"/review/{slug}/item/{quote(item.key, safe='')}", status_code=303)


async def item(request: Request):
    # Deciding fsyncs and may wait on the queue's file lock: done in a worker thread, not on the event loop.
    form = await _form(request) if request.method == "POST" else None
    return await run_in_threadpool(_item, request, form)


def _item(request: Request, form):
    slug, queue = _queue(request)
    key = request.path_params["key"]
    if not reviewer(request):
        return RedirectResponse(f"/review/{slug}", status_code=303)
    current = queue.item(key)
    if form is None:
        return _item_page(request, slug, queue, current)
    version = str(form.get("version", ""))
    if not version.isdigit():
        return _item_page(request, slug, queue, current, "this form is missing its version; reload the page", 400)
    try:
        queue.decide(key, int(version), str(form.get("action", "")), reviewer(request), new=str(form.get("new", "")),
                     reason=str(form.get("reason", "")))
    except StaleDecision as stale:
        last = stale.latest or {}
        note = (f"another tab or reviewer decided this item first ({last.get('reviewer', '?')} at {last.get('when', '?')}: "
                f"{last.get('action', '?')}, {last.get('old', '')!s} -> {last.get('new', '')!s}); nothing was overwritten. "
                "This is the item as it is now: decide again, or move on.")
        return _item_page(request, slug, queue, current, note, 409)
    except UserError as exc:
        return _item_page(request, slug, queue, current, str(exc), 400)
    return RedirectResponse(f"/review/{slug}?after={quote(key, safe='')}", status_code=303)


async def _form(request: Request):
    """The posted form, refused when it comes from another site's page (the browser says so in Origin)."""
    origin = request.headers.get("origin")
    if origin and urlsplit(origin).netloc != request.headers.get("host"):
        raise UserError("this form was sent from another site's page; open the review page of this app and decide there")
    return await request.form(max_fields=MAX_FORM)


def _item_page(request: Request, slug: str, queue: ReviewQueue, current, problem: str = "", status: int = 200):
    record = request.app.state.service.find(current.id)
    text, found = mark_quotes(record.text if record else "", current.evidence)
    state = queue.state(current.key)
    return page(request, "review_item.html", {
        "slug": slug, "queue": queue, "item": current, "state": state, "value": queue.value(current), "record": record,
        "text": text, "evidence_found": found, "choices": queue.choices(), "counts": queue.counts(), "problem": problem,
        "reviewer": reviewer(request), "position": queue.items.index(current) + 1,
    }, status)


ROUTES = [
    Route("/review", overview),
    Route("/review/{queue}", start, methods=["GET", "POST"]),
    Route("/review/{queue}/item/{key:path}", item, methods=["GET", "POST"]),
]
