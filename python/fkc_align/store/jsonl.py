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
  ``FeedbackStore.open(..., owner=True)`` take the folder's
  :class:`~fkc_align.store.lock.RunLock`
  (a second owner gets :class:`~fkc_align.store.lock.RunFolderBusy` naming the holder's pid,
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
to the last complete line and raised as :class:`~fkc_align.store.durable_io.StorageError`, saying
what is saved and how to resume.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from .durable_io import (
    StorageError,
    describe_os_error,
    fsync_dir,
    is_storage_error,
    lock_fd,
    write_all,
)
from .errors import (
    DuplicateAnswer,
    FeedbackCorruptError,
    FeedbackLineWarning,
    FeedbackTailWarning,
    UnknownQuery,
)
from .lock import RunLock
from .records import (
    FEEDBACK_FILE,
    FORMAT_VERSION,
    BadLine,
    FeedbackRecord,
    Query,
    RunView,
    check_reward,
    normalise,
    settings_hash,
)

LOCK_TIMEOUT_S = 30.0  # an append holds the file lock for one write + fsync


class FeedbackStore(RunView):
    """The append-only record of one run. Build with :meth:`create` or :meth:`open`.

    ``run_dir=None`` (only through :meth:`create`) keeps everything in memory: for tests and
    throwaway runs, not durable. See the module docstring for owners, answerers and readers;
    the questions about the run (``pending``, ``records``, ``query``...) are :class:`RunView`'s.
    """

    def __init__(self, run_dir: Path | None, header: dict[str, Any]) -> None:
        super().__init__(run_dir, header)
        self.lock: RunLock | None = None
        self.lock_timeout_s = LOCK_TIMEOUT_S
        self.bad_lines: list[BadLine] = []
        self.tail_problem: str | None = None
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
        settings = normalise(settings)
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
            self.apply(rec)
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
        fsync_dir(self._file.parent)
        self._offset = len(line)

    def _locked_append(self, build: Callable[[], dict[str, Any]]) -> None:
        """Under the file's exclusive lock: read what others appended, ``build()`` the record
        (which validates against that fresh state and may raise), append it, fsync."""
        if self.run_dir is None:
            self.apply(build())
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
            self.apply(rec)
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


__all__ = ["LOCK_TIMEOUT_S", "FeedbackStore"]
