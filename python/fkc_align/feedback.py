"""Durable feedback: every query shown and every answer, appended to one JSON-lines file.

``<run_dir>/feedback.jsonl`` holds, one JSON object a line, in order:

* a ``header``: format version, the run's seed and settings (compared on resume);
* ``queries``: one line per round, written (flushed, fsynced) *before* anyone is asked: the
  round's particles with their ids, how each was picked (``cold``/``top``/``random``) and weight;
* ``answer``: one line per answer, written the moment it arrives: query id, round, particle,
  reward, the run's seed and a hash of its settings.

So a killed run loses nothing that was answered, and a resumed run asks the pending queries of
an unfinished round rather than sampling new ones. Answers may come from another process (a
person rating particles on a page): it opens the same folder and calls :meth:`FeedbackStore.answer`;
the loop waits for them with :class:`StoreOracle`.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch

FEEDBACK_FILE = "feedback.jsonl"
FORMAT_VERSION = 1


class FeedbackCorruptError(ValueError):
    """A feedback file has a bad line that is not its last one (so not a write cut short)."""


class SettingsMismatchError(ValueError):
    """A resumed run was given settings that differ from the ones stored in its run folder."""


class FeedbackTailWarning(UserWarning):
    """The last line of a feedback file is truncated or corrupt (a write cut short by a kill)."""


@dataclass(frozen=True)
class Query:
    """A particle shown to the oracle. ``x`` has the task's particle shape (float32)."""

    id: str
    round: int
    x: torch.Tensor
    pick: str
    weight: float | None


@dataclass(frozen=True)
class FeedbackRecord:
    """One answer: the particle ``x`` (float32, particle shape), its ``reward`` and ``round``."""

    id: str
    round: int
    x: torch.Tensor
    reward: float
    pick: str
    seed: int | None
    time: float


