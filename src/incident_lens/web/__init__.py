"""The local web app (`incident-lens serve`): search, report, themes and review pages over a warm index.

Usage: `app = create_app(WebConfig(settings, "incidents", queues=[Path("queue.csv")]))` (see `app.py`);
`serve(app, host, port)` (see `server.py`). Templates and static files ship in this package: no page
loads anything from outside the machine.
"""
