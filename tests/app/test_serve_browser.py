"""The rating page in a real browser: Debian's headless Chromium driven by Playwright.

One small digits run (budget 16, k 4: four rounds) served by ``fkc-align serve`` in a
subprocess: round 1 rated by clicking, round 2 by keys, round 3 refreshed mid-round (with an
answer from another process in between), the server killed (SIGKILL) and restarted with
``--resume`` while round 4 waits, round 4 answered by a second tab before the first submits; then
the report. The feedback file must hold each of the 16 answers exactly once.

Chromium: ``FKC_CHROMIUM`` or ``chromium`` on PATH. Without it or Playwright the test skips,
except with ``FKC_REQUIRE_BROWSER=1`` (CI), where it fails. ``FKC_SERVE_SCREENSHOTS=<dir>``
saves a screenshot of each stage there (the ones in docs/).
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

SHOTS = os.environ.get("FKC_SERVE_SCREENSHOTS")
# more sampling steps when taking screenshots, so the "sampling" stage lasts long enough to see
RUN_ARGS = ["--task", "digits", "--budget", "16", "--k", "4", "--particles", "32",
            "--steps", "400" if SHOTS else "20", "--seed", "1"]


def _unavailable(reason: str):
    if os.environ.get("FKC_REQUIRE_BROWSER") == "1":
        pytest.fail(f"FKC_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    for extra in ("fastapi", "uvicorn"):
        try:
            __import__(extra)
        except ImportError:
            _unavailable(f"{extra} is not installed (pip install -e '.[serve]')")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install playwright; no browser download "
                     "needed: the test drives the system's chromium)")
    exe = os.environ.get("FKC_CHROMIUM") or shutil.which("chromium") or shutil.which(
        "chromium-browser")
    if not exe:
        _unavailable("no chromium here (apt-get install chromium, or set FKC_CHROMIUM)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, headless=True)
        yield b
        b.close()


class Server:
    """``fkc-align serve`` in a subprocess; ``url`` is the page's URL it printed."""

    def __init__(self, run_dir: Path, resume: bool = False) -> None:
        args = [sys.executable, "-m", "fkc_align.cli", "serve", *RUN_ARGS, "--port", "0",
                "--out", str(run_dir)] + (["--resume"] if resume else [])
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, bufsize=1)
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        deadline = time.monotonic() + 180
        self.url = None
        while self.url is None:
            try:
                line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                break
            if "http://" in line:
                self.url = line.strip()
        assert self.url, f"no URL within 180 s; output:\n{''.join(self.output)}"
        self.base, self.token = self.url.split("/?token=")

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.output.append(line)
            self.lines.put(line)

    def state(self) -> dict:
        req = urllib.request.Request(self.base + "/api/state", headers={"X-FKC-Token":
                                                                         self.token})
        with urllib.request.urlopen(req, timeout=30) as res:
            return json.loads(res.read())

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)


def records(run_dir: Path, kind: str) -> list[dict]:
    lines = (run_dir / "feedback.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["type"] == kind]


def shot(page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"serve-{name}.png"), full_page=True)


def wait_round(page, rnd: int) -> None:
    """Until the page shows round ``rnd``'s four cards, waiting for answers."""
    page.wait_for_selector(f'.card[data-qid="r{rnd}-q3"]', timeout=120_000)
    page.wait_for_selector('#phase[data-phase="waiting"]', timeout=120_000)


