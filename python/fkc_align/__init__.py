"""fkc_align: the budget-constrained active preference-alignment loop on top of fkc_kernels.

Public API: :func:`run_active` (the loop), :class:`Task` and the built-in tasks in
:mod:`fkc_align.tasks` (``digits``, ``gmm``), :class:`FeedbackStore` with the oracles
(:class:`FunctionOracle` for a function, :class:`StoreOracle` for answers that arrive later), the
reward networks, and :func:`write_report`. It depends on fkc_kernels' public API only.
"""

from . import tasks
from .feedback import (
    FeedbackCorruptError,
    FeedbackRecord,
    FeedbackStore,
    FeedbackTailWarning,
    FunctionOracle,
    Oracle,
    Query,
    SettingsMismatchError,
    StoreOracle,
)
from .loop import ActiveResult, evaluate_final_model, run_active
from .report import summary_table, write_report
from .reward_models import RewardModel, make_reward_model, train_reward_model
from .tasks import Task

__all__ = [
    "ActiveResult", "FeedbackCorruptError", "FeedbackRecord", "FeedbackStore",
    "FeedbackTailWarning", "FunctionOracle", "Oracle", "Query", "RewardModel",
    "SettingsMismatchError", "StoreOracle", "Task", "evaluate_final_model", "make_reward_model",
    "run_active",
    "summary_table", "tasks", "train_reward_model", "write_report",
]
