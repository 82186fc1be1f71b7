"""The rating page's API as pydantic models: what ``POST /api/answers`` accepts and returns,
and what ``GET /api/state`` returns (:class:`State`).

The body is read within the app's size and depth limits first (:func:`~.app.read_json`), then
validated here in strict mode: a rating is a whole number of stars (not ``"4"``, ``3.5`` or
``true``), ids are non-empty strings, no key is unknown. A refusal is one message naming the
first problem, as the page shows it (``answers[0].rating: expected ...``), with status 422.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

RATINGS = (1, 2, 3, 4, 5)
_STRICT = ConfigDict(strict=True, extra="forbid")
_SHAPE = 'expected {"id": str, "rating": 1..5}'


class Answer(BaseModel):
    """One rating: the query's ``id`` (``r2-q0``) and 1..5 stars."""

    model_config = _STRICT
    id: Annotated[str, Field(min_length=1)]
    rating: Annotated[int, Field(ge=RATINGS[0], le=RATINGS[-1])]


class Submission(BaseModel):
    """A round's ratings: ``{"round": r, "answers": [{"id": ..., "rating": 1..5}, ...]}``."""

    model_config = _STRICT
    round: Annotated[int, Field(ge=0)]
    answers: Annotated[list[Answer], Field(min_length=1)]

    @field_validator("answers")
    @classmethod
    def _distinct(cls, answers: list[Answer]) -> list[Answer]:
        seen: set[str] = set()
        for a in answers:
            if a.id in seen:
                raise ValueError(f"answers: {a.id} appears twice in one submission")
            seen.add(a.id)
        return answers


class Saved(BaseModel):
    """What a submission saved: the ids, in order."""

    saved: list[str]


class Refusal(BaseModel):
    """A refused request: ``detail`` says why; a partly saved submission also lists what was
    saved and which queries were already answered."""

    detail: str
    saved: list[str] | None = None
    already_answered: list[str] | None = None


class Scale(BaseModel):
    """The rating scale: the star values and how a rating maps to the reward."""

    ratings: list[int]
    reward: str


class RunInfo(BaseModel):
    """The run folder the page rates for, its task (name and parameters, as stored), its
    settings' hash and when it was created (Unix seconds)."""

    folder: str
    task: dict[str, Any]
    settings_hash: str
    created: float | None = None


class Sampling(BaseModel):
    """Progress of the sampler while a round is being prepared."""

    step: int
    n_steps: int


class ShownQuery(BaseModel):
    """A query of the waiting round and its rating so far (None: not rated yet)."""

    id: str
    rating: int | None = None


class BestSoFar(BaseModel):
    """One of the best-rated answers so far."""

    id: str
    round: int
    reward: float
    rating: int


class State(BaseModel):
    """``GET /api/state``: the phase (``starting``, ``sampling``, ``waiting``, ``done``,
    ``error``) and the rating scale always; the run's progress once its folder exists; the
    report once the budget is spent. Fields that do not apply yet are left out of the JSON."""

    phase: str
    error: str | None = None
    scale: Scale
    run: RunInfo | None = None
    budget: int | None = None
    k: int | None = None
    n_rounds: int | None = None
    queries_used: int | None = None
    answered: int | None = None
    round: int | None = None
    next_round: int | None = None
    eps: float | None = None
    eps_round: int | None = None
    sampling: Sampling | None = None
    queries: list[ShownQuery] | None = None
    best: list[BestSoFar] | None = None
    report: dict[str, Any] | None = None


class SubmissionError(ValueError):
    """A submission that does not validate; the message names the first problem."""


def parse_submission(payload: Any) -> Submission:
    """``payload`` (parsed JSON) as a :class:`Submission`, else :class:`SubmissionError`."""
    try:
        return Submission.model_validate(payload)
    except ValidationError as exc:
        errors = sorted(exc.errors(), key=_priority)
        raise SubmissionError(_message(errors[0], payload)) from None


def _priority(err: dict[str, Any]) -> tuple:
    """The order the page reports problems in: the body's shape, the round, then each answer
    (its keys before its values)."""
    loc = err["loc"]
    if _top_level_shape(err):
        return (0,)
    if loc[0] == "round":
        return (1,)
    shape_first = 0 if err["type"] in ("missing", "extra_forbidden", "model_type") else 1
    return (2, loc[1] if len(loc) > 1 else -1, shape_first)


def _top_level_shape(err: dict[str, Any]) -> bool:
    loc = err["loc"]
    return not loc or (len(loc) == 1 and err["type"] == "extra_forbidden")


def _message(err: dict[str, Any], payload: Any) -> str:
    loc = err["loc"]
    if _top_level_shape(err):
        return ('expected a JSON object {"round": int, "answers": [{"id": str, "rating": '
                f'1..5}}, ...]}}, got {_short(payload)}')
    if loc[0] == "round":
        return f"round: expected a round number (int >= 0), got {_short(payload.get('round'))}"
    if len(loc) == 1:
        if err["type"] == "value_error":  # the distinct-ids check
            return str(err["ctx"]["error"])
        return f"answers: expected a non-empty list, got {_short(payload.get('answers'))}"
    j, answer = loc[1], payload["answers"][loc[1]]
    if len(loc) == 2 or err["type"] in ("missing", "extra_forbidden"):
        return f"answers[{j}]: {_SHAPE}, got {_short(answer)}"
    if loc[2] == "id":
        return f"answers[{j}].id: expected a query id string, got {_short(answer['id'])}"
    return (f"answers[{j}].rating: expected a whole number of stars 1..5, got "
            f"{_short(answer['rating'])}")


def clip(text: str) -> str:
    """``text`` cut to 80 characters (a refusal's size stays bounded)."""
    return text if len(text) <= 80 else text[:77] + "..."


def _short(value: Any) -> str:
    return clip(repr(value))


__all__ = ["RATINGS", "Answer", "BestSoFar", "Refusal", "RunInfo", "Sampling", "Saved", "Scale",
           "ShownQuery", "State", "Submission", "SubmissionError", "clip", "parse_submission"]
