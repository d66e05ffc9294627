"""The baseline of ``benchmarks/widgets_endpoint.py``: a bare Flask app with one JSON endpoint
at the same path, answering the same bytes as Kedai's widget list (read once from
``BENCH_BODY_FILE``), served by the same gunicorn setup."""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask, Response

app = Flask(__name__)
_BODY = (Path(os.environ["BENCH_BODY_FILE"]).read_bytes() if os.environ.get("BENCH_BODY_FILE")
         else b'{"widgets":[]}')


@app.get("/storefront/<store_slug>/widgets")
def widgets(store_slug: str) -> Response:
    return Response(_BODY, mimetype="application/json")


@app.get("/healthz")
def healthz() -> Response:
    return Response(b'{"status":"ok"}', mimetype="application/json")
