"""The rating page against another writer that answers between the page's read and its write:
the person is told which rating was not saved (the first answer stands), the others are saved."""

from __future__ import annotations

import pytest

pytest.importorskip("fastapi", reason="fkc-align serve needs the [serve] extra")
pytest.importorskip("uvicorn", reason="fkc-align serve needs the [serve] extra")

# pytest puts this folder on the path (rootdir-relative "prepend" imports); the page and its
# client helpers are test_serve_api's, its `served` fixture included
from test_serve_api import _submit, answers_in_file, served, waiting_round  # noqa: E402, F401

from fkc_align import FeedbackStore  # noqa: E402
from fkc_align.serve import rating_to_reward  # noqa: E402


def test_an_answer_saved_by_another_writer_in_between_is_named_not_dropped(
        served, monkeypatch):  # noqa: F811 (the imported fixture)
    base, run_dir = served
    waiting_round(base, 0)
    original = FeedbackStore.answer
    raced = []

    def answer(self, query_id, reward):
        # the page's store checked r0-q1 as unanswered; another process answers it just before
        # the page's own append (whose fresh read then finds it: DuplicateAnswer)
        if query_id == "r0-q1" and not raced:
            raced.append(query_id)
            original(FeedbackStore.open(run_dir), query_id, rating_to_reward(1))
        return original(self, query_id, reward)

    monkeypatch.setattr(FeedbackStore, "answer", answer)
    status, body = _submit(base, 0, [4, 4, 4, 4])
    assert raced == ["r0-q1"]
    assert status == 409 and body["already_answered"] == ["r0-q1"]
    assert body["saved"] == ["r0-q0", "r0-q2", "r0-q3"]
    assert "round 1 image 2 (1 star)" in body["detail"]
    rewards = {a["id"]: a["reward"] for a in answers_in_file(run_dir)}
    assert rewards == {"r0-q0": 1.0, "r0-q1": -2.0, "r0-q2": 1.0, "r0-q3": 1.0}
