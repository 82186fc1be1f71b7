"""fkc_align: the budget-constrained active preference-alignment loop on top of fkc_kernels.

Public API: :func:`run_active` (the loop) with its settings (:class:`RunConfig`, resolved once,
and :class:`Runtime`; :func:`configure` builds both from keywords), :class:`Task` and the
built-in tasks in :mod:`fkc_align.tasks` (``digits``, ``gmm``), the run store
(:mod:`fkc_align.store`): :class:`FeedbackStore` with the oracles
(:class:`FunctionOracle` for a function, :class:`StoreOracle` for answers that arrive later), the
run folder's owner lock :class:`RunLock` and the refusals of an answer (:class:`AnswerRejected`:
:class:`DuplicateAnswer`, :class:`UnknownQuery`, :class:`InvalidReward`), the reward networks,
and :func:`write_report`; pick strategies (:mod:`fkc_align.strategies`: the :class:`Strategy`
protocol, :func:`register_strategy`). It depends on fkc_kernels' public API only.

The names are loaded on first use (PEP 562), so ``fkc-align --help`` and a mistyped option
answer before torch is imported.
"""

from __future__ import annotations

from ._lazy import lazy_exports

# public name -> the submodule that defines it
_WHERE = {
    **dict.fromkeys(("RunConfig", "Runtime", "configure"), "config"),
    **dict.fromkeys((
        "AnswerRejected", "BadLine", "DuplicateAnswer", "FeedbackCorruptError",
        "FeedbackLineWarning", "FeedbackRecord", "FeedbackStore", "FeedbackTailWarning",
        "FunctionOracle", "InvalidReward", "Oracle", "PollingOracle", "Query", "RunFolderBusy",
        "RunLock", "SettingsMismatchError", "StorageError", "StoreOracle", "UnknownQuery",
        "open_run"), "store"),
    **dict.fromkeys(("evaluate_final_model", "run_active"), "loop"),
    "ActiveResult": "results",
    **dict.fromkeys(("summary_table", "write_report"), "report"),
    **dict.fromkeys(("RewardEnsemble", "RewardModel", "make_reward_model",
                     "train_reward_model"), "reward_models"),
    **dict.fromkeys(("BaseStrategy", "RoundView", "Strategy", "StrategyPicks", "Variations",
                     "register_strategy"), "strategies"),
    "Task": "tasks",
}

__all__ = sorted([*_WHERE, "tasks"])

__getattr__, __dir__ = lazy_exports(__name__, _WHERE, submodules=("tasks",))
