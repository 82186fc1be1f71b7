"""Serving a session with uvicorn on a socket we bind ourselves (so ``port=0`` has a known URL)."""

from __future__ import annotations

import ipaddress
import json
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import uvicorn

from ..store.durable_io import write_file_atomic
from .app import make_app, new_token
from .session import ServeSession

SERVE_FILE = "serve.json"  # in the run folder: the last serve's host, port and token
DEFAULT_PORT = 8765


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (``port=0``: a free port), or a clear error."""
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ValueError(f"--port: expected 0 (a free port) .. 65535, got {port!r}")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ValueError(f"--host: cannot resolve {host!r} ({exc})") from None
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise ValueError(f"--port: cannot listen on {host}:{port} ({exc.strerror}); pass "
                         f"--port 0 for a free port") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def recorded_address(run_dir: str | Path) -> dict[str, Any] | None:
    """The host, port and token the run folder's last ``serve`` used (None: none recorded or
    unreadable)."""
    try:
        info = json.loads((Path(run_dir) / SERVE_FILE).read_text())
    except (OSError, ValueError):
        return None
    ok = (isinstance(info, dict) and isinstance(info.get("host"), str)
          and isinstance(info.get("port"), int) and isinstance(info.get("token"), str)
          and len(info["token"]) >= 16)
    return info if ok else None


def record_address(run_dir: str | Path, sock: socket.socket, host: str, token: str) -> None:
    """Write the served address and token into the run folder, readable by its owner only (it
    holds the access token)."""
    port = sock.getsockname()[1]
    data = json.dumps({"host": host, "port": port, "token": token}).encode()
    write_file_atomic(Path(run_dir) / SERVE_FILE, data, mode=0o600)


def bind_again(host: str, port: int | None, recorded: dict[str, Any] | None,
               note: Callable[[str], None] = print) -> tuple[socket.socket, str]:
    """The socket and token of a (resumed) serve: the recorded token, and the recorded port when
    it is free, the host the same and ``port`` not another one (so an open tab reconnects);
    else ``port`` (None: the default). Without a record: a fresh token."""
    token = recorded["token"] if recorded is not None else new_token()
    if recorded is not None and recorded["host"] == host and port in (None, 0,
                                                                      recorded["port"]):
        try:
            return bind(host, recorded["port"]), token
        except ValueError:
            note(f"fkc-align serve: the port of the last serve, {recorded['port']}, is busy; an "
                 f"open page must be reopened at the new URL")
    return bind(host, DEFAULT_PORT if port is None else port), token


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def url_of(sock: socket.socket, token: str) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/?token={token}"


def run_server(session: ServeSession, sock: socket.socket, token: str | None = None,
               announce: Callable[[str], None] = print, **app_options: Any) -> None:
    """Serve ``session`` on the bound ``sock`` until interrupted (Ctrl-C, SIGTERM).

    ``announce`` gets the page's URL with its token (``token`` None: a fresh one);
    ``app_options``: :func:`~fkc_align.serve.app.make_app`'s limits (``max_body_bytes``,
    ``max_json_depth``).
    """
    token = token or new_token()
    server = _uvicorn(session, token, app_options)
    announce(url_of(sock, token))
    server.run(sockets=[sock])


def _uvicorn(session: ServeSession, token: str, app_options: dict[str, Any]) -> uvicorn.Server:
    return uvicorn.Server(uvicorn.Config(make_app(session, token, **app_options),
                                         log_level="warning",
                                         access_log=False, lifespan="off"))


class BackgroundServer:
    """Serve a session from a background thread (a notebook, a test): ``with
    BackgroundServer(session) as url: ...`` starts the session's loop and the server, gives the
    page's URL, and stops both on exit. ``app_options``: as for :func:`run_server`.
    """

    def __init__(self, session: ServeSession, host: str = "127.0.0.1", port: int = 0,
                 token: str | None = None, ready_timeout_s: float = 60.0,
                 **app_options: Any) -> None:
        self.session, self.token = session, token or new_token()
        self.sock = bind(host, port)
        self.ready_timeout_s = ready_timeout_s
        self.server = _uvicorn(session, self.token, app_options)
        self.url = url_of(self.sock, self.token)
        self.base = self.url.split("/?token=")[0]
        self._thread: threading.Thread | None = None

    def __enter__(self) -> str:
        self.session.start()
        try:
            self.session.wait_ready(self.ready_timeout_s)
        except BaseException:
            self.session.stop()
            self.sock.close()
            raise
        self._thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]},
                                        name="fkc-align-serve", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + self.ready_timeout_s
        while not self.server.started and self._thread.is_alive():
            if time.monotonic() > deadline:
                raise TimeoutError(f"the server did not start within {self.ready_timeout_s} s")
            time.sleep(0.01)
        return self.url

    def __exit__(self, *exc_info) -> None:
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(10.0)
        self.session.stop()
        self.sock.close()
