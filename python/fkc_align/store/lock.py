"""One owner per run folder: an OS-level lock on ``<run_dir>/run.lock``.

The owner of a run folder is the one process that samples rounds and writes queries into it:
``fkc-align run`` and ``--resume``, and anything else that drives a run (a web page that runs
the loop). Readers and answerers (:meth:`FeedbackStore.open` + ``answer``) never need it: their
appends are made safe by a short lock on the feedback file itself.

Usage::

    from fkc_align.store import RunLock, RunFolderBusy

    with RunLock(run_dir, purpose="serve"):     # raises RunFolderBusy naming the holder
        ...                                     # this process owns run_dir

    RunLock.holder(run_dir)   # -> {"pid", "host", "command", "purpose", "since"} or None

The lock is ``fcntl.flock(LOCK_EX)`` on an open file, so the kernel releases it when the
holder exits for any reason (crash, ``SIGKILL``): there is never a stale lock to delete. The
file's content (pid, host, command line, purpose, start time) only *describes* the holder for
the error message; the lock itself is the ``flock``. The description is empty for a moment
after the lock is taken and before it is given back: a refused process that reads it empty
tries the lock again for up to ``DESCRIPTION_WAIT_S``, so it names the holder or takes a folder
that has just come free. A folder is taken once: a second
``acquire`` in the same process is refused like any other (a caller that owns its folder hands
its lock on, e.g. ``Runtime(lock=...)`` to :func:`fkc_align.run_active`). A child made by
``fork`` shares the open file but never releases it (nor erases the description).
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

from .durable_io import StorageError, describe_os_error, is_storage_error, write_all

LOCK_FILE = "run.lock"
# A holder writes its description just after taking the lock and erases it just before giving
# the lock back: a refused process that reads an empty one waits this long (and tries the lock
# again) rather than name nobody, or refuse a folder that is about to be free.
DESCRIPTION_WAIT_S = 2.0


class RunFolderBusy(RuntimeError):
    """The run folder has an owner already (another process, or this one through another
    :class:`RunLock`). ``holder`` describes it (pid, host, command, ...)."""

    def __init__(self, message: str, holder: dict[str, Any] | None) -> None:
        super().__init__(message)
        self.holder = holder


def _describe(holder: dict[str, Any] | None) -> str:
    if not holder:
        return "another process (it has not written its details yet)"
    since = holder.get("since")
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(since)) if since else "?"
    return (f"pid {holder.get('pid')} on host {holder.get('host')} ({holder.get('purpose')}, "
            f"since {when}, command: {holder.get('command')})")


def _read_info(fd: int) -> dict[str, Any] | None:
    try:
        data = os.pread(fd, 65536, 0)
        info = json.loads(data) if data else None
        return info if isinstance(info, dict) else None
    except (OSError, ValueError):
        return None


def _open_lock_file(run_dir: Path, flags: int) -> int:
    # O_NOFOLLOW: a symlink planted at run.lock is refused, never followed
    return os.open(run_dir / LOCK_FILE, flags | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)


class RunLock:
    """Exclusive ownership of ``run_dir`` (see the module docstring).

    Args:
        run_dir: the run folder (created if missing).
        purpose: a word saying what the owner does (``"run"``, ``"resume"``, ``"serve"``), shown
            to anyone refused.

    ``acquire()`` returns ``self`` or raises :class:`RunFolderBusy`; ``release()`` gives it back
    (also on ``with`` exit, when the process ends, and when the object is garbage collected:
    keep a reference for as long as you own the folder).
    """

    def __init__(self, run_dir: str | os.PathLike, purpose: str = "run") -> None:
        self.run_dir = Path(run_dir)
        self.purpose = purpose
        self._fd: int | None = None
        self._pid = 0  # the process that took the lock (a forked child must not release it)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> RunLock:
        if self._fd is not None:
            raise RuntimeError(f"RunLock({self.run_dir}): already acquired by this object")
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            fd = _open_lock_file(self.run_dir, os.O_RDWR | os.O_CREAT)
        except OSError as exc:
            if not is_storage_error(exc):
                raise
            raise StorageError(
                exc.errno, f"{self.run_dir}: cannot take the run folder's lock "
                f"({self.run_dir / LOCK_FILE}): {describe_os_error(exc)}. To run, resume or "
                f"serve, the folder must be writable; reading it needs no lock") from exc
        self._take(fd)
        info = {"pid": os.getpid(), "host": socket.gethostname(),
                "command": " ".join(sys.argv)[:500], "purpose": self.purpose,
                "since": time.time()}
        try:
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            write_all(fd, json.dumps(info).encode())
        except OSError:
            pass  # the description is a courtesy (a read-only or full disk must not stop us)
        self._fd, self._pid = fd, os.getpid()
        return self

    def _take(self, fd: int) -> None:
        """``flock`` ``fd`` or raise :class:`RunFolderBusy` (closing ``fd``) naming the holder;
        while the holder's description is empty, keep trying for ``DESCRIPTION_WAIT_S``."""
        deadline = time.monotonic() + DESCRIPTION_WAIT_S
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                holder = _read_info(fd)
                if holder or time.monotonic() >= deadline:
                    os.close(fd)
                    raise RunFolderBusy(_busy_message(self.run_dir, holder), holder) from None
                time.sleep(0.01)

    def release(self) -> None:
        """Give the folder back (closing the lock file releases the ``flock``)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        if os.getpid() == self._pid:  # a forked child's copy closes without touching the lock
            try:
                os.ftruncate(fd, 0)  # so a stale description never outlives the lock
            except OSError:
                pass
        os.close(fd)

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __del__(self) -> None:
        try:
            self.release()
        except Exception:  # interpreter shutdown: the kernel releases the lock anyway
            pass

    @staticmethod
    def holder(run_dir: str | os.PathLike) -> dict[str, Any] | None:
        """Who owns ``run_dir`` now: its description, ``{}`` while the owner has not written
        one, or ``None`` when nobody owns it."""
        try:
            fd = _open_lock_file(Path(run_dir), os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return _read_info(fd) or {}
            return None
        finally:
            os.close(fd)


def _busy_message(run_dir: Path, holder: dict[str, Any] | None) -> str:
    if holder and holder.get("pid") == os.getpid() and holder.get("host") == socket.gethostname():
        return (f"run folder {run_dir} is already owned by this process ({_describe(holder)}): "
                f"a folder is taken once; hand the RunLock you hold on (Runtime(lock=...)) "
                f"instead of taking it again")
    return (f"run folder {run_dir} is owned by {_describe(holder)}. One process at a time may "
            f"run, resume or serve it (readers and answerers need no lock); wait for it to "
            f"finish or stop it: the lock goes when that process exits")


__all__ = ["DESCRIPTION_WAIT_S", "LOCK_FILE", "RunFolderBusy", "RunLock"]
