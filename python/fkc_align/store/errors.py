"""What the run store refuses or warns about: its exceptions and warnings."""

from __future__ import annotations


class FeedbackCorruptError(ValueError):
    """A feedback file cannot be read as a run (its header is missing or not a header)."""


class SettingsMismatchError(ValueError):
    """A resumed run was given settings that differ from the ones stored in its run folder."""


class FeedbackTailWarning(UserWarning):
    """The last line of a feedback file is truncated (a write cut short by a kill)."""


class FeedbackLineWarning(UserWarning):
    """A complete line of a feedback file is invalid; it is skipped (see ``store.bad_lines``)."""


class AnswerRejected(ValueError):
    """An answer was refused and not written; the message says why."""

    def __str__(self) -> str:  # KeyError (a base of UnknownQuery) would quote the message
        return str(self.args[0]) if self.args else ""


class UnknownQuery(AnswerRejected, KeyError):
    """The answer names a query id the run folder does not hold."""


class DuplicateAnswer(AnswerRejected):
    """The query was already answered (by this or another process); the first answer stands."""


class InvalidReward(AnswerRejected):
    """The reward is not a finite real number (strings and booleans are refused, not coerced)."""


__all__ = ["AnswerRejected", "DuplicateAnswer", "FeedbackCorruptError", "FeedbackLineWarning",
           "FeedbackTailWarning", "InvalidReward", "SettingsMismatchError", "UnknownQuery"]
