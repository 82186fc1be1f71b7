"""Who answers a round's queries: a function now, or someone writing into the run folder later.

Every oracle gets the round's queries, already persisted as pending, and puts each answer into
the store through :meth:`~fkc_align.store.FeedbackStore.answer`. :class:`FunctionOracle` answers
at once; :class:`PollingOracle` waits for answers that others write (another process, a page)
and is the base of :class:`StoreOracle` here and of the rating page's oracle
(:class:`fkc_align.serve.session.PageOracle`).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from typing import Protocol

import torch

from .jsonl import FeedbackStore
from .records import Query


class Oracle(Protocol):
    """Gets answers to ``queries`` into ``store`` (each through ``store.answer``)."""

    def ask(self, store: FeedbackStore, queries: Sequence[Query]) -> None: ...


class FunctionOracle:
    """A synthetic user: ``reward_fn(x) -> (n,)`` asked one particle at a time.

    Each answer is stored the moment it is computed, so a kill loses at most the one in flight.
    """

    def __init__(self, reward_fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
        self.reward_fn = reward_fn

    def ask(self, store: FeedbackStore, queries: Sequence[Query]) -> None:
        for q in queries:
            r = self.reward_fn(q.x[None])
            r = torch.as_tensor(r).reshape(-1)
            if r.numel() != 1:
                raise ValueError(f"oracle: expected one reward for one particle, got {r.numel()}")
            store.answer(q.id, float(r[0]))


class PollingOracle:
    """Waits, reading the run folder every ``poll_s`` seconds, until every query has an answer.

    The loop is the same for every waiting oracle; subclasses change what happens around it:
    :meth:`started` and :meth:`answered` (before and after), :meth:`still_missing` (each poll
    that finds answers missing: notes, a timeout) and :meth:`sleep` (how to wait, e.g. on an
    event that also means "stop").
    """

    def __init__(self, poll_s: float = 1.0) -> None:
        if not poll_s > 0:
            raise ValueError(f"poll_s: expected > 0 seconds, got {poll_s}")
        self.poll_s = poll_s

    def ask(self, store: FeedbackStore, queries: Sequence[Query]) -> None:
        if store.run_dir is None:
            raise ValueError(f"{type(self).__name__}: needs a run folder that others can write "
                             f"answers to")
        ids = [q.id for q in queries]
        start = time.monotonic()
        self.started(store, ids)
        while True:
            store.refresh()
            missing = [i for i in ids if store.answer_of(i) is None]
            if not missing:
                self.answered(store, ids)
                return
            self.still_missing(store, ids, missing, time.monotonic() - start)
            self.sleep(self.poll_s)

    def started(self, store: FeedbackStore, ids: list[str]) -> None:
        """Called once before the first poll."""

    def answered(self, store: FeedbackStore, ids: list[str]) -> None:
        """Called once every query has its answer."""

    def still_missing(self, store: FeedbackStore, ids: list[str], missing: list[str],
                      waited_s: float) -> None:
        """Called after each poll that left ``missing`` unanswered; may raise to give up."""

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class StoreOracle(PollingOracle):
    """A person (or another process) answering through the store: waits for their answers.

    The queries are already persisted as pending; whoever rates them opens the same run folder
    (``FeedbackStore.open(run_dir)``), reads ``pending()`` and calls ``answer(id, reward)``.

    Args:
        poll_s: how often the file is read for new answers.
        timeout_s: give up with ``TimeoutError`` after this long (``None``: wait as long as it
            takes, a person may be slow, but say so every ``report_every_s``).
        report_every_s: how often ``log`` is told what is still awaited.
        log: where those notes go (default: standard error).
    """

    def __init__(self, poll_s: float = 1.0, timeout_s: float | None = None,
                 report_every_s: float = 60.0,
                 log: Callable[[str], None] | None = None) -> None:
        super().__init__(poll_s)
        if timeout_s is not None and not timeout_s >= 0:
            raise ValueError(f"timeout_s: expected None or >= 0 seconds, got {timeout_s}")
        if not report_every_s > 0:
            raise ValueError(f"report_every_s: expected > 0 seconds, got {report_every_s}")
        self.timeout_s, self.report_every_s = timeout_s, report_every_s
        self.log = log if log is not None else (lambda msg: print(msg, file=sys.stderr,
                                                                  flush=True))
        self._next_note = 0.0

    def started(self, store: FeedbackStore, ids: list[str]) -> None:
        self._next_note = self.report_every_s

    def still_missing(self, store: FeedbackStore, ids: list[str], missing: list[str],
                      waited_s: float) -> None:
        if self.timeout_s is not None and waited_s > self.timeout_s:
            raise TimeoutError(
                f"StoreOracle: {len(missing)} of {len(ids)} queries still unanswered after "
                f"{self.timeout_s} s (e.g. {missing[0]}); resume the run to keep waiting"
            )
        if waited_s >= self._next_note:
            self._next_note = waited_s + self.report_every_s
            shown = ", ".join(missing[:8]) + (", ..." if len(missing) > 8 else "")
            self.log(f"StoreOracle: waiting {waited_s:.0f} s for {len(missing)} of "
                     f"{len(ids)} answers in {store._file}: {shown} (answer with "
                     f"FeedbackStore.open({str(store.run_dir)!r}).answer(id, reward))")


__all__ = ["FunctionOracle", "Oracle", "PollingOracle", "StoreOracle"]