def settings_hash(settings: dict[str, Any]) -> str:
    """Short stable hash of a settings dict (sorted JSON)."""
    blob = json.dumps(settings, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def _json_default(value: Any) -> Any:
    if isinstance(value, (tuple, set)):
        return list(value)
    raise TypeError(f"settings: value {value!r} of type {type(value).__name__} is not JSON")


def _normalise(settings: dict[str, Any]) -> dict[str, Any]:
    """Settings as they read back from JSON (tuples become lists), for comparisons."""
    return json.loads(json.dumps(settings, sort_keys=True, default=_json_default))


class FeedbackStore:
    """The append-only record of one run. Build with :meth:`create` or :meth:`open`.

    ``run_dir=None`` (only through :meth:`create`) keeps everything in memory: for tests and
    throwaway runs, not durable.
    """

    def __init__(self, run_dir: Path | None, header: dict[str, Any]) -> None:
        self.run_dir = run_dir
        self.header = header
        self.settings: dict[str, Any] = header["settings"]
        self.seed: int | None = header.get("seed")
        self.settings_id: str = header["settings_hash"]
        self._queries: dict[str, Query] = {}
        self._round_queries: dict[int, list[str]] = {}
        self._answers: dict[str, FeedbackRecord] = {}
        self._order: list[str] = []
        self._offset = 0  # bytes of the file consumed so far (complete lines only)
        self._line_no = 2  # number of the next line to read (1 is the header)
        self.tail_problem: str | None = None
        self._tail_pending = False  # a bad tail is still in the file: appending would corrupt
        self._memory_lines: list[str] = []

    # ------------------------------------------------------------------ construction

    @classmethod
    def create(cls, run_dir: str | os.PathLike | None, settings: dict[str, Any],
               seed: int | None = None) -> FeedbackStore:
        """Start a new store; raises ``FileExistsError`` if ``run_dir`` already has feedback."""
        settings = _normalise(settings)
        header = {"type": "header", "format": FORMAT_VERSION, "seed": seed,
                  "settings": settings, "settings_hash": settings_hash(settings),
                  "created": time.time()}
        if run_dir is None:
            store = cls(None, header)
            store._append(header)
            return store
        path = Path(run_dir)
        path.mkdir(parents=True, exist_ok=True)
        file = path / FEEDBACK_FILE
        if file.exists() and file.stat().st_size > 0:
            raise FileExistsError(
                f"run_dir: {path} already holds feedback ({file}); resume it or choose another "
                f"folder"
            )
        store = cls(path, header)
        store._append(header)
        return store

    @classmethod
    def open(cls, run_dir: str | os.PathLike) -> FeedbackStore:
        """Read an existing store. A truncated or corrupt *last* line is reported (a
        :class:`FeedbackTailWarning` and ``store.tail_problem``), not silently dropped; a bad
        line anywhere else raises :class:`FeedbackCorruptError`."""
        path = Path(run_dir)
        file = path / FEEDBACK_FILE
        if not file.exists():
            raise FileNotFoundError(f"run_dir: no feedback file {file}")
        data = file.read_bytes()
        first_nl = data.find(b"\n")
        if first_nl < 0:
            raise FeedbackCorruptError(
                f"{file}: the header line is incomplete ({len(data)} bytes, no newline): the run "
                f"was killed before it started; delete the folder and start again"
            )
        try:
            header = json.loads(data[:first_nl])
        except json.JSONDecodeError as exc:
            raise FeedbackCorruptError(f"{file}: line 1 (header) is not JSON: {exc}") from exc
        if header.get("type") != "header" or header.get("format") != FORMAT_VERSION:
            raise FeedbackCorruptError(
                f"{file}: line 1: expected a header of format {FORMAT_VERSION}, got "
                f"type={header.get('type')!r} format={header.get('format')!r}"
            )
        store = cls(path, header)
        store._offset = first_nl + 1
        store._consume(data, first_line_no=2, at_open=True)
        return store

    # ------------------------------------------------------------------ reading

    def _consume(self, data: bytes, first_line_no: int, at_open: bool) -> None:
        """Parse complete lines of ``data`` from ``self._offset`` on."""
        line_no = first_line_no
        while self._offset < len(data):
            nl = data.find(b"\n", self._offset)
            if nl < 0:
                if at_open:
                    tail = data[self._offset:]
                    self._report_tail(line_no, f"truncated line ({len(tail)} bytes, no newline)")
                return  # a concurrent writer may still be finishing this line
            raw = data[self._offset:nl]
            try:
                rec = json.loads(raw)
                if not isinstance(rec, dict) or "type" not in rec:
                    raise ValueError("not a record object")
                self._apply(rec)
            except (ValueError, KeyError, TypeError) as exc:
                if nl + 1 >= len(data):
                    self._report_tail(line_no, f"corrupt last line ({exc})")
                    return
                raise FeedbackCorruptError(
                    f"{self._file}: line {line_no} is corrupt ({exc}) and is not the last line; "
                    f"the file was modified by something other than a killed write"
                ) from exc
            self._offset = nl + 1
            line_no += 1
            self._line_no = line_no

    def _report_tail(self, line_no: int, what: str) -> None:
        self.tail_problem = (
            f"{self._file}: line {line_no}: {what}; it holds no complete answer and is ignored. "
            f"The query it belonged to stays pending and will be asked again on resume."
        )
        self._tail_pending = True
        warnings.warn(self.tail_problem, FeedbackTailWarning, stacklevel=3)

    def refresh(self) -> None:
        """Read lines appended to the file (by us or by other processes) since the last read."""
        if self.run_dir is None or self._tail_pending:
            return  # a known bad tail is reported once and handled by move_bad_tail_aside
        with open(self._file, "rb") as fh:
            fh.seek(self._offset)
            data = fh.read()
        base = self._offset
        self._offset = 0
        try:
            self._consume(data, first_line_no=self._line_no, at_open=False)
        finally:
            self._offset += base

    def _apply(self, rec: dict[str, Any]) -> None:
        kind = rec["type"]
        if kind == "queries":
            rnd = int(rec["round"])
            ids = []
            for q in rec["queries"]:
                query = Query(id=str(q["id"]), round=rnd,
                              x=torch.tensor(q["x"], dtype=torch.float32),
                              pick=str(q["pick"]), weight=q.get("weight"))
                if query.id in self._queries:
                    raise ValueError(f"query id {query.id!r} appears twice")
                self._queries[query.id] = query
                ids.append(query.id)
            self._round_queries.setdefault(rnd, []).extend(ids)
        elif kind == "answer":
            qid = str(rec["id"])
            if qid not in self._queries:
                raise ValueError(f"answer to unknown query id {qid!r}")
            if qid in self._answers:
                raise ValueError(f"query {qid!r} answered twice")
            q = self._queries[qid]
            reward = float(rec["reward"])
            self._answers[qid] = FeedbackRecord(
                id=qid, round=q.round, x=torch.tensor(rec["x"], dtype=torch.float32),
                reward=reward, pick=q.pick, seed=rec.get("seed"), time=float(rec["time"]))
            self._order.append(qid)
        else:
            raise ValueError(f"unknown record type {kind!r}")

    @property
    def _file(self) -> Path:
        return (self.run_dir / FEEDBACK_FILE) if self.run_dir is not None else Path("<memory>")

    def records(self) -> list[FeedbackRecord]:
        """All answers in arrival order."""
        return [self._answers[i] for i in self._order]

    def queries(self, round_index: int) -> list[Query]:
        """The queries of one round, in the order they were picked (empty if none yet)."""
        return [self._queries[i] for i in self._round_queries.get(round_index, [])]

    def rounds(self) -> list[int]:
        """Round indices that have queries, ascending."""
        return sorted(self._round_queries)

    def pending(self, round_index: int | None = None) -> list[Query]:
        """Queries not answered yet (of one round, or of all rounds)."""
        ids = (self._round_queries.get(round_index, []) if round_index is not None
               else [i for r in self.rounds() for i in self._round_queries[r]])
        return [self._queries[i] for i in ids if i not in self._answers]

    def n_queries(self) -> int:
        """Queries issued so far (answered or pending): what counts against the budget."""
        return len(self._queries)

    def answer_of(self, query_id: str) -> FeedbackRecord | None:
        return self._answers.get(query_id)

    def check_settings(self, settings: dict[str, Any]) -> None:
        """Raise :class:`SettingsMismatchError` naming every setting that differs."""
        given = _normalise(settings)
        keys = sorted(set(given) | set(self.settings))
        diffs = [f"{k}: stored {self.settings.get(k, '<missing>')!r}, given "
                 f"{given.get(k, '<missing>')!r}" for k in keys
                 if self.settings.get(k, "<missing>") != given.get(k, "<missing>")]
        if diffs:
            raise SettingsMismatchError(
                f"resume: the settings differ from the run stored in {self.run_dir}: "
                + "; ".join(diffs)
                + ". Resume with the same settings, or start a new run in another folder."
            )

    # ------------------------------------------------------------------ writing

    def _append(self, rec: dict[str, Any]) -> None:
        line = json.dumps(rec, separators=(",", ":"), allow_nan=False) + "\n"
        if self.run_dir is None:
            self._memory_lines.append(line)
            if rec["type"] != "header":
                self._apply(rec)
            return
        if self._tail_pending:
            raise FeedbackCorruptError(
                f"{self._file}: has a bad tail ({self.tail_problem}); call "
                f"move_bad_tail_aside() before appending"
            )
        # one write() on an O_APPEND descriptor, then fsync: the line is on disk before we go
        # on, and a concurrent writer's lines are never interleaved with ours
        fd = os.open(self._file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        if rec["type"] == "header":
            self._offset = len(line.encode())
        else:
            self.refresh()  # reads our line back, with any other writer's lines before it

    def add_queries(self, round_index: int, x: torch.Tensor, picks: Sequence[str],
                    weights: Sequence[float] | None = None) -> list[Query]:
        """Persist a round's queries as pending, before anyone is asked.

        Args:
            x: ``(n, *S)`` particles; ``picks``: ``n`` labels; ``weights``: ``n`` floats or None.
        """
        if round_index in self._round_queries:
            raise ValueError(f"round_index: round {round_index} already has queries")
        if len(picks) != x.shape[0] or (weights is not None and len(weights) != x.shape[0]):
            raise ValueError(f"picks/weights: expected {x.shape[0]} entries, got {len(picks)}"
                             f"/{None if weights is None else len(weights)}")
        xs = x.detach().float().cpu()
        if not torch.isfinite(xs).all():
            raise ValueError(f"x: round {round_index} has non-finite particles")
        entries = []
        for j in range(xs.shape[0]):
            wj = None if weights is None else float(weights[j])
            entries.append({"id": f"r{round_index}-q{j}", "x": xs[j].tolist(), "pick": picks[j],
                            "weight": wj if wj is None or math.isfinite(wj) else None})
        self._append({"type": "queries", "round": int(round_index), "queries": entries})
        return self.queries(round_index)

    def answer(self, query_id: str, reward: float) -> FeedbackRecord:
        """Append the answer to a pending query (durably, before returning)."""
        self.refresh()
        if query_id not in self._queries:
            raise KeyError(f"query_id: no query {query_id!r} in {self._file}")
        if query_id in self._answers:
            raise ValueError(f"query_id: {query_id!r} was already answered")
        reward = float(reward)
        if not math.isfinite(reward):
            raise ValueError(f"reward: expected a finite number for {query_id!r}, got {reward}")
        q = self._queries[query_id]
        self._append({"type": "answer", "id": query_id, "round": q.round, "x": q.x.tolist(),
                      "reward": reward, "seed": self.seed, "settings_hash": self.settings_id,
                      "time": time.time()})
        return self._answers[query_id]

    def move_bad_tail_aside(self) -> Path | None:
        """Cut a reported bad tail off the file (kept in ``feedback.jsonl.bad-tail-<t>``)."""
        if self.tail_problem is None or self.run_dir is None:
            return None
        data = self._file.read_bytes()
        aside = self.run_dir / f"{FEEDBACK_FILE}.bad-tail-{int(time.time() * 1000)}"
        aside.write_bytes(data[self._offset:])
        with open(self._file, "r+b") as fh:
            fh.truncate(self._offset)
            fh.flush()
            os.fsync(fh.fileno())
        self._tail_pending = False
        return aside


# ---------------------------------------------------------------------- oracles


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


class StoreOracle:
    """A person (or another process) answering through the store: waits for their answers.

    The queries are already persisted as pending; whoever rates them opens the same run folder
    (``FeedbackStore.open(run_dir)``), reads ``pending()`` and calls ``answer(id, reward)``.
    """

    def __init__(self, poll_s: float = 1.0, timeout_s: float | None = None) -> None:
        if not poll_s > 0:
            raise ValueError(f"poll_s: expected > 0 seconds, got {poll_s}")
        self.poll_s, self.timeout_s = poll_s, timeout_s

    def ask(self, store: FeedbackStore, queries: Sequence[Query]) -> None:
        if store.run_dir is None:
            raise ValueError("StoreOracle: needs a run folder that others can write answers to")
        deadline = None if self.timeout_s is None else time.monotonic() + self.timeout_s
        ids = [q.id for q in queries]
        while True:
            store.refresh()
            missing = [i for i in ids if store.answer_of(i) is None]
            if not missing:
                return
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(
                    f"StoreOracle: {len(missing)} of {len(ids)} queries still unanswered after "
                    f"{self.timeout_s} s (e.g. {missing[0]}); resume the run to keep waiting"
                )
            time.sleep(self.poll_s)


__all__ = [
    "FeedbackCorruptError", "FeedbackRecord", "FeedbackStore", "FeedbackTailWarning",
    "FunctionOracle", "Oracle", "Query", "SettingsMismatchError", "StoreOracle",
    "settings_hash",
]
