"""Writes that cannot be torn: complete ``os.write`` loops, fsync, exclusive temp files, locks.

Used by the feedback store (appends under a short ``flock``) and by reports (a temp file made
with ``O_EXCL`` next to the target, then ``os.replace``, so a symlink planted at the target or
at a predictable temp name is never followed).
"""

from __future__ import annotations

import errno
import fcntl
import os
import secrets
import time
from pathlib import Path

# errors a person can act on (free space, fix permissions, mount read-write): one clear message
_STORAGE_ERRNOS = {
    errno.ENOSPC: "the disk is full (ENOSPC)",
    errno.EDQUOT: "the disk quota is exceeded (EDQUOT)",
    errno.EROFS: "the file system is read-only (EROFS)",
    errno.EACCES: "permission denied (EACCES)",
    errno.EPERM: "operation not permitted (EPERM)",
}


class StorageError(OSError):
    """A write to a run folder failed for a reason outside the program (disk full, read-only,
    no permission). The message says what was saved and how to resume."""


def describe_os_error(exc: OSError) -> str:
    """A short human reason for an ``OSError`` (``'the disk is full (ENOSPC)'`` and so on)."""
    return _STORAGE_ERRNOS.get(exc.errno, exc.strerror or str(exc))


def is_storage_error(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in _STORAGE_ERRNOS


def write_all(fd: int, data: bytes) -> None:
    """Write every byte of ``data`` to ``fd``: ``os.write`` may write fewer bytes than asked
    (a signal, a nearly full disk); the rest is written until done or an ``OSError`` says why."""
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        if n <= 0:  # a regular file never does this; stop rather than spin
            raise OSError(errno.EIO, f"os.write wrote {n} bytes of {len(view)}")
        view = view[n:]


def lock_fd(fd: int, kind: int, *, timeout_s: float, what: str) -> None:
    """``flock(fd, kind)`` waiting at most ``timeout_s`` (kind: ``fcntl.LOCK_EX``/``LOCK_SH``).

    The lock belongs to the open file description: closing ``fd`` (or the process dying)
    releases it, so a killed holder never leaves it stuck.
    """
    deadline = time.monotonic() + timeout_s
    delay = 0.001
    while True:
        try:
            fcntl.flock(fd, kind | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"{what}: still locked by another process after {timeout_s} s (a writer "
                    f"holds it for one append; one that is stopped, e.g. by SIGSTOP, blocks "
                    f"everyone)"
                ) from None
            time.sleep(delay)
            delay = min(delay * 2, 0.05)


def fsync_dir(path: Path) -> None:
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


def _exclusive_temp(path: Path, mode: int) -> tuple[int, Path]:
    """A fresh temp file next to ``path`` (``O_CREAT | O_EXCL | O_NOFOLLOW``, a random name, so
    never through a link) created with ``mode`` (the umask applies, as for any new file)."""
    for _ in range(100):
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                         mode)
        except FileExistsError:
            continue
        return fd, tmp
    raise FileExistsError(errno.EEXIST, f"no free temp name next to {path}")


def write_file_atomic(path: str | os.PathLike, data: bytes, mode: int = 0o644) -> None:
    """Replace ``path`` by a file holding ``data``, all or nothing.

    The bytes go to a fresh temp file in the same folder (exclusive, a random name, so never
    through a link; created with ``mode``: 0o644 as the feedback file, 0o600 for a secret), are
    fsynced, then renamed over ``path`` (``os.replace`` replaces a link at ``path`` itself, never
    its target).
    """
    path = Path(path)
    fd, tmp = _exclusive_temp(path, mode)
    try:
        try:
            write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def temp_path_for(path: str | os.PathLike, mode: int = 0o644) -> Path:
    """An exclusive, empty temp file next to ``path`` created with ``mode`` (for writers that
    want a path, like ``savefig``); rename it over ``path`` with ``os.replace`` when written."""
    fd, tmp = _exclusive_temp(Path(path), mode)
    os.close(fd)
    return tmp
