"""fkc_align: the budget-constrained active preference-alignment loop on top of fkc_kernels.

Public API: :func:`run_active` (the loop), :class:`Task` and the built-in tasks in
:mod:`fkc_align.tasks` (``digits``, ``gmm``), :class:`FeedbackStore` with the oracles
(:class:`FunctionOracle` for a function, :class:`StoreOracle` for answers that arrive later), the
run folder's owner lock :class:`RunLock` and the refusals of an answer (:class:`AnswerRejected`:
:class:`DuplicateAnswer`, :class:`UnknownQuery`, :class:`InvalidReward`), the reward networks,
and :func:`write_report`; pick strategies (:mod:`fkc_align.strategies`: the :class:`Strategy`
protocol, :func:`register_strategy`). It depends on fkc_kernels' public API only.
"""

from . import tasks
from .config import RunConfig
from .durable_io import StorageError
from .feedback import (
    AnswerRejected,
    BadLine,
    DuplicateAnswer,
    FeedbackCorruptError,
    FeedbackLineWarning,
    FeedbackRecord,
    FeedbackStore,
    FeedbackTailWarning,
    FunctionOracle,
    InvalidReward,
    Oracle,
    Query,
    SettingsMismatchError,
    StoreOracle,
    UnknownQuery,
)
from .loop import ActiveResult, evaluate_final_model, run_active
from .report import summary_table, write_report
from .reward_models import RewardEnsemble, RewardModel, make_reward_model, train_reward_model
from .run_lock import RunFolderBusy, RunLock
from .strategies import (
    BaseStrategy,
    RoundView,
    Strategy,
    StrategyPicks,
    register_strategy,
)
from .tasks import Task

__all__ = [
    "ActiveResult", "AnswerRejected", "BadLine", "BaseStrategy", "RoundView", "Strategy",
    "StrategyPicks", "register_strategy", "DuplicateAnswer", "FeedbackCorruptError",
    "FeedbackLineWarning", "FeedbackRecord", "FeedbackStore", "FeedbackTailWarning",
    "FunctionOracle", "InvalidReward", "Oracle", "Query", "RewardEnsemble", "RewardModel",
    "RunConfig", "RunFolderBusy", "RunLock", "SettingsMismatchError", "StorageError",
    "StoreOracle", "Task", "UnknownQuery", "evaluate_final_model", "make_reward_model",
    "run_active",
    "summary_table", "tasks", "train_reward_model", "write_report",
]
