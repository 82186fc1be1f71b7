"""Durable feedback: every query shown and every answer, appended to one JSON-lines file.

``<run_dir>/feedback.jsonl`` holds, one JSON object a line, in order:

* a ``header``: format version, the run's seed and settings (compared on resume);
* ``queries``: one line per round, written (flushed, fsynced) *before* anyone is asked: the
  round's particles with their ids, how each was picked (``cold``/``top``/``random``) and weight;
* ``answer``: one line per answer, written the moment it arrives: query id, round, particle,
  reward, the run's seed and a hash of its settings.

So a killed run loses nothing that was answered, and a resumed run asks the pending queries of
an unfinished round rather than sampling new ones.

Many processes, one folder:

* **One owner** samples rounds and writes queries: ``FeedbackStore.create(..., owner=True)`` /
  ``FeedbackStore.open(..., owner=True)`` take the folder's :class:`~fkc_align.run_lock.RunLock`
  (a second owner gets :class:`~fkc_align.run_lock.RunFolderBusy` naming the holder's pid,
  host and command). ``store.close()`` (or ``with store:``) gives it back.
* **Any number of answerers** (tabs of a rating page, other processes) open the same folder
  without ``owner`` and call :meth:`FeedbackStore.answer`. Each append is atomic across
  processes: under a short ``flock`` on ``feedback.jsonl`` the store reads what others appended,
  checks the answer against it, appends one line, fsyncs, and only then returns. A duplicate or
  unknown answer is refused to the sender (:class:`DuplicateAnswer`, :class:`UnknownQuery`,
  :class:`InvalidReward`, all :class:`AnswerRejected`) and never reaches the file.
* **Readers** need no lock beyond a shared ``flock`` held while reading.

A bad line already in the file (a duplicate or unknown-id answer, a non-numeric or non-finite
reward, a line that is not JSON) is skipped with a :class:`FeedbackLineWarning` naming the file
and line, kept in ``store.bad_lines``, and never blocks later answers; the first valid answer
to a query wins. A last line cut short by a kill is set aside into
``feedback.jsonl.bad-tail-<ms>`` by the next writer (``store.tail_problem`` says so). A write
that fails for a reason outside the program (disk full, read-only, permissions) is rolled back
to the last complete line and raised as :class:`~fkc_align.durable_io.StorageError`, saying
what is saved and how to resume.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import math
import os
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from numbers import Real
from pathlib import Path
from typing import Any, Protocol

import torch

from .durable_io import StorageError, describe_os_error, is_storage_error, lock_fd, write_all
from .run_lock import RunFolderBusy, RunLock

FEEDBACK_FILE = "feedback.jsonl"
FORMAT_VERSION = 1
LOCK_TIMEOUT_S = 30.0  # an append holds the file lock for one write + fsync


class FeedbackCorruptError(ValueError):
    """A feedback file cannot be read as a run (its header is missing or not a header)."""


class SettingsMismatchError(ValueError):
    """A resumed run was given settings that differ from the ones stored in its run folder."""


class FeedbackTailWarning(UserWarning):
    """The last line of a feedback file is truncated (a write cut short by a kill)."""


class FeedbackLineWarning(UserWarning):
    """A complete line of a feedback file is invalid; it is skipped (see ``store.bad_lines``)."""


class AnswerRejected(ValueError):
    """An answer was refused and not written; the message says why."""

    def __str__(self) -> str:  # KeyError (a base of UnknownQuery) would quote the message
        return str(self.args[0]) if self.args else ""


class UnknownQuery(AnswerRejected, KeyError):
    """The answer names a query id the run folder does not hold."""


class DuplicateAnswer(AnswerRejected):
    """The query was already answered (by this or another process); the first answer stands."""


class InvalidReward(AnswerRejected):
    """The reward is not a finite real number (strings and booleans are refused, not coerced)."""


@dataclass(frozen=True)
class BadLine:
    """A skipped line of a feedback file: ``file``, 1-based ``line`` and ``reason``."""

    file: str
    line: int
    reason: str


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


def check_reward(reward: object, name: str = "reward") -> float:
    """``reward`` as a float if it is a finite real number, else :class:`InvalidReward`.

    Accepts Python/numpy reals and one-element tensors; refuses strings (``"0.7"``), booleans,
    NaN and infinities rather than coercing them.
    """
    if isinstance(reward, torch.Tensor):
        if reward.numel() != 1 or reward.is_complex() or reward.dtype == torch.bool:
            raise InvalidReward(f"{name}: expected a real number, got a tensor of shape "
                                f"{tuple(reward.shape)} and dtype {reward.dtype}")
        reward = reward.item()
    if isinstance(reward, bool) or not isinstance(reward, Real):
        raise InvalidReward(f"{name}: expected a real number, got {type(reward).__name__} "
                            f"{reward!r}")
    value = float(reward)
    if not math.isfinite(value):
        raise InvalidReward(f"{name}: expected a finite number, got {value}")
    return value


def _fsync_dir(path: Path) -> None:
    """Make a new directory entry durable (best effort: not every file system allows it)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class FeedbackStore:
    """The append-only record of one run. Build with :meth:`create` or :meth:`open`.

    ``run_dir=None`` (only through :meth:`create`) keeps everything in memory: for tests and
    throwaway runs, not durable. See the module docstring for owners, answerers and readers.
    """

    def __init__(self, run_dir: Path | None, header: dict[str, Any]) -> None:
        self.run_dir = run_dir
        self.header = header
        self.settings: dict[str, Any] = header["settings"]
        self.seed: int | None = header.get("seed")
        self.settings_id: str = header["settings_hash"]
        self.lock: RunLock | None = None
        self.lock_timeout_s = LOCK_TIMEOUT_S
        self.bad_lines: list[BadLine] = []
        self.tail_problem: str | None = None
        self._queries: dict[str, Query] = {}
        self._round_queries: dict[int, list[str]] = {}
        self._answers: dict[str, FeedbackRecord] = {}
        self._order: list[str] = []
        self._offset = 0  # bytes of the file consumed so far (complete lines only)
        self._line_no = 2  # number of the next line to read (1 is the header)
        self._torn_reported_at = -1  # offset of a cut-short tail already reported

    # ------------------------------------------------------------------ construction

    @classmethod
    def create(cls, run_dir: str | os.PathLike | None, settings: dict[str, Any],
               seed: int | None = None, *, owner: bool | RunLock = False) -> FeedbackStore:
        """Start a new store; raises ``FileExistsError`` if ``run_dir`` already has feedback.

        ``owner=True`` (or a :class:`RunLock`) first takes the folder's run lock, held until
        :meth:`close`; :class:`RunFolderBusy` if another process owns the folder.
        """
        settings = _normalise(settings)
        header = {"type": "header", "format": FORMAT_VERSION, "seed": seed,
                  "settings": settings, "settings_hash": settings_hash(settings),
                  "created": time.time()}
        if run_dir is None:
            if owner:
                raise ValueError("owner: an in-memory store (run_dir=None) has no folder to own")
            return cls(None, header)
        path = Path(run_dir)
        lock = _take_lock(path, owner, "run")
        with _released_on_failure(lock):
            path.mkdir(parents=True, exist_ok=True)
            store = cls(path, header)
            store._write_header(header)
        store.lock = lock
        return store

    @classmethod
    def open(cls, run_dir: str | os.PathLike, *, owner: bool | RunLock = False) -> FeedbackStore:
        """Read an existing store.

        Invalid lines are skipped and reported (:class:`FeedbackLineWarning`,
        ``store.bad_lines``); a last line cut short by a kill is reported
        (:class:`FeedbackTailWarning`, ``store.tail_problem``) and set aside by the next append.
        A missing or bad header raises :class:`FeedbackCorruptError`. ``owner``: as in
        :meth:`create` (readers and answerers leave it ``False``).
        """
        path = Path(run_dir)
        file = path / FEEDBACK_FILE
        lock = _take_lock(path, owner, "resume") if owner else None
        with _released_on_failure(lock):
            try:
                fd = os.open(file, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            except FileNotFoundError:
                raise FileNotFoundError(f"run_dir: no feedback file {file}") from None
            try:
                lock_fd(fd, fcntl.LOCK_SH, timeout_s=LOCK_TIMEOUT_S, what=str(file))
                size = os.fstat(fd).st_size
                data = os.pread(fd, size, 0)
                store = cls(path, _parse_header(file, data))
                store._offset = data.find(b"\n") + 1
                store._consume(data[store._offset:], exclusive=False, fd=fd)
            finally:
                os.close(fd)
        store.lock = lock
        return store

    def close(self) -> None:
        """Release the run lock if this store owns the folder (reading stays possible)."""
        if self.lock is not None:
            self.lock.release()
            self.lock = None

    def __enter__(self) -> FeedbackStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ reading

    @property
    def _file(self) -> Path:
        return (self.run_dir / FEEDBACK_FILE) if self.run_dir is not None else Path("<memory>")

    def _consume(self, data: bytes, *, exclusive: bool, fd: int) -> None:
        """Apply the complete lines of ``data`` (the file from ``self._offset`` on).

        Bad lines are skipped and reported. A cut-short tail (no newline) is reported; under the
        exclusive lock (``exclusive``) it can only be a dead writer's, so it is set aside.
        """
        pos = 0
        while pos < len(data):
            nl = data.find(b"\n", pos)
            if nl < 0:
                self._torn_tail(data[pos:], exclusive, fd)
                return
            self._apply_line(data[pos:nl])
            self._offset += nl + 1 - pos
            pos = nl + 1

    def _apply_line(self, raw: bytes) -> None:
        line_no = self._line_no
        self._line_no += 1
        try:
            rec = json.loads(raw)
            if not isinstance(rec, dict) or "type" not in rec:
                raise ValueError("not a record object")
            self._apply(rec)
        except (ValueError, KeyError, TypeError) as exc:
            bad = BadLine(str(self._file), line_no, str(exc))
            self.bad_lines.append(bad)
            warnings.warn(f"{bad.file}: line {bad.line} is invalid and skipped ({bad.reason})",
                          FeedbackLineWarning, stacklevel=4)

    def _torn_tail(self, tail: bytes, exclusive: bool, fd: int) -> None:
        where = (f"{self._file}: line {self._line_no}: truncated line ({len(tail)} bytes, "
                 f"no newline)")
        if not exclusive:
            if self._torn_reported_at != self._offset:
                self._torn_reported_at = self._offset
                self.tail_problem = (
                    f"{where}; it holds no complete answer and is ignored. The query it belonged "
                    f"to stays pending and will be asked again on resume.")
                warnings.warn(self.tail_problem, FeedbackTailWarning, stacklevel=4)
            return
        aside = self._file.with_name(f"{FEEDBACK_FILE}.bad-tail-{int(time.time() * 1000)}")
        try:
            afd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
            try:
                write_all(afd, tail)
                os.fsync(afd)
            finally:
                os.close(afd)
            os.ftruncate(fd, self._offset)
            os.fsync(fd)
        except OSError as exc:
            raise self._storage_error(exc, "setting aside a cut-short last line") from exc
        self.tail_problem = (f"{where}; moved aside to {aside} (it held no complete answer; "
                             f"its query stays pending)")
        self.tail_aside = aside
        reported, self._torn_reported_at = self._torn_reported_at == self._offset, -1
        if not reported:  # the same cut-short line is not warned about twice
            warnings.warn(self.tail_problem, FeedbackTailWarning, stacklevel=4)

    def refresh(self) -> None:
        """Read lines appended to the file (by us or by other processes) since the last read."""
        if self.run_dir is None:
            return
        fd = os.open(self._file, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            lock_fd(fd, fcntl.LOCK_SH, timeout_s=self.lock_timeout_s, what=str(self._file))
            self._read_new(fd, exclusive=False)
        finally:
            os.close(fd)

    def _read_new(self, fd: int, *, exclusive: bool) -> None:
        size = os.fstat(fd).st_size
        if size < self._offset:
            raise FeedbackCorruptError(
                f"{self._file}: the file shrank to {size} bytes below the {self._offset} "
                f"already read: something other than this library rewrote it")
        if size > self._offset:
            self._consume(os.pread(fd, size - self._offset, self._offset), exclusive=exclusive,
                          fd=fd)

    def _apply(self, rec: dict[str, Any]) -> None:
        """Apply one record to the in-memory state, or raise (leaving the state unchanged)."""
        kind = rec["type"]
        if kind == "queries":
            rnd = rec["round"]
            if isinstance(rnd, bool) or not isinstance(rnd, int) or rnd < 0:
                raise ValueError(f"round: expected an int >= 0, got {rnd!r}")
            if rnd in self._round_queries:
                raise ValueError(f"round {rnd} already has queries")
            queries = []
            for q in rec["queries"]:
                query = Query(id=str(q["id"]), round=rnd,
                              x=torch.tensor(q["x"], dtype=torch.float32),
                              pick=str(q["pick"]), weight=q.get("weight"))
                if query.id in self._queries or any(query.id == p.id for p in queries):
                    raise ValueError(f"query id {query.id!r} appears twice")
                queries.append(query)
            for query in queries:
                self._queries[query.id] = query
            self._round_queries[rnd] = [q.id for q in queries]
        elif kind == "answer":
            qid = rec["id"]
            if not isinstance(qid, str):
                raise ValueError(f"id: expected a string, got {qid!r}")
            if qid not in self._queries:
                raise ValueError(f"answer to unknown query id {qid!r}")
            if qid in self._answers:
                raise ValueError(f"query {qid!r} answered twice (the first answer stands)")
            raw = rec["reward"]
            if isinstance(raw, bool) or not isinstance(raw, (int, float)):
                raise ValueError(f"reward of {qid!r}: expected a number, got "
                                 f"{type(raw).__name__} {raw!r}")
            if not math.isfinite(raw):
                raise ValueError(f"reward of {qid!r}: expected a finite number, got {raw}")
            q = self._queries[qid]
            record = FeedbackRecord(
                id=qid, round=q.round, x=torch.tensor(rec["x"], dtype=torch.float32),
                reward=float(raw), pick=q.pick, seed=rec.get("seed"), time=float(rec["time"]))
            self._answers[qid] = record
            self._order.append(qid)
        else:
            raise ValueError(f"unknown record type {kind!r}")

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

    def _write_header(self, header: dict[str, Any]) -> None:
        line = (json.dumps(header, separators=(",", ":"), allow_nan=False) + "\n").encode()
        try:
            fd = os.open(self._file, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW
                         | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise self._storage_error(exc, "creating the feedback file") from exc
        try:
            lock_fd(fd, fcntl.LOCK_EX, timeout_s=self.lock_timeout_s, what=str(self._file))
            # an empty file is a kill between creating it and writing the header: reuse it
            if os.fstat(fd).st_size > 0:
                raise FileExistsError(
                    f"run_dir: {self.run_dir} already holds feedback ({self._file}); resume it "
                    f"or choose another folder")
            try:
                write_all(fd, line)
                os.fsync(fd)
            except OSError as exc:
                _truncate_quietly(fd, 0)
                raise self._storage_error(exc, "writing the header") from exc
        finally:
            os.close(fd)
        _fsync_dir(self._file.parent)
        self._offset = len(line)

    def _locked_append(self, build: Callable[[], dict[str, Any]]) -> None:
        """Under the file's exclusive lock: read what others appended, ``build()`` the record
        (which validates against that fresh state and may raise), append it, fsync."""
        if self.run_dir is None:
            self._apply(build())
            return
        try:
            fd = os.open(self._file, os.O_RDWR | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError as exc:
            if is_storage_error(exc):
                raise self._storage_error(exc, "opening the feedback file") from exc
            raise
        try:
            lock_fd(fd, fcntl.LOCK_EX, timeout_s=self.lock_timeout_s, what=str(self._file))
            self._read_new(fd, exclusive=True)
            rec = build()
            line = (json.dumps(rec, separators=(",", ":"), allow_nan=False) + "\n").encode()
            start = self._offset
            try:
                write_all(fd, line)
                os.fsync(fd)
            except OSError as exc:
                _truncate_quietly(fd, start)  # never leave a partial line behind
                if is_storage_error(exc):
                    raise self._storage_error(exc, f"appending a {rec['type']} line") from exc
                raise
            self._apply(rec)
            self._offset = start + len(line)
            self._line_no += 1
        finally:
            os.close(fd)

    def _storage_error(self, exc: OSError, doing: str) -> StorageError:
        n_ans, n_q = len(self._answers), len(self._queries)
        err = StorageError(
            exc.errno,
            f"{self._file}: {doing} failed: {describe_os_error(exc)}. Saved and intact: {n_q} "
            f"queries and {n_ans} answers (every complete line; this write left nothing "
            f"behind). Free space or fix the folder's permissions, then resume: the same "
            f"`fkc-align run ... --out {self.run_dir} --resume`, or "
            f"FeedbackStore.open({str(self.run_dir)!r}) to answer again")
        err.filename = str(self._file)
        return err

    def add_queries(self, round_index: int, x: torch.Tensor, picks: Sequence[str],
                    weights: Sequence[float] | None = None) -> list[Query]:
        """Persist a round's queries as pending, before anyone is asked.

        Args:
            x: ``(n, *S)`` particles; ``picks``: ``n`` labels; ``weights``: ``n`` floats or None.

        Raises ``ValueError`` if the round already has queries (checked against the file,
        under its lock, not only this process's view).
        """
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

        def build() -> dict[str, Any]:
            if round_index in self._round_queries:
                raise ValueError(f"round_index: round {round_index} already has queries in "
                                 f"{self._file}")
            return {"type": "queries", "round": int(round_index), "queries": entries}

        self._locked_append(build)
        return self.queries(round_index)

    def answer(self, query_id: str, reward: float) -> FeedbackRecord:
        """Append the answer to a pending query; return once it is on disk (fsynced).

        Atomic across processes: the check (known id, not answered yet) and the append happen
        under the feedback file's lock against the file's current content.

        Raises:
            UnknownQuery: no query ``query_id`` in the folder.
            DuplicateAnswer: the query already has an answer (from any process).
            InvalidReward: ``reward`` is not a finite real number.
            StorageError: the disk refused the write (nothing partial is left).
        """
        reward = check_reward(reward)
        if not isinstance(query_id, str):
            raise UnknownQuery(f"query_id: expected a string, got {type(query_id).__name__} "
                               f"{query_id!r}")

        def build() -> dict[str, Any]:
            if query_id not in self._queries:
                raise UnknownQuery(f"query_id: no query {query_id!r} in {self._file}")
            prev = self._answers.get(query_id)
            if prev is not None:
                raise DuplicateAnswer(
                    f"query_id: {query_id!r} was already answered (reward {prev.reward}); this "
                    f"answer ({reward}) was not saved")
            q = self._queries[query_id]
            return {"type": "answer", "id": query_id, "round": q.round, "x": q.x.tolist(),
                    "reward": reward, "seed": self.seed, "settings_hash": self.settings_id,
                    "time": time.time()}

        self._locked_append(build)
        return self._answers[query_id]

    def move_bad_tail_aside(self) -> Path | None:
        """Set a cut-short last line aside now (``feedback.jsonl.bad-tail-<ms>``); the next
        append would do it anyway. Returns where it went, or None if there was none."""
        if self.run_dir is None or self.tail_problem is None:
            return None
        fd = os.open(self._file, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            lock_fd(fd, fcntl.LOCK_EX, timeout_s=self.lock_timeout_s, what=str(self._file))
            self.tail_aside = None
            self._read_new(fd, exclusive=True)
        finally:
            os.close(fd)
        return self.tail_aside

    tail_aside: Path | None = None


def _truncate_quietly(fd: int, size: int) -> None:
    try:
        os.ftruncate(fd, size)
        os.fsync(fd)
    except OSError:
        pass  # if even this fails, the next open reports the cut-short line and sets it aside


def _parse_header(file: Path, data: bytes) -> dict[str, Any]:
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
    if (not isinstance(header, dict) or header.get("type") != "header"
            or header.get("format") != FORMAT_VERSION or "settings" not in header):
        got = header if not isinstance(header, dict) else (header.get("type"),
                                                           header.get("format"))
        raise FeedbackCorruptError(
            f"{file}: line 1: expected a header of format {FORMAT_VERSION}, got {got!r}")
    return header


@contextlib.contextmanager
def _released_on_failure(lock: RunLock | None):
    """Give the run folder back at once if opening or creating the store fails (not when the
    traceback is dropped)."""
    try:
        yield
    except BaseException:
        if lock is not None:
            lock.release()
        raise


def _take_lock(path: Path, owner: bool | RunLock, purpose: str) -> RunLock | None:
    if isinstance(owner, RunLock):
        return owner if owner.held else owner.acquire()
    if owner is True:
        return RunLock(path, purpose).acquire()
    if owner is False:
        return None
    raise TypeError(f"owner: expected a bool or a RunLock, got {type(owner).__name__}")


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
        if not poll_s > 0:
            raise ValueError(f"poll_s: expected > 0 seconds, got {poll_s}")
        if timeout_s is not None and not timeout_s >= 0:
            raise ValueError(f"timeout_s: expected None or >= 0 seconds, got {timeout_s}")
        if not report_every_s > 0:
            raise ValueError(f"report_every_s: expected > 0 seconds, got {report_every_s}")
        self.poll_s, self.timeout_s, self.report_every_s = poll_s, timeout_s, report_every_s
        self.log = log if log is not None else (lambda msg: print(msg, file=sys.stderr,
                                                                  flush=True))

    def ask(self, store: FeedbackStore, queries: Sequence[Query]) -> None:
        if store.run_dir is None:
            raise ValueError("StoreOracle: needs a run folder that others can write answers to")
        start = time.monotonic()
        deadline = None if self.timeout_s is None else start + self.timeout_s
        next_note = start + self.report_every_s
        ids = [q.id for q in queries]
        while True:
            store.refresh()
            missing = [i for i in ids if store.answer_of(i) is None]
            if not missing:
                return
            now = time.monotonic()
            if deadline is not None and now > deadline:
                raise TimeoutError(
                    f"StoreOracle: {len(missing)} of {len(ids)} queries still unanswered after "
                    f"{self.timeout_s} s (e.g. {missing[0]}); resume the run to keep waiting"
                )
            if now >= next_note:
                next_note = now + self.report_every_s
                shown = ", ".join(missing[:8]) + (", ..." if len(missing) > 8 else "")
                self.log(f"StoreOracle: waiting {now - start:.0f} s for {len(missing)} of "
                         f"{len(ids)} answers in {store._file}: {shown} (answer with "
                         f"FeedbackStore.open({str(store.run_dir)!r}).answer(id, reward))")
            time.sleep(self.poll_s)


__all__ = [
    "AnswerRejected", "BadLine", "DuplicateAnswer", "FeedbackCorruptError",
    "FeedbackLineWarning", "FeedbackRecord", "FeedbackStore", "FeedbackTailWarning",
    "FunctionOracle", "InvalidReward", "Oracle", "Query", "RunFolderBusy", "RunLock",
    "SettingsMismatchError", "StorageError", "StoreOracle", "UnknownQuery", "check_reward",
    "settings_hash",
]
