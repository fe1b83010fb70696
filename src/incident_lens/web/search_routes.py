"""Search page (`/search`, the query in the URL) and a report's own page (`/report/ID`) with its similar incidents.

Usage: the app mounts `ROUTES`. Read-only: nothing here writes anywhere.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from incident_lens.web.pages import message_page, page
from incident_lens.web.forms import MAX_QUERY, SearchParams
from incident_lens.web.highlight import mark_terms
from retrieval.search import MODES

SIMILAR_K = 8
MAX_ID = 200


def search(request: Request):
    service = request.app.state.service
    params, problems = SearchParams.from_query(request.query_params, service.fields, service.date_field,
                                               request.app.state.config.settings.k)
    outcome = None
    if params.q and not problems:
        outcome = service.search(params)
    rows = [_row(hit, service.date_field, params.q) for hit in outcome.hits] if outcome else []
    return page(request, "search.html", {
        "params": params, "problems": problems, "outcome": outcome, "rows": rows, "modes": MODES,
        "choices": service.choices, "max_query": MAX_QUERY,
    }, 400 if problems else 200)


def report(request: Request):
    service = request.app.state.service
    report_id = request.path_params["report_id"]
    if len(report_id) > MAX_ID:
        return message_page(request, f"report id: at most {MAX_ID} characters", 400)
    record = service.find(report_id)
    if record is None:
        return message_page(request, f"no report with id {report_id!r} in index '{service.collection}' ({service.count():,} reports); "
                            "check the id or search for the report", 404, "Report not found")
    q = " ".join(str(request.query_params.get("q", "")).split())[:MAX_QUERY]
    similar = [_row(hit, service.date_field, "") for hit in service.similar(report_id, SIMILAR_K)]
    return page(request, "report.html", {"record": record, "text": mark_terms(record.text, q), "similar": similar, "q": q,
                                         "date": record.metadata.get(service.date_field or "", "")})


def _row(hit, date_field: str | None, query: str) -> dict:
    meta = {k: v for k, v in hit.metadata.items() if k != date_field}
    return {"hit": hit, "date": hit.metadata.get(date_field or "", ""), "meta": meta, "snippet": mark_terms(hit.snippet, query)}


ROUTES = [
    Route("/search", search),
    Route("/report/{report_id:path}", report),
]
