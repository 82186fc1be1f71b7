"""A served run: the active loop in a background thread, a person answering through the store.

The loop (:func:`fkc_align.run_active`) runs with a :class:`PageOracle`: it writes each round's
queries into the run folder (as it does for any oracle) and waits until every one of them has an
answer in ``feedback.jsonl``. The rating page reaches the same folder through its own
:class:`~fkc_align.store.FeedbackStore`, exactly as another process would: the page never
holds an answer the file does not, and the loop never sees one the page was not told is saved.

Ratings are 1 to 5 stars; the reward the loop learns from is ``stars - 3`` (-2 .. +2, 3 stars
neutral): see :func:`rating_to_reward`.
"""

from __future__ import annotations

import dataclasses
import io
import math
import re
import sys
import threading
from pathlib import Path
from typing import Any

import torch

from ..config import RunConfig, Runtime, settle
from ..loop import run_active
from ..report import NEUTRAL_RATING, plot_curves, write_report
from ..results import ActiveResult
from ..store import DuplicateAnswer, FeedbackStore, PollingOracle
from ..tasks import Task
from .models import RATINGS, Submission, clip
from .render import Renderer, particle_png

BEST_SHOWN = 8  # particles in the best-so-far gallery


def rating_to_reward(rating: int) -> float:
    """The reward stored for a star rating: ``rating - 3`` (1 star -2, 3 stars 0, 5 stars +2)."""
    return float(rating - NEUTRAL_RATING)


def reward_to_rating(reward: float) -> int | None:
    """The star rating a stored reward came from, None when it did not come from stars."""
    stars = reward + NEUTRAL_RATING
    return int(stars) if stars in RATINGS else None


class ServeStopped(Exception):
    """The server is shutting down: the loop thread leaves its round (answers stay saved)."""


