"""The web app of a served run (FastAPI): one page and a small JSON API, all behind a token.

Every request needs the access token, as the ``token`` query parameter (the page's URL, particle
images) or the ``X-FKC-Token`` header (the page's API calls); anything else gets 403 before any
route runs, so nothing of the run (particles included) is visible without it.

Routes: ``GET /`` the page; ``GET /api/state`` what the page shows; ``GET
/api/particle/{id}.png`` one query's particle; ``GET /api/report/curves.png`` the report's curves
(after the last round); ``POST /api/answers`` a round's ratings (see
:meth:`~fkc_align.serve.session.ServeSession.submit`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from importlib import resources

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from .session import AnswerError, ServeSession

TOKEN_HEADER = "X-FKC-Token"


def new_token() -> str:
    """A fresh access token (URL-safe, 192 bits)."""
    return secrets.token_urlsafe(24)


def _page() -> tuple[str, str]:
    """The page with its script and style inlined, and the Content-Security-Policy that allows
    exactly those (by hash) and nothing from elsewhere."""
    static = resources.files(__package__) / "static"
    html = (static / "index.html").read_text(encoding="utf-8")
    script = (static / "app.js").read_text(encoding="utf-8")
    style = (static / "style.css").read_text(encoding="utf-8")

    def digest(text: str) -> str:
        return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"

    html = html.replace("<style></style>", f"<style>{style}</style>").replace(
        "<script></script>", f"<script>{script}</script>")
    csp = (f"default-src 'none'; img-src 'self' data:; connect-src 'self'; "
           f"style-src {digest(style)}; script-src {digest(script)}; base-uri 'none'; "
           f"form-action 'none'; frame-ancestors 'none'")
    return html, csp


def make_app(session: ServeSession, token: str) -> FastAPI:
    """The app serving ``session``; every request must carry ``token``."""
    if not isinstance(token, str) or len(token) < 16:
        raise ValueError(f"token: expected a string of at least 16 characters, got "
                         f"{len(token) if isinstance(token, str) else type(token).__name__}")
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    page, csp = _page()
    expected = token.encode()

    @app.middleware("http")
    async def require_token(request: Request, call_next):
        given = request.headers.get(TOKEN_HEADER) or request.query_params.get("token") or ""
        if not secrets.compare_digest(given.encode(), expected):
            response: Response = PlainTextResponse(
                "403 Forbidden: a missing or wrong access token. Open the URL that "
                "`fkc-align serve` printed (it ends in ?token=...).", status_code=403)
        else:
            response = await call_next(request)
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "no-referrer"  # the token is in the page's URL
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    @app.get("/")
    def index() -> HTMLResponse:
        return HTMLResponse(page, headers={"Content-Security-Policy": csp})

    @app.get("/api/state")
    def state() -> JSONResponse:
        return JSONResponse(session.state())

    @app.get("/api/particle/{query_id}.png")
    def particle(query_id: str) -> Response:
        png = session.particle_png(query_id)
        if png is None:
            return JSONResponse({"detail": f"no query {query_id!r} in this run"}, 404)
        return Response(png, media_type="image/png")

    @app.get("/api/report/curves.png")
    def curves() -> Response:
        png = session.curves_png()
        if png is None:
            return JSONResponse({"detail": "the report exists once the budget is spent"}, 404)
        return Response(png, media_type="image/png")

    @app.post("/api/answers")
    async def answers(request: Request) -> JSONResponse:
        try:
            payload = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError) as exc:
            return JSONResponse({"detail": f"expected a JSON body: {exc}"}, 400)
        try:
            # FeedbackStore.answer fsyncs: off the event loop
            return JSONResponse(await run_in_threadpool(session.submit, payload))
        except AnswerError as exc:
            return JSONResponse({"detail": exc.message, **exc.extra}, exc.status)

    return app
