"""The old home of the run store: its names now live in :mod:`fkc_align.store` (re-exported
here so ``from fkc_align.feedback import FeedbackStore`` keeps working)."""

from .store import *  # noqa: F401,F403
from .store import __all__  # noqa: F401