class AnswerError(Exception):
    """A submission the page must refuse: ``status`` (HTTP code), a message, extra fields."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.message, self.extra = status, message, extra


class PageOracle(PollingOracle):
    """The person on the page: waits for the answers to arrive in the run folder.

    The polling of :class:`~fkc_align.store.StoreOracle`; it also tells its session what the
    loop is doing (waiting for a round, training) and stops when the session stops.
    """

    def __init__(self, session: ServeSession, poll_s: float = 0.1) -> None:
        super().__init__(poll_s)
        self.session = session

    def started(self, store: FeedbackStore, ids: list[str]) -> None:
        self.session._enter("waiting")
        self._check_stopping()

    def still_missing(self, store: FeedbackStore, ids: list[str], missing: list[str],
                      waited_s: float) -> None:
        self._check_stopping()

    def answered(self, store: FeedbackStore, ids: list[str]) -> None:
        self.session._enter("training")

    def sleep(self, seconds: float) -> None:
        self.session.stopping.wait(seconds)

    def _check_stopping(self) -> None:
        if self.session.stopping.is_set():
            raise ServeStopped("the server stopped while waiting for answers")


class ServeSession:
    """One run folder served to a person: the loop thread plus what the page asks of it.

    Args:
        task: the base model; its synthetic oracle and hit test are not used (the person is the
            oracle), its name and parameters identify the run as for ``fkc-align run``.
        run_dir: the run folder (``feedback.jsonl``, then ``report.json``/``report.png``/
            ``best.png`` when the budget is spent).
        resume: continue the run stored in ``run_dir`` (its settings must match).
        config: the run's :class:`~fkc_align.config.RunConfig` (resolved for ``task``).
        runtime: backend and device (:class:`~fkc_align.config.Runtime`; its run folder,
            resume, progress and log are the session's).
        run_options: instead of ``config``/``runtime``, their fields as keywords (``budget``,
            ``k``, ``n_particles``, ``seed``, ``backend``...), resolved here once.
        render: ``render(x) -> PNG bytes | PIL image | array``, one particle's picture (default:
            the task's ``render_particle``, else by shape: see :mod:`fkc_align.serve.render`).
        poll_s: how often the waiting loop looks for new answers.
    """

    def __init__(self, task: Task, run_dir: str | Path, *, resume: bool = False,
                 config: RunConfig | None = None, runtime: Runtime | None = None,
                 run_options: dict[str, Any] | None = None, render: Renderer | None = None,
                 poll_s: float = 0.1) -> None:
        self.task, self.run_dir, self.resume = task, Path(run_dir), resume
        self.config, runtime = settle(task, config, runtime, dict(run_options or {}))
        self.runtime = dataclasses.replace(
            runtime, out_dir=self.run_dir, resume=resume, progress=False,
            log=lambda msg: print(f"fkc-align serve: {msg}", flush=True))
        self.render = render
        self.poll_s = poll_s
        self.stopping = threading.Event()
        self.result: ActiveResult | None = None
        self.error: str | None = None
        self._ready = threading.Event()
        self._state_lock = threading.Lock()  # phase, round, step
        self._store_lock = threading.Lock()  # the page's store (one append at a time)
        self._render_lock = threading.Lock()  # matplotlib is not thread-safe
        self._phase, self._step = "starting", 0
        self._store: FeedbackStore | None = None
        self._png: dict[str, bytes] = {}
        self._curves_png: bytes | None = None
        self._thread: threading.Thread | None = None
        self.person_task = self._person_task(task)

    # ------------------------------------------------------------------ the loop thread

    def _person_task(self, task: Task) -> Task:
        """The task as the loop sees it: score calls counted (sampling progress), no synthetic
        oracle or hit test (the person's stars are the only reward)."""
        score_fn = task.score_fn

        def counted_score(x: torch.Tensor, tau: float) -> torch.Tensor:
            if self.stopping.is_set():
                raise ServeStopped("the server stopped while sampling")
            self._enter("sampling", step=True)
            return score_fn(x, tau)

        def no_synthetic_oracle(x: torch.Tensor) -> torch.Tensor:
            raise RuntimeError("fkc-align serve: the person on the page is the oracle")

        return dataclasses.replace(task, score_fn=counted_score, oracle=no_synthetic_oracle,
                                   is_hit=None, hit_breakdown=None)

    def _enter(self, phase: str, step: bool = False) -> None:
        """Record what the loop does now; the first call also means the run folder is open."""
        with self._state_lock:
            if step:  # one more sampler step of the round being sampled
                self._step = self._step + 1 if self._phase == "sampling" else 1
            self._phase = phase
        self._ready.set()

    @property
    def phase(self) -> str:
        """What the loop is doing: ``starting``, ``sampling``, ``waiting`` (for the page's
        answers), ``training``, ``report``, ``done``, ``stopped`` or ``error``."""
        return self._phase

    @property
    def running(self) -> bool:
        """Whether the loop thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the loop thread (once)."""
        if self._thread is not None:
            raise RuntimeError("start: the session is already started")
        self._thread = threading.Thread(target=self._run, name="fkc-align-loop", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            result = run_active(self.person_task, self.config,
                                oracle=PageOracle(self, self.poll_s), runtime=self.runtime)
            self._enter("report")
            buf = io.BytesIO()
            results = {result.settings["strategy"]: result}
            with self._render_lock:
                write_report(self.run_dir, self.person_task, results, oracle="person",
                             extra={"oracle": "a person rating on fkc-align serve's page",
                                    "reward": "stars - 3 (1 star -2 ... 5 stars +2)"})
                plot_curves(results, buf, oracle="person")
            self._curves_png, self.result = buf.getvalue(), result
            self._enter("done")
            print(f"fkc-align serve: the budget is spent; report.json, report.png and best.png "
                  f"are in {self.run_dir} and on the page. Ctrl-C stops the server.", flush=True)
        except ServeStopped:
            self._enter("stopped")
        except Exception as exc:  # shown on the page, and by the command
            serving = self._ready.is_set()  # before that, wait_ready raises it to the command
            self.error = f"{type(exc).__name__}: {exc}" if not isinstance(
                exc, (ValueError, OSError)) else str(exc)
            self._enter("error")
            if serving:
                print(f"fkc-align serve: error: {self.error}", file=sys.stderr, flush=True)

    def wait_ready(self, timeout_s: float | None = None) -> None:
        """Block until the loop has opened its run folder (or failed: its error is raised as
        ``RuntimeError`` so the command can report it before serving)."""
        if not self._ready.wait(timeout_s):
            raise TimeoutError(f"the loop did not open {self.run_dir} within {timeout_s} s")
        if self._phase == "error":
            raise RuntimeError(self.error)

    def stop(self, timeout_s: float = 10.0) -> None:
        """Ask the loop thread to leave (it does at its next sampling step or answer poll)."""
        self.stopping.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    # ------------------------------------------------------------------ the page's side

    def _page_store(self) -> FeedbackStore:
        """The page's own view of the run folder (call with ``_store_lock`` held)."""
        if self._store is None:
            self._store = FeedbackStore.open(self.run_dir)
        self._store.refresh()
        return self._store

    def state(self) -> dict[str, Any]:
        """What the page shows: phase, progress, the waiting round's queries, best so far,
        and the report once the budget is spent."""
        with self._state_lock:
            phase, step = self._phase, self._step
        out: dict[str, Any] = {"phase": phase, "error": self.error,
                               "scale": {"ratings": list(RATINGS),
                                         "reward": "stars - 3 (1 star -2 ... 5 stars +2)"}}
        if not self._ready.is_set():
            return out
        with self._store_lock:
            try:
                store = self._page_store()
            except (OSError, ValueError):  # the loop failed before it wrote the folder
                if phase == "error":
                    return out
                raise
            settings = store.settings
            pending = store.pending()
            rounds = store.rounds()
            current = pending[0].round if pending else None
            shown = current if current is not None else (rounds[-1] if rounds else None)
            queries = store.queries(shown) if shown is not None else []
            records = store.records()
        budget, k = int(settings["budget"]), int(settings["k"])
        out.update({
            "run": {"folder": str(self.run_dir), "task": settings["task"],
                    "settings_hash": store.settings_id, "created": store.header.get("created")},
            "budget": budget, "k": k, "n_rounds": math.ceil(budget / k),
            "queries_used": store.n_queries(), "answered": len(records),
            "round": current,
            "next_round": (rounds[-1] + 1 if rounds else 0) if current is None else None,
            # the share of the round not picked as best by the learned reward (cold start,
            # random or exploration picks)
            "eps": (sum(q.pick != "top" for q in queries) / len(queries) if queries else None),
            "eps_round": shown,
            "sampling": {"step": step, "n_steps": int(settings.get("n_steps") or 0)},
            "queries": ([{"id": q.id, "rating": _rating_of(store, q.id)} for q in queries]
                        if current is not None else []),
            "best": [{"id": r.id, "round": r.round, "reward": r.reward,
                      "rating": reward_to_rating(r.reward)}
                     for r in sorted(records, key=lambda r: -r.reward)[:BEST_SHOWN]],
        })
        if phase == "done" and self.result is not None:
            out["report"] = _finite({"summary": self.result.summary,
                                         "rounds": self.result.rounds,
                                         "files": [str(self.run_dir / n) for n in
                                                   ("report.json", "report.png", "best.png")]})
        return out

    def particle_png(self, query_id: str) -> bytes | None:
        """PNG of a query's particle (rendered once, from the particle stored in the JSON
        feedback file), None for an unknown id."""
        if query_id in self._png:
            return self._png[query_id]
        with self._store_lock:
            query = self._page_store().query(query_id) if self._ready.is_set() else None
        if query is None:
            return None
        with self._render_lock:
            png = particle_png(self.task, query.x, self.render)
        self._png[query_id] = png
        return png

    def curves_png(self) -> bytes | None:
        """The report's curves (rendered in memory from the result), None before the end."""
        return self._curves_png

    def submit(self, submission: Submission) -> dict[str, Any]:
        """Save a round's ratings (a validated :class:`~.models.Submission`).

        Every answer is checked before any is written (known query id, the round waiting for
        answers, at most ``k``); each goes through :meth:`FeedbackStore.answer` (on disk,
        fsynced, when it returns). Answers to queries already answered (another tab, another
        process) are refused and the first answer stands: :class:`AnswerError` 409 naming them,
        after the others of the submission are saved.

        Returns:
            ``{"saved": [ids]}``.
        """
        rnd, answers = submission.round, submission.answers
        with self._store_lock:
            if not self._ready.is_set():
                raise AnswerError(409, "the run is starting; no round is waiting for answers yet")
            store = self._page_store()
            if len(answers) > int(store.settings["k"]):
                raise AnswerError(422, f"answers: expected at most {store.settings['k']} (the "
                                       f"images of one round), got {len(answers)}; nothing was "
                                       f"saved")
            unknown = [a.id for a in answers if store.query(a.id) is None]
            if unknown:
                shown = _some([clip(i) for i in unknown])
                raise AnswerError(404, f"answers: unknown query id(s) {shown} (this run's ids "
                                       f"look like r0-q0); nothing was saved")
            taken = [a for a in answers if store.answer_of(a.id) is not None]
            fresh = [a for a in answers if store.answer_of(a.id) is None]
            pending = store.pending()
            current = pending[0].round if pending else None
            if fresh and rnd != current:
                waiting = ("no round is waiting for answers (the next one is being prepared)"
                           if current is None else f"round {current + 1} is waiting for answers")
                raise AnswerError(409, f"round: this page submitted round {rnd + 1}, but "
                                       f"{waiting}; reload the page. Nothing was saved")
            wrong = [a.id for a in fresh if store.query(a.id).round != current]
            if wrong:
                raise AnswerError(409, f"answers: {_some([page_label(i) for i in wrong])} not in "
                                       f"round {current + 1}, the round waiting for answers; "
                                       f"nothing was saved")
            saved = []
            for a in fresh:
                try:
                    store.answer(a.id, rating_to_reward(a.rating))
                except DuplicateAnswer:  # answered by another process since our refresh
                    taken.append(a)
                    continue
                saved.append(a.id)
            if taken:
                first = _some([f"{page_label(a.id)} ({_stars(_rating_of(store, a.id))})"
                               for a in taken])
                raise AnswerError(
                    409, f"already answered (in another tab or process): {first}. The first "
                         f"answer stands; your rating of {'it' if len(taken) == 1 else 'them'} "
                         f"was not saved" + (f"; the other {len(saved)} were saved"
                                             if saved else ""),
                    saved=saved, already_answered=[a.id for a in taken])
        return {"saved": saved}


def _finite(value: Any) -> Any:
    """``value`` with NaN and infinities replaced by None (the page's JSON is strict)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _rating_of(store: FeedbackStore, query_id: str) -> int | None:
    record = store.answer_of(query_id)
    return None if record is None else reward_to_rating(record.reward)


def page_label(query_id: str) -> str:
    """A query as the page numbers it: ``r2-q0`` is "round 3 image 1"."""
    m = re.fullmatch(r"r(\d+)-q(\d+)", query_id)
    return f"round {int(m[1]) + 1} image {int(m[2]) + 1}" if m else query_id


def _stars(rating: int | None) -> str:
    return "no stars" if rating is None else f"{rating} star{'' if rating == 1 else 's'}"


def _some(items: list[str], shown: int = 5) -> str:
    """The first ``shown`` of ``items``, and how many more (a refusal's size stays bounded)."""
    text = ", ".join(items[:shown])
    return text + (f" and {len(items) - shown} more" if len(items) > shown else "")