def until(predicate, timeout_s: float = 60.0) -> None:
    """Poll ``predicate()`` (the page's CSP forbids Playwright's eval-based wait_for_function)."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def stars_on(page, qid: str) -> int:
    return page.locator(f'.card[data-qid="{qid}"] .stars button.on').count()


def _round1_by_clicks(page, server, clicks):
    # no token: the server refuses, and the page shows no particle
    page.goto(server.base + "/")
    assert "403 Forbidden" in page.content() and page.locator(".card").count() == 0
    page.goto(server.url)
    wait_round(page, 0)
    assert page.locator("#query-counter").inner_text() == "queries 4 / 16"
    # the images load after the cards appear (each is its own request): wait for them
    until(lambda: page.locator(".card img").evaluate_all(
        "imgs => imgs.length > 0 && imgs.every(i => i.complete && i.naturalWidth > 0)"),
        timeout_s=30.0)
    for j, r in enumerate(clicks):
        page.click(f'.card[data-qid="r0-q{j}"] button[data-rating="{r}"]')
        if j == 1:
            shot(page, "1-rate")
    assert page.locator("#submit").inner_text() == "Submit round (4/4 rated)"
    page.click("#submit")
    page.wait_for_selector("#message.ok", timeout=30_000)
    if SHOTS:
        page.wait_for_selector('#phase[data-phase="sampling"]', timeout=30_000)
        until(lambda: page.locator("#sampling").evaluate("e => e.value") > 40)
        shot(page, "2-sampling")


def _round2_by_keys(page, keys):
    # 1-5 rate the highlighted card and move on, Enter submits
    wait_round(page, 1)
    for r in keys:
        page.keyboard.press(str(r))
    assert [stars_on(page, f"r1-q{j}") for j in range(4)] == keys
    page.keyboard.press("Enter")
    page.wait_for_selector("text=Saved round 2", timeout=30_000)


def _round3_drafts_survive_a_refresh(page, run_dir):
    # two drafts, another process answers one query, a refresh keeps all three
    wait_round(page, 2)
    page.keyboard.press("2")
    page.keyboard.press("5")
    from fkc_align import FeedbackStore

    FeedbackStore.open(run_dir).answer("r2-q3", 4 - 3.0)  # 4 stars, from elsewhere
    page.reload()
    wait_round(page, 2)
    page.wait_for_selector('.card.saved[data-qid="r2-q3"]')
    assert [stars_on(page, f"r2-q{j}") for j in range(4)] == [2, 5, 0, 4]
    assert page.locator('.card[data-qid="r2-q3"] .note').inner_text() == "saved: ★★★★☆"
    assert page.locator('.card.focus').get_attribute("data-qid") == "r2-q2"
    shot(page, "3-refreshed")
    page.keyboard.press("3")
    page.keyboard.press("Enter")
    page.wait_for_selector("text=Saved round 3 (3 answers)", timeout=30_000)


def _round4_survives_a_server_kill(page, servers, run_dir):
    # round 4 waits: kill the server, the page says so, resume continues the same round
    wait_round(page, 3)
    pending_before = records(run_dir, "queries")
    assert [q["round"] for q in pending_before] == [0, 1, 2, 3]
    old_url = servers[-1].url
    servers[-1].kill()
    page.wait_for_selector("text=Cannot reach the server", timeout=30_000)
    shot(page, "4-server-down")
    servers.append(Server(run_dir, resume=True))
    server = servers[-1]
    assert server.url == old_url  # the recorded port and token: the open tab reconnects
    assert records(run_dir, "queries") == pending_before  # nothing resampled
    assert server.state()["round"] == 3
    page.goto(server.url)
    wait_round(page, 3)


def _round4_from_two_tabs(page, browser, server, tab_b_ratings):
    # B submits round 4 first; A, whose view is older, is told the first stands
    stale = json.dumps(server.state())
    for r in (1, 1, 1, 1):
        page.keyboard.press(str(r))
    page.route("**/api/state*", lambda route: route.fulfill(
        status=200, content_type="application/json", body=stale))
    tab_b = browser.new_context().new_page()
    tab_b.goto(server.url)
    wait_round(tab_b, 3)
    for j, r in enumerate(tab_b_ratings):
        tab_b.click(f'.card[data-qid="r3-q{j}"] button[data-rating="{r}"]')
    tab_b.click("#submit")
    tab_b.wait_for_selector("#message.ok", timeout=30_000)
    page.keyboard.press("Enter")
    page.wait_for_selector("#message.error", timeout=30_000)
    message = page.locator("#message").inner_text()
    assert "already answered (in another tab or process): round 4 image 1 (3 stars)" in message
    assert "The first answer stands" in message
    shot(page, "5-second-tab")
    page.unroute("**/api/state*")
    return tab_b


def _report_in_both_tabs(page, tab_b):
    for p in (page, tab_b):
        p.wait_for_selector("#report:not([hidden])", timeout=120_000)
        until(lambda p=p: p.locator("#curves").evaluate("e => e.naturalWidth") > 0)
    assert page.locator("#phase").get_attribute("data-phase") == "done"
    assert page.locator("#best figure").count() == 8
    assert "16" in page.locator("#summary").inner_text()
    shot(page, "6-report")


def test_rate_a_whole_run_in_the_browser(browser, tmp_path):
    run_dir = tmp_path / "run"
    servers = [Server(run_dir)]  # the one running last is killed at the end
    page = browser.new_page(viewport={"width": 1000, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if "Content Security Policy" in msg.text
            else None)
    clicks, keys, tab_b_ratings = [5, 4, 2, 1], [1, 3, 5, 2], [3, 3, 4, 5]
    try:
        _round1_by_clicks(page, servers[-1], clicks)
        _round2_by_keys(page, keys)
        _round3_drafts_survive_a_refresh(page, run_dir)
        _round4_survives_a_server_kill(page, servers, run_dir)
        tab_b = _round4_from_two_tabs(page, browser, servers[-1], tab_b_ratings)
        _report_in_both_tabs(page, tab_b)
        assert errors == []
    finally:
        servers[-1].kill()

    answers = records(run_dir, "answer")
    got = {a["id"]: a["reward"] + 3 for a in answers}
    want = {**{f"r0-q{j}": r for j, r in enumerate(clicks)},
            **{f"r1-q{j}": r for j, r in enumerate(keys)},
            "r2-q0": 2, "r2-q1": 5, "r2-q2": 3, "r2-q3": 4,
            **{f"r3-q{j}": r for j, r in enumerate(tab_b_ratings)}}
    assert len(answers) == 16 and got == want  # each answer once, the first one stands
    assert (run_dir / "report.json").is_file()
