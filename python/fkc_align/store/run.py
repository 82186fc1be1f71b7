"""Opening a run folder for the one process that drives it: new, resumed, or in memory."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .jsonl import FeedbackStore
from .lock import RunLock
from .records import FEEDBACK_FILE


def open_run(run_dir: str | os.PathLike | None, settings: dict[str, Any], seed: int | None = None,
             *, resume: bool = False, say: Callable[[str], None] | None = None,
             lock: RunLock | None = None) -> FeedbackStore:
    """The run's feedback store, owned by this process: in memory (``run_dir=None``), a new run
    folder, or a resumed one (settings checked, a cut-short last line moved aside).

    The store owns the folder (its :class:`RunLock` is held until ``store.close()``), taken
    before the folder is looked at, so two runs never race; or the caller owns it and passes
    its held ``lock`` (the store then never releases it).

    Args:
        run_dir: the run folder (created if missing), or None for a run kept in memory.
        settings: the run's settings (stored in the header; compared on resume).
        seed: the run's seed (stored in the header).
        resume: continue the run stored in ``run_dir``; starts it there if the folder has no
            feedback yet.
        say: where the resume notes go (default: nowhere).
        lock: the folder's lock, already held by the caller (None: taken here).

    Raises:
        FileExistsError: ``run_dir`` already holds a run and ``resume`` is False.
        SettingsMismatchError: resuming with other settings than the stored ones.
        RunFolderBusy: another process owns ``run_dir``.
    """
    say = say if say is not None else (lambda _msg: None)
    if run_dir is None:
        if resume:
            raise ValueError("resume: needs out_dir (the run folder to continue), got None")
        return FeedbackStore.create(None, settings, seed=seed)
    path = Path(run_dir)
    if lock is not None:
        if not (isinstance(lock, RunLock) and lock.held
                and lock.run_dir.resolve() == path.resolve()):
            raise ValueError(f"lock: expected a held RunLock of {path}, got {lock!r}")
        return _open_owned(path, settings, seed, resume, say, owner=False)
    taken = RunLock(path, "resume" if resume else "run").acquire()
    try:
        return _open_owned(path, settings, seed, resume, say, owner=taken)
    except BaseException:
        taken.release()
        raise


def _open_owned(path: Path, settings: dict[str, Any], seed: int | None, resume: bool,
                say: Callable[[str], None], *, owner: RunLock | bool) -> FeedbackStore:
    feedback_file = path / FEEDBACK_FILE
    # an empty file is a kill between creating it and writing the header: nothing to resume
    has_feedback = feedback_file.exists() and feedback_file.stat().st_size > 0
    if not resume:
        if has_feedback:
            raise FileExistsError(
                f"out_dir: {path} already holds a run; pass resume=True (--resume) to continue "
                f"it, or choose another folder"
            )
        return FeedbackStore.create(path, settings, seed=seed, owner=owner)
    if not has_feedback:
        say(f"resume: {path} has no feedback yet; starting the run there")
        return FeedbackStore.create(path, settings, seed=seed, owner=owner)
    store = FeedbackStore.open(path, owner=owner)
    store.check_settings(settings)
    if store.tail_problem is not None:  # each bad line was warned about once already
        say(f"resume: the cut-short last line is kept in {store.move_bad_tail_aside()}")
    say(f"resume: {len(store.records())} answers found in {path}, "
        f"{len(store.pending())} pending")
    return store


__all__ = ["open_run"]
