"""A run's storage: the append-only feedback file, its owner lock, durable writes, the oracles.

* :mod:`.records`: the records (:class:`Query`, :class:`FeedbackRecord`, :class:`BadLine`) and
  :class:`RunView`, the run as its records say (rounds, pending queries, lookup by query id);
* :mod:`.jsonl`: :class:`FeedbackStore`, ``<run_dir>/feedback.jsonl`` read and appended safely
  by many processes;
* :mod:`.lock`: :class:`RunLock`, one owner per run folder;
* :mod:`.durable_io`: writes that cannot be torn (:class:`StorageError` when the disk refuses);
* :mod:`.oracles`: who answers (:class:`FunctionOracle`, and :class:`StoreOracle` on the
  :class:`PollingOracle` base);
* :func:`open_run`: the owner's way in (new, resumed or in-memory run);
* :mod:`.errors`: what is refused or warned about.

Nothing here imports :mod:`fkc_kernels`: an answering process needs only this package. The
names load on first use (PEP 562), so the CLI takes the lock (:mod:`.lock`, plain Python) before
torch is imported.
"""

from __future__ import annotations

from .._lazy import lazy_exports

# public name -> the submodule that defines it
_WHERE = {
    "StorageError": "durable_io", "LOCK_FILE": "lock", "RunFolderBusy": "lock",
    "RunLock": "lock", "FeedbackStore": "jsonl", "open_run": "run",
    **dict.fromkeys(("AnswerRejected", "DuplicateAnswer", "FeedbackCorruptError",
                     "FeedbackLineWarning", "FeedbackTailWarning", "InvalidReward",
                     "SettingsMismatchError", "UnknownQuery"), "errors"),
    **dict.fromkeys(("FunctionOracle", "Oracle", "PollingOracle", "StoreOracle"), "oracles"),
    **dict.fromkeys(("FEEDBACK_FILE", "BadLine", "FeedbackRecord", "Query", "RunView",
                     "check_reward", "settings_hash"), "records"),
}

__all__ = sorted(_WHERE)

__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
