"""fkc-align serve's HTTP API: the token, answer validation, double answers, the whole run.

A real uvicorn server on a free port in this process (``BackgroundServer``), a tiny gmm run
(budget 8, k 4, 2 rounds), plain ``urllib`` requests.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="fkc-align serve needs the [serve] extra")
pytest.importorskip("uvicorn", reason="fkc-align serve needs the [serve] extra")

from fkc_align import FeedbackStore, tasks  # noqa: E402
from fkc_align.cli import main  # noqa: E402
from fkc_align.serve import (  # noqa: E402
    RATINGS,
    BackgroundServer,
    ServeSession,
    make_app,
    rating_to_reward,
    reward_to_rating,
)
from fkc_align.serve.models import State  # noqa: E402

TOKEN = "test-token-0123456789abcdef"
OPTIONS = dict(budget=8, k=4, n_particles=8, n_steps=4, seed=3)


def request(base: str, path: str, body=None, token: str | None = TOKEN, raw: bytes | None = None,
            query_token: bool = False):
    """(status, headers, body bytes) of one request; ``token`` in the header (or the query)."""
    url = base + path + (f"?token={token}" if query_token and token is not None else "")
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    req = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")
    if token is not None and not query_token:
        req.add_header("X-FKC-Token", token)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as res:
            return res.status, res.headers, res.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


def get_json(base, path, **kw):
    status, _, body = request(base, path, **kw)
    return status, json.loads(body)


def wait_state(base, predicate, timeout_s=60.0):
    deadline = time.monotonic() + timeout_s
    while True:
        status, state = get_json(base, "/api/state")
        assert status == 200, state
        if predicate(state):
            return state
        assert state["phase"] != "error", state["error"]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out; last state {state}")
        time.sleep(0.05)


def waiting_round(base, rnd):
    return wait_state(base, lambda s: s["phase"] == "waiting" and s["round"] == rnd)


def answers_in_file(run_dir: Path) -> list[dict]:
    lines = (run_dir / "feedback.jsonl").read_text().splitlines()
    return [rec for rec in map(json.loads, lines) if rec["type"] == "answer"]


@pytest.fixture
def served(tmp_path):
    session = ServeSession(tasks.gmm(), tmp_path / "run", run_options=OPTIONS, poll_s=0.02)
    with BackgroundServer(session, token=TOKEN) as url:
        yield url.split("/?token=")[0], tmp_path / "run"
    # leaving stops the loop thread too, wherever it was (waiting for answers, or done)
    assert session.phase in ("stopped", "done") and not session.running


def test_rating_to_reward_is_stars_minus_three():
    assert [rating_to_reward(r) for r in RATINGS] == [-2.0, -1.0, 0.0, 1.0, 2.0]
    assert [reward_to_rating(rating_to_reward(r)) for r in RATINGS] == list(RATINGS)
    assert reward_to_rating(0.5) is None and reward_to_rating(7.0) is None


ROUTES = ["/", "/api/state", "/api/particle/r0-q0.png", "/api/report/curves.png", "/nowhere"]


@pytest.mark.parametrize("token", [None, "", "wrong", TOKEN[:-1], TOKEN + "x", TOKEN.upper()])
def test_every_route_refuses_a_missing_or_wrong_token(served, token):
    base, run_dir = served
    for path in ROUTES:
        for in_query in (False, True):
            status, _, body = request(base, path, token=token, query_token=in_query)
            assert status == 403, (path, status)
            assert b"token" in body and b"PNG" not in body
    status, _, body = request(base, "/api/answers", token=token,
                              body={"round": 0, "answers": [{"id": "r0-q0", "rating": 5}]})
    assert status == 403 and not answers_in_file(run_dir)


def test_the_right_token_opens_the_page_and_particles(served):
    base, _ = served
    status, headers, page = request(base, "/", query_token=True)
    assert status == 200 and b"<script>" in page and b"fkc-align" in page
    assert "script-src 'sha256-" in headers["Content-Security-Policy"]
    assert headers["Cache-Control"] == "no-store"
    state = waiting_round(base, 0)
    assert [q["id"] for q in state["queries"]] == [f"r0-q{j}" for j in range(4)]
    assert state["queries_used"] == 4 and state["budget"] == 8 and state["eps"] == 1.0
    # the JSON is the State model's, field for field (none dropped, renamed or added)
    assert State.model_validate(state).model_dump(exclude_unset=True) == state
    for path_token in (True, False):
        status, headers, png = request(base, "/api/particle/r0-q1.png", query_token=path_token)
        assert status == 200 and headers["Content-Type"] == "image/png"
        assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert request(base, "/api/particle/r7-q0.png")[0] == 404
    assert request(base, "/api/report/curves.png")[0] == 404  # before the end


def _submit(base, rnd, ratings, ids=None):
    ids = ids or [f"r{rnd}-q{j}" for j in range(len(ratings))]
    return get_json(base, "/api/answers", body={
        "round": rnd, "answers": [{"id": i, "rating": r} for i, r in zip(ids, ratings,
                                                                          strict=True)]})


BAD = [
    ({"round": 0, "answers": [{"id": "r0-q0", "rating": 0}]}, 422, "rating: expected a whole "
     "number of stars 1..5, got 0"),
    ({"round": 0, "answers": [{"id": "r0-q0", "rating": 6}]}, 422, "1..5, got 6"),
    ({"round": 0, "answers": [{"id": "r0-q0", "rating": 3.5}]}, 422, "1..5, got 3.5"),
    ({"round": 0, "answers": [{"id": "r0-q0", "rating": "4"}]}, 422, "1..5, got '4'"),
    ({"round": 0, "answers": [{"id": "r0-q0", "rating": True}]}, 422, "1..5, got True"),
    ({"round": 0, "answers": [{"id": "r0-q0", "rating": None}]}, 422, "1..5, got None"),
    ({"round": 0, "answers": [{"id": "r0-q0"}]}, 422, "answers[0]: expected"),
    ({"round": 0, "answers": [{"id": 3, "rating": 3}]}, 422, "answers[0].id: expected a query"),
    ({"round": 0, "answers": []}, 422, "answers: expected a non-empty list"),
    ({"round": "0", "answers": [{"id": "r0-q0", "rating": 3}]}, 422, "round: expected a round"),
    ({"round": 0, "answers": [{"id": "r0-q0", "rating": 3}], "user": "x"}, 422,
     "expected a JSON object"),
    ([1, 2], 422, "expected a JSON object"),
    ({"round": 0, "answers": [{"id": "r0-q0", "rating": 3}, {"id": "r0-q0", "rating": 4}]}, 422,
     "r0-q0 appears twice in one submission"),
    ({"round": 0, "answers": [{"id": "r0-q0", "rating": 3}, {"id": "r5-q9", "rating": 4}]}, 404,
     "unknown query id(s) r5-q9"),
    ({"round": 1, "answers": [{"id": "r0-q0", "rating": 3}]}, 409,  # the page counts from 1
     "this page submitted round 2, but round 1 is waiting for answers"),
]


def test_bad_answers_are_refused_with_a_clear_message_and_nothing_is_saved(served):
    base, run_dir = served
    waiting_round(base, 0)
    for payload, status, message in BAD:
        got, body = get_json(base, "/api/answers", body=payload)
        assert (got, message in body["detail"]) == (status, True), (payload, got, body)
    got, body = get_json(base, "/api/answers", raw=b"{not json")
    assert got == 400 and "expected a JSON body" in body["detail"]
    assert answers_in_file(run_dir) == []
    assert [q["rating"] for q in waiting_round(base, 0)["queries"]] == [None] * 4


def test_a_second_answer_is_refused_and_the_first_stands(served):
    base, run_dir = served
    waiting_round(base, 0)
    # another process (or tab) answers r0-q1 first, through its own store
    FeedbackStore.open(run_dir).answer("r0-q1", rating_to_reward(1))
    status, body = _submit(base, 0, [2, 1, 2, 2])
    assert status == 409  # named as the page numbers it (round 1, image 2), "1 star"
    assert ("already answered (in another tab or process): round 1 image 2 (1 star)"
            in body["detail"])
    assert "The first answer stands" in body["detail"]
    assert body["already_answered"] == ["r0-q1"] and body["saved"] == ["r0-q0", "r0-q2", "r0-q3"]
    # the whole round again (a second tab that had not seen the first one's answers)
    status, body = _submit(base, 0, [4, 4, 4, 4])
    assert status == 409 and body["saved"] == [] and len(body["already_answered"]) == 4
    rewards = {a["id"]: a["reward"] for a in answers_in_file(run_dir)}
    assert rewards == {"r0-q0": -1.0, "r0-q1": -2.0, "r0-q2": -1.0, "r0-q3": -1.0}
    assert len(answers_in_file(run_dir)) == 4


def test_two_tabs_submitting_at_once_save_each_answer_once(served):
    base, run_dir = served
    waiting_round(base, 0)
    results = []
    barrier = threading.Barrier(2)

    def tab(rating):
        barrier.wait()
        results.append(_submit(base, 0, [rating] * 4))

    threads = [threading.Thread(target=tab, args=(r,)) for r in (1, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(status for status, _ in results)
    assert statuses in ([200, 409], [409, 409]), results
    answers = answers_in_file(run_dir)
    assert sorted(a["id"] for a in answers) == [f"r0-q{j}" for j in range(4)]
    saved = sorted(i for _, body in results for i in body.get("saved", []))
    assert saved == [f"r0-q{j}" for j in range(4)]  # each saved by exactly one of the tabs


def test_a_whole_run_by_api_ends_with_the_report(served):
    base, run_dir = served
    ratings = {0: [1, 2, 5, 4], 1: [3, 5, 2, 1]}
    for rnd, stars in ratings.items():
        state = waiting_round(base, rnd)
        assert [q["rating"] for q in state["queries"]] == [None] * 4
        status, body = _submit(base, rnd, stars)
        assert (status, len(body["saved"])) == (200, 4), body
    state = wait_state(base, lambda s: s["phase"] == "done")
    assert state["queries_used"] == state["answered"] == 8 and state["queries"] == []
    assert state["report"]["summary"]["queries_used"] == 8
    assert state["report"]["summary"]["best_reward"] == 2.0
    assert [b["rating"] for b in state["best"][:2]] == [5, 5]
    status, headers, png = request(base, "/api/report/curves.png", query_token=True)
    assert status == 200 and png.startswith(b"\x89PNG")
    for name in ("report.json", "report.png", "best.png"):
        assert (run_dir / name).is_file()
    got = {a["id"]: a["reward"] for a in answers_in_file(run_dir)}
    want = {f"r{r}-q{j}": rating_to_reward(s) for r, st in ratings.items()
            for j, s in enumerate(st)}
    assert got == want and len(answers_in_file(run_dir)) == 8
    status, body = _submit(base, 1, [3, 3, 3, 3])  # after the end
    assert status == 409 and "already answered" in body["detail"]


def test_resuming_a_finished_run_shows_its_report_and_asks_nothing(tmp_path):
    run_dir = tmp_path / "run"
    session = ServeSession(tasks.gmm(), run_dir, run_options=OPTIONS, poll_s=0.02)
    with BackgroundServer(session, token=TOKEN) as url:
        base = url.split("/?token=")[0]
        for rnd in (0, 1):
            waiting_round(base, rnd)
            assert _submit(base, rnd, [2, 3, 4, 5])[0] == 200
        wait_state(base, lambda s: s["phase"] == "done")
    _check_a_persons_report(run_dir, session.result)
    before = (run_dir / "feedback.jsonl").read_bytes()
    again = ServeSession(tasks.gmm(), run_dir, resume=True, run_options=OPTIONS)
    with BackgroundServer(again, token=TOKEN) as url:
        state = wait_state(url.split("/?token=")[0], lambda s: s["phase"] == "done")
    assert state["answered"] == 8 and state["report"]["summary"]["queries_used"] == 8
    assert (run_dir / "feedback.jsonl").read_bytes() == before


def _check_a_persons_report(run_dir: Path, result) -> None:
    """report.json and report.png of a served run say it was a person rating with stars."""
    import os
    import stat

    from fkc_align.report import curves_figure

    report = json.loads((run_dir / "report.json").read_text())
    assert report["oracle_kind"] == "person" and list(report["runs"]) == ["fkc-explore"]
    mode = stat.S_IMODE((run_dir / "feedback.jsonl").stat().st_mode)
    for name in ("report.json", "report.png", "best.png"):  # as readable as the answers
        assert stat.S_IMODE(os.stat(run_dir / name).st_mode) == mode, name
    fig = curves_figure({"fkc-explore": result}, "title", oracle="person")
    try:
        (ax,) = fig.axes  # no empty hit-rate panel: a person gives stars, not hits
        assert ax.get_ylabel() == "stars (reward + 3)"
        assert [t.get_text() for t in ax.get_legend().get_texts()] == [
            "fkc-explore (mean of shown)", "fkc-explore (best so far)"]
        assert list(ax.lines[0].get_ydata()) == [3.5, 3.5]  # mean stars of rounds 1 and 2
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)


def test_importing_the_library_does_not_need_the_serve_extra():
    code = ("import sys, fkc_kernels, fkc_align, fkc_align.cli; "
            "bad = [m for m in ('fastapi', 'uvicorn', 'starlette', 'fkc_align.serve') "
            "if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr


def test_serve_without_the_extra_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    for name in [m for m in sys.modules if m.startswith("fkc_align.serve")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "fastapi", None)  # as if not installed
    assert main(["serve", "--task", "gmm", "--out", str(tmp_path / "r"), "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "serve: needs the [serve] extra (fastapi is not installed)" in err
    assert "pip install 'fkc-kernels[serve]'" in err
    assert not (tmp_path / "r").exists()


def test_serve_refuses_a_busy_port_and_a_mismatched_resume_before_serving(tmp_path, capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        assert main(["serve", "--task", "gmm", "--out", str(tmp_path / "r"),
                     "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert f"--port: cannot listen on 127.0.0.1:{port}" in err and "--port 0" in err
    assert not (tmp_path / "r").exists()
    FeedbackStore.create(tmp_path / "old", {"something": "else"}, seed=0)
    assert main(["serve", "--task", "gmm", "--out", str(tmp_path / "old"), "--port", "0",
                 "--resume"]) == 2
    out, err = capsys.readouterr()
    assert "not one of fkc-align's built-in tasks" in err and "http" not in out
    FeedbackStore.create(tmp_path / "new", {"something": "else"}, seed=0)
    assert main(["serve", "--task", "gmm", "--out", str(tmp_path / "new"), "--port", "0"]) == 2
    assert "already holds a run" in capsys.readouterr().err


def _hold_folder(run_dir, ready, done):
    from fkc_align import RunLock

    with RunLock(run_dir, "run"):
        ready.set()
        done.wait(60)


def test_serve_refuses_a_folder_another_process_owns_naming_it(tmp_path, capsys):
    import multiprocessing

    ctx = multiprocessing.get_context("fork")  # the child only takes the folder's lock
    ready, done = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_folder, args=(tmp_path / "run", ready, done))
    holder.start()
    try:
        assert ready.wait(60)
        assert main(["serve", "--task", "gmm", "--out", str(tmp_path / "run"),
                     "--port", "0"]) == 2
    finally:
        done.set()
        holder.join(60)
    out, err = capsys.readouterr()
    assert f"is owned by pid {holder.pid}" in err and "(run, since" in err and "http" not in out
    assert not (tmp_path / "run" / "feedback.jsonl").exists()


def test_a_session_that_cannot_start_raises_its_reason_and_serves_nothing(tmp_path):
    FeedbackStore.create(tmp_path / "old", {"something": "else"}, seed=0)
    server = BackgroundServer(ServeSession(tasks.gmm(), tmp_path / "old", resume=True,
                                           run_options=OPTIONS), token=TOKEN)
    with pytest.raises(RuntimeError, match="settings differ"):
        with server:
            pass
    assert server.sock.fileno() == -1 and not server.session.running


def _declared_only(base: str, length: int) -> tuple[int, str]:
    """POST headers declaring a ``length``-byte body, without sending it: (status, detail)."""
    import http.client

    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.putrequest("POST", "/api/answers")
        conn.putheader("X-FKC-Token", TOKEN)
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Content-Length", str(length))
        conn.endheaders()
        res = conn.getresponse()
        return res.status, json.loads(res.read())["detail"]
    finally:
        conn.close()


def _chunked(base: str, chunks: list[bytes]) -> tuple[int, str]:
    """POST a body in chunks (no Content-Length): (status, detail)."""
    import http.client

    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.request("POST", "/api/answers", body=iter(chunks), encode_chunked=True,
                     headers={"X-FKC-Token": TOKEN, "Content-Type": "application/json"})
        res = conn.getresponse()
        return res.status, json.loads(res.read())["detail"]
    finally:
        conn.close()


def test_request_bodies_are_bounded_by_default(served):
    base, run_dir = served
    waiting_round(base, 0)
    t0 = time.monotonic()
    # 200000 levels deep: refused before parsing (the parser would recurse), never a 500
    status, body = get_json(base, "/api/answers", raw=b"[" * 200000 + b"]" * 200000)
    assert status == 400 and "nested at most 32 levels deep" in body["detail"]
    # a body declared over the limit (1 MiB) is refused before it is read
    status, detail = _declared_only(base, 100_000_000)
    assert status == 413 and "expected at most 1048576 bytes" in detail
    # 20000 unknown ids: refused at once with a short message (a round has k = 4 images)
    many = {"round": 0, "answers": [{"id": f"x{i}", "rating": 3} for i in range(20000)]}
    status, body = get_json(base, "/api/answers", body=many)
    assert status == 422 and "expected at most 4 (the images of one round), got 20000" in \
        body["detail"] and len(body["detail"]) < 200
    assert time.monotonic() - t0 < 60  # was 9.8 s for the ids alone, and a multi-MB reply
    assert answers_in_file(run_dir) == []
    assert _submit(base, 0, [3, 3, 3, 3])[0] == 200  # the server still answers


def test_request_body_limits_are_configurable(tmp_path):
    session = ServeSession(tasks.gmm(), tmp_path / "run", run_options=OPTIONS, poll_s=0.02)
    with BackgroundServer(session, token=TOKEN, max_body_bytes=2000, max_json_depth=4) as url:
        base = url.split("/?token=")[0]
        waiting_round(base, 0)
        padded = json.dumps({"round": 0, "answers": [{"id": "r0-q0", "rating": 3}]}) + " " * 3000
        status, body = get_json(base, "/api/answers", raw=padded.encode())
        assert status == 413 and "at most 2000 bytes" in body["detail"]
        assert _chunked(base, [b" " * 1000] * 3)[0] == 413  # no Content-Length: counted as read
        deep = {"round": 0, "answers": [{"id": "r0-q0", "rating": [[[3]]]}]}
        status, body = get_json(base, "/api/answers", body=deep)
        assert status == 400 and "nested at most 4 levels deep" in body["detail"]
        unknown = {"round": 0, "answers": [{"id": f"r9-q{j}", "rating": 3} for j in range(4)]}
        status, body = get_json(base, "/api/answers", body=unknown)
        assert status == 404 and "r9-q0, r9-q1, r9-q2, r9-q3 (this run's" in body["detail"]
        assert _submit(base, 0, [3, 3, 3, 3])[0] == 200  # 3 levels deep, ~200 bytes: accepted
    with pytest.raises(ValueError, match="max_json_depth: expected an int >= 1, got 0"):
        make_app(session, TOKEN, max_json_depth=0)


def _start_serve(args: list[str]) -> tuple[subprocess.Popen, str]:
    """``fkc-align serve`` in a child process: the process and the URL it printed."""
    proc = subprocess.Popen([sys.executable, "-m", "fkc_align.cli", "serve", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in proc.stdout:
        if line.strip().startswith("http://"):
            return proc, line.strip()
    proc.wait(60)
    raise AssertionError(f"serve printed no URL: {proc.stderr.read()}")


def _interrupt(proc: subprocess.Popen) -> tuple[int, str, str]:
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out, err


def test_serve_ctrl_c_and_resume_at_the_same_address(tmp_path):
    import stat

    out = tmp_path / "run"
    proc, url = _start_serve(["--task", "gmm", "--budget", "4", "--k", "4", "--particles", "8",
                              "--steps", "4", "--port", "0", "--out", str(out)])
    try:
        base, token = url.split("/?token=")
        # the address is recorded for --resume, readable by its owner only (it holds the token)
        assert stat.S_IMODE((out / "serve.json").stat().st_mode) == 0o600
        _wait_with(base, token, "waiting")
    finally:
        code, _, err = _interrupt(proc)
    assert code == 130 and "run the same command with --resume" in err  # mid-run
    # only --out: the settings come from the folder, the port and token from serve.json
    proc, again = _start_serve(["--resume", "--out", str(out), "--port", "0"])
    try:
        assert again == url  # an open tab reconnects
        _wait_with(base, token, "waiting")
        status, _, _ = request(base, "/api/answers", token=token, body={
            "round": 0, "answers": [{"id": f"r0-q{j}", "rating": 4} for j in range(4)]})
        assert status == 200
        _wait_with(base, token, "done")
    finally:
        code, stdout, err = _interrupt(proc)
    assert code == 0, err  # after the budget is spent Ctrl-C is the normal way out
    assert "fkc-align serve: stopped. The run is complete" in stdout and "--resume" not in err


def _wait_with(base: str, token: str, phase: str, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status, _, body = request(base, "/api/state", token=token)
        if status == 200 and json.loads(body)["phase"] == phase:
            return
        time.sleep(0.1)
    raise AssertionError(f"no phase {phase!r} within {timeout_s} s")
