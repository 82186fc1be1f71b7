"""The records of a run (queries, answers, skipped lines) and the in-memory view built from them.

:class:`RunView` applies the JSON records of ``feedback.jsonl`` one at a time and answers
questions about the run (rounds, pending queries, the answer to a query id); the file side
(:class:`~fkc_align.store.jsonl.FeedbackStore`) extends it with reading, locking and appending.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from numbers import Real
from pathlib import Path
from typing import Any

import torch

from .errors import InvalidReward, SettingsMismatchError

FEEDBACK_FILE = "feedback.jsonl"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class BadLine:
    """A skipped line of a feedback file: ``file``, 1-based ``line`` and ``reason``."""

    file: str
    line: int
    reason: str


@dataclass(frozen=True)
class Query:
    """A particle shown to the oracle. ``x`` has the task's particle shape (float32)."""

    id: str
    round: int
    x: torch.Tensor
    pick: str
    weight: float | None


@dataclass(frozen=True)
class FeedbackRecord:
    """One answer: the particle ``x`` (float32, particle shape), its ``reward`` and ``round``."""

    id: str
    round: int
    x: torch.Tensor
    reward: float
    pick: str
    seed: int | None
    time: float


def settings_hash(settings: dict[str, Any]) -> str:
    """Short stable hash of a settings dict (sorted JSON)."""
    blob = json.dumps(settings, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def _json_default(value: Any) -> Any:
    if isinstance(value, (tuple, set)):
        return list(value)
    raise TypeError(f"settings: value {value!r} of type {type(value).__name__} is not JSON")


def normalise(settings: dict[str, Any]) -> dict[str, Any]:
    """Settings as they read back from JSON (tuples become lists), for comparisons."""
    return json.loads(json.dumps(settings, sort_keys=True, default=_json_default))


def check_reward(reward: object, name: str = "reward") -> float:
    """``reward`` as a float if it is a finite real number, else :class:`InvalidReward`.

    Accepts Python/numpy reals and one-element tensors; refuses strings (``"0.7"``), booleans,
    NaN and infinities rather than coercing them.
    """
    if isinstance(reward, torch.Tensor):
        if reward.numel() != 1 or reward.is_complex() or reward.dtype == torch.bool:
            raise InvalidReward(f"{name}: expected a real number, got a tensor of shape "
                                f"{tuple(reward.shape)} and dtype {reward.dtype}")
        reward = reward.item()
    if isinstance(reward, bool) or not isinstance(reward, Real):
        raise InvalidReward(f"{name}: expected a real number, got {type(reward).__name__} "
                            f"{reward!r}")
    value = float(reward)
    if not math.isfinite(value):
        raise InvalidReward(f"{name}: expected a finite number, got {value}")
    return value


class RunView:
    """The run as its records say: queries by round, answers by query id, in arrival order.

    Built from the header (settings, seed) and fed one record at a time (:meth:`apply`); an
    invalid record raises and leaves the view unchanged.
    """

    def __init__(self, run_dir: Path | None, header: dict[str, Any]) -> None:
        self.run_dir = run_dir
        self.header = header
        self.settings: dict[str, Any] = header["settings"]
        self.seed: int | None = header.get("seed")
        self.settings_id: str = header["settings_hash"]
        self._queries: dict[str, Query] = {}
        self._round_queries: dict[int, list[str]] = {}
        self._answers: dict[str, FeedbackRecord] = {}
        self._order: list[str] = []

    def apply(self, rec: dict[str, Any]) -> None:
        """Apply one record to the in-memory state, or raise (leaving the state unchanged)."""
        kind = rec["type"]
        if kind == "queries":
            rnd = rec["round"]
            if isinstance(rnd, bool) or not isinstance(rnd, int) or rnd < 0:
                raise ValueError(f"round: expected an int >= 0, got {rnd!r}")
            if rnd in self._round_queries:
                raise ValueError(f"round {rnd} already has queries")
            queries = []
            for q in rec["queries"]:
                query = Query(id=str(q["id"]), round=rnd,
                              x=torch.tensor(q["x"], dtype=torch.float32),
                              pick=str(q["pick"]), weight=q.get("weight"))
                if query.id in self._queries or any(query.id == p.id for p in queries):
                    raise ValueError(f"query id {query.id!r} appears twice")
                queries.append(query)
            for query in queries:
                self._queries[query.id] = query
            self._round_queries[rnd] = [q.id for q in queries]
        elif kind == "answer":
            qid = rec["id"]
            if not isinstance(qid, str):
                raise ValueError(f"id: expected a string, got {qid!r}")
            if qid not in self._queries:
                raise ValueError(f"answer to unknown query id {qid!r}")
            if qid in self._answers:
                raise ValueError(f"query {qid!r} answered twice (the first answer stands)")
            raw = rec["reward"]
            if isinstance(raw, bool) or not isinstance(raw, (int, float)):
                raise ValueError(f"reward of {qid!r}: expected a number, got "
                                 f"{type(raw).__name__} {raw!r}")
            if not math.isfinite(raw):
                raise ValueError(f"reward of {qid!r}: expected a finite number, got {raw}")
            q = self._queries[qid]
            record = FeedbackRecord(
                id=qid, round=q.round, x=torch.tensor(rec["x"], dtype=torch.float32),
                reward=float(raw), pick=q.pick, seed=rec.get("seed"), time=float(rec["time"]))
            self._answers[qid] = record
            self._order.append(qid)
        else:
            raise ValueError(f"unknown record type {kind!r}")

    def records(self) -> list[FeedbackRecord]:
        """All answers in arrival order."""
        return [self._answers[i] for i in self._order]

    def queries(self, round_index: int) -> list[Query]:
        """The queries of one round, in the order they were picked (empty if none yet)."""
        return [self._queries[i] for i in self._round_queries.get(round_index, [])]

    def rounds(self) -> list[int]:
        """Round indices that have queries, ascending."""
        return sorted(self._round_queries)

    def pending(self, round_index: int | None = None) -> list[Query]:
        """Queries not answered yet (of one round, or of all rounds)."""
        ids = (self._round_queries.get(round_index, []) if round_index is not None
               else [i for r in self.rounds() for i in self._round_queries[r]])
        return [self._queries[i] for i in ids if i not in self._answers]

    def n_queries(self) -> int:
        """Queries issued so far (answered or pending): what counts against the budget."""
        return len(self._queries)

    def answer_of(self, query_id: str) -> FeedbackRecord | None:
        """The answer to ``query_id``, None while it is pending (or the id is unknown)."""
        return self._answers.get(query_id)

    def query(self, query_id: str) -> Query | None:
        """The query ``query_id`` (any round), None for an unknown id."""
        return self._queries.get(query_id)

    def check_settings(self, settings: dict[str, Any]) -> None:
        """Raise :class:`SettingsMismatchError` naming every setting that differs."""
        given = normalise(settings)
        keys = sorted(set(given) | set(self.settings))
        diffs = [f"{k}: stored {self.settings.get(k, '<missing>')!r}, given "
                 f"{given.get(k, '<missing>')!r}" for k in keys
                 if self.settings.get(k, "<missing>") != given.get(k, "<missing>")]
        if diffs:
            raise SettingsMismatchError(
                f"resume: the settings differ from the run stored in {self.run_dir}: "
                + "; ".join(diffs)
                + ". Resume with the same settings, or start a new run in another folder."
            )


__all__ = ["FEEDBACK_FILE", "FORMAT_VERSION", "BadLine", "FeedbackRecord", "Query", "RunView",
           "check_reward", "normalise", "settings_hash"]
