"""The web app of a served run (FastAPI): one page and a small JSON API, all behind a token.

Every request needs the access token, as the ``token`` query parameter (the page's URL, particle
images) or the ``X-FKC-Token`` header (the page's API calls); anything else gets 403 before any
route runs, so nothing of the run (particles included) is visible without it.

Routes: ``GET /`` the page; ``GET /api/state`` what the page shows; ``GET
/api/particle/{id}.png`` one query's particle; ``GET /api/report/curves.png`` the report's curves
(after the last round); ``POST /api/answers`` a round's ratings (a
:class:`~fkc_align.serve.models.Submission`; answered with :class:`~.models.Saved` or a
:class:`~.models.Refusal`; see :meth:`~fkc_align.serve.session.ServeSession.submit`).

What a request may make the server read is bounded: a body over ``max_body_bytes`` gets 413
before it is read to the end, JSON nested deeper than ``max_json_depth`` gets 400 before it is
parsed (Python's parser would recurse), and a refusal names at most a few of the ids it refuses.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import re
import secrets
from importlib import resources

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from .models import Refusal, Saved, State, SubmissionError, parse_submission
from .session import AnswerError, ServeSession

TOKEN_HEADER = "X-FKC-Token"
# a round's answers take about 40 bytes an image and 3 levels of nesting: generous bounds
MAX_BODY_BYTES = 1 << 20
MAX_JSON_DEPTH = 32

_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = bytes(c for c in range(256) if c not in b"[]{}")
_DEPTH_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


class BodyRejected(Exception):
    """A request body refused before it is parsed: ``status`` (413, 400) and a message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def json_depth(body: bytes) -> int:
    """The deepest nesting of arrays and objects in a JSON text (brackets inside strings do not
    count), found without parsing it."""
    brackets = _JSON_STRING.sub(b"", body).translate(None, _NOT_BRACKET)
    return max(itertools.accumulate(map(_DEPTH_STEP.__getitem__, brackets), initial=0))


async def read_json(request: Request, max_bytes: int, max_depth: int) -> object:
    """The request's JSON body, read at most ``max_bytes`` (413 beyond), nested at most
    ``max_depth`` deep (400 beyond), else :class:`BodyRejected`."""
    too_big = BodyRejected(413, f"request body: expected at most {max_bytes} bytes (a round's "
                                f"answers need a few hundred), got more; nothing was saved")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise too_big
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise too_big
        chunks.append(chunk)
    body = b"".join(chunks)
    if len(body) > max_depth and json_depth(body) > max_depth:
        raise BodyRejected(400, f"expected a JSON body nested at most {max_depth} levels deep "
                                f"(answers need 3), got deeper; nothing was saved")
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise BodyRejected(400, f"expected a JSON body: {str(exc)[:200]}") from None


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


def _check_limits(**limits: int) -> None:
    for name, value in limits.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name}: expected an int >= 1, got {value!r}")


def _refuse(status: int, message: str, **extra: list[str]) -> JSONResponse:
    """A :class:`~.models.Refusal` with ``status``; only the fields it has are sent."""
    body = Refusal(detail=message, **extra).model_dump(exclude_none=True)
    return JSONResponse(body, status)


def _require_token(app: FastAPI, token: str) -> None:
    """Refuse (403) every request without ``token``, before any route runs; no response is
    cached or leaks the page's URL (which holds the token)."""
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


def make_app(session: ServeSession, token: str, *, max_body_bytes: int = MAX_BODY_BYTES,
             max_json_depth: int = MAX_JSON_DEPTH) -> FastAPI:
    """The app serving ``session``; every request must carry ``token``. A request body over
    ``max_body_bytes`` gets 413, JSON nested deeper than ``max_json_depth`` gets 400."""
    _check_limits(max_body_bytes=max_body_bytes, max_json_depth=max_json_depth)
    if not isinstance(token, str) or len(token) < 16:
        raise ValueError(f"token: expected a string of at least 16 characters, got "
                         f"{len(token) if isinstance(token, str) else type(token).__name__}")
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    _require_token(app, token)
    page, csp = _page()

    @app.get("/")
    def index() -> HTMLResponse:
        return HTMLResponse(page, headers={"Content-Security-Policy": csp})

    # FastAPI validates the dict against State on the way out; fields that do not apply yet
    # (before the run folder exists) stay out of the JSON
    @app.get("/api/state", response_model=State, response_model_exclude_unset=True)
    def state() -> dict:
        return session.state()

    @app.get("/api/particle/{query_id}.png")
    def particle(query_id: str) -> Response:
        png = session.particle_png(query_id)
        if png is None:
            return _refuse(404, f"no query {query_id!r} in this run")
        return Response(png, media_type="image/png")

    @app.get("/api/report/curves.png")
    def curves() -> Response:
        png = session.curves_png()
        if png is None:
            return _refuse(404, "the report exists once the budget is spent")
        return Response(png, media_type="image/png")

    @app.post("/api/answers", response_model=Saved,
              responses={code: {"model": Refusal} for code in (400, 404, 409, 413, 422)})
    async def answers(request: Request):
        # the body is read here, not by FastAPI, so that its size and depth are bounded first
        try:
            submission = parse_submission(await read_json(request, max_body_bytes,
                                                          max_json_depth))
        except BodyRejected as exc:
            return _refuse(exc.status, exc.message)
        except SubmissionError as exc:
            return _refuse(422, str(exc))
        try:
            # FeedbackStore.answer fsyncs: off the event loop
            return Saved(**await run_in_threadpool(session.submit, submission))
        except AnswerError as exc:
            return _refuse(exc.status, exc.message, **exc.extra)

    return app
