"""fkc_align: the budget-constrained active preference-alignment loop on top of fkc_kernels.

Public API: :func:`run_active` (the loop), :class:`Task` and the built-in tasks in
:mod:`fkc_align.tasks` (``digits``, ``gmm``), :class:`FeedbackStore` with the oracles
(:class:`FunctionOracle` for a function, :class:`StoreOracle` for answers that arrive later), the
run folder's owner lock :class:`RunLock` and the refusals of an answer (:class:`AnswerRejected`:
:class:`DuplicateAnswer`, :class:`UnknownQuery`, :class:`InvalidReward`), the reward networks,
and :func:`write_report`; pick strategies (:mod:`fkc_align.strategies`: the :class:`Strategy`
protocol, :func:`register_strategy`). It depends on fkc_kernels' public API only.

The names are loaded on first use (PEP 562), so ``fkc-align --help`` and a mistyped option
answer before torch is imported.
"""

from __future__ import annotations

import importlib
from typing import Any

# public name -> the submodule that defines it
_WHERE = {
    "RunConfig": "config",
    **dict.fromkeys((
        "AnswerRejected", "BadLine", "DuplicateAnswer", "FeedbackCorruptError",
        "FeedbackLineWarning", "FeedbackRecord", "FeedbackStore", "FeedbackTailWarning",
        "FunctionOracle", "InvalidReward", "Oracle", "PollingOracle", "Query", "RunFolderBusy",
        "RunLock", "SettingsMismatchError", "StorageError", "StoreOracle", "UnknownQuery",
        "open_run"), "store"),
    **dict.fromkeys(("ActiveResult", "evaluate_final_model", "run_active"), "loop"),
    **dict.fromkeys(("summary_table", "write_report"), "report"),
    **dict.fromkeys(("RewardEnsemble", "RewardModel", "make_reward_model",
                     "train_reward_model"), "reward_models"),
    **dict.fromkeys(("BaseStrategy", "RoundView", "Strategy", "StrategyPicks",
                     "register_strategy"), "strategies"),
    "Task": "tasks",
}

__all__ = sorted([*_WHERE, "tasks"])


def __getattr__(name: str) -> Any:
    if name == "tasks":
        return importlib.import_module(".tasks", __name__)
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{where}", __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
