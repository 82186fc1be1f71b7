"""FeedbackStore: durable appends, arrival order, bad tails, settings checks, waiting oracles."""

import json
import threading
import time

import pytest
import torch

from fkc_align.feedback import (
    FeedbackCorruptError,
    FeedbackStore,
    FeedbackTailWarning,
    FunctionOracle,
    SettingsMismatchError,
    StoreOracle,
)

SETTINGS = {"task": {"name": "t", "target": 1}, "budget": 8, "k": 4, "shape": (2, 3)}


def _store_with_answers(tmp_path, n_answer=3):
    store = FeedbackStore.create(tmp_path, SETTINGS, seed=7)
    x = torch.randn(4, 2, 3)
    qs = store.add_queries(0, x, ["cold"] * 4, [0.0, 1.0, 2.0, 3.0])
    for q, r in zip(qs[:n_answer], [0.5, -1.25, 3.0], strict=False):
        store.answer(q.id, r)
    return store, x, qs


def test_answers_survive_reopen_in_arrival_order(tmp_path):
    store, x, qs = _store_with_answers(tmp_path)
    # answer out of pick order: arrival order is what records() returns
    store.answer(qs[3].id, 9.0)
    again = FeedbackStore.open(tmp_path)
    recs = again.records()
    assert [r.id for r in recs] == [qs[0].id, qs[1].id, qs[2].id, qs[3].id]
    assert [r.reward for r in recs] == [0.5, -1.25, 3.0, 9.0]
    assert all(r.round == 0 and r.seed == 7 for r in recs)
    # particles round-trip bit-exactly (float32 through JSON)
    assert torch.equal(torch.stack([r.x for r in recs]), x)
    assert again.settings["shape"] == [2, 3] and again.tail_problem is None
    assert again.pending() == []


def test_every_answer_line_carries_seed_and_settings(tmp_path):
    _store_with_answers(tmp_path)
    lines = (tmp_path / "feedback.jsonl").read_text().splitlines()
    header = json.loads(lines[0])
    answers = [json.loads(ln) for ln in lines if '"answer"' in ln]
    assert header["settings"]["budget"] == 8 and len(answers) == 3
    assert all(a["seed"] == 7 and a["settings_hash"] == header["settings_hash"] for a in answers)


def test_pending_queries_are_durable_before_any_answer(tmp_path):
    store, _, qs = _store_with_answers(tmp_path, n_answer=0)
    again = FeedbackStore.open(tmp_path)
    assert [q.id for q in again.pending(0)] == [q.id for q in qs]
    assert again.n_queries() == 4


@pytest.mark.parametrize("cut", ["truncated", "garbage"])
def test_bad_tail_is_reported_not_silently_dropped(tmp_path, cut):
    store, _, qs = _store_with_answers(tmp_path)
    path = tmp_path / "feedback.jsonl"
    data = path.read_bytes()
    if cut == "truncated":  # a kill in the middle of writing the third answer
        last_start = data.rstrip(b"\n").rfind(b"\n") + 1
        path.write_bytes(data[:last_start + 25])
    else:
        path.write_bytes(data + b"{not json}\n")
    bad_line = "line 5" if cut == "truncated" else "line 6"  # header, queries, 3 answers
    with pytest.warns(FeedbackTailWarning, match=bad_line):
        again = FeedbackStore.open(tmp_path)
    assert bad_line in again.tail_problem
    expected = 2 if cut == "truncated" else 3
    assert len(again.records()) == expected
    # appending on top of a bad tail would corrupt the file: refused until it is moved aside
    with pytest.raises(FeedbackCorruptError, match="move_bad_tail_aside"):
        again.answer(qs[3].id, 1.0)
    aside = again.move_bad_tail_aside()
    assert aside.exists() and aside.read_bytes()
    again.answer(qs[3].id, 1.0)
    final = FeedbackStore.open(tmp_path)
    assert final.tail_problem is None and len(final.records()) == expected + 1


def test_corrupt_line_in_the_middle_raises(tmp_path):
    _store_with_answers(tmp_path)
    path = tmp_path / "feedback.jsonl"
    lines = path.read_bytes().split(b"\n")
    lines[2] = b"garbage"
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(FeedbackCorruptError, match="line 3"):
        FeedbackStore.open(tmp_path)


def test_no_query_is_answered_twice_and_rewards_are_finite(tmp_path):
    store, _, qs = _store_with_answers(tmp_path)
    with pytest.raises(ValueError, match="already answered"):
        store.answer(qs[0].id, 1.0)
    with pytest.raises(KeyError, match="no query"):
        store.answer("r9-q0", 1.0)
    with pytest.raises(ValueError, match="reward"):
        store.answer(qs[3].id, float("nan"))
    with pytest.raises(FileExistsError, match="already holds feedback"):
        FeedbackStore.create(tmp_path, SETTINGS)


def test_settings_mismatch_names_each_difference(tmp_path):
    _store_with_answers(tmp_path)
    store = FeedbackStore.open(tmp_path)
    store.check_settings(dict(SETTINGS))  # tuples vs lists: the same settings
    with pytest.raises(SettingsMismatchError, match=r"budget: stored 8, given 9.*k: stored 4"):
        store.check_settings(dict(SETTINGS, budget=9, k=5))


def test_store_oracle_waits_for_answers_from_another_writer(tmp_path):
    store, _, qs = _store_with_answers(tmp_path, n_answer=0)

    def person():  # e.g. a web page process: its own handle on the same folder
        time.sleep(0.2)
        page = FeedbackStore.open(tmp_path)
        for q in page.pending():
            page.answer(q.id, float(q.x.sum()))

    t = threading.Thread(target=person)
    t.start()
    StoreOracle(poll_s=0.05, timeout_s=20).ask(store, qs)
    t.join()
    assert [r.id for r in store.records()] == [q.id for q in qs]
    # and a store that gets no answers times out with a clear message
    store.add_queries(1, torch.zeros(1, 2, 3), ["top"])
    with pytest.raises(TimeoutError, match="1 of 1 queries still unanswered"):
        StoreOracle(poll_s=0.01, timeout_s=0.05).ask(store, store.pending(1))


def test_function_oracle_answers_one_at_a_time(tmp_path):
    store, _, qs = _store_with_answers(tmp_path, n_answer=0)
    seen = []

    def reward(x):
        seen.append(x.shape[0])
        assert len(store.records()) == len(seen) - 1  # the previous answer is already stored
        return x.reshape(1, -1).sum(1)

    FunctionOracle(reward).ask(store, qs)
    assert seen == [1, 1, 1, 1] and len(FeedbackStore.open(tmp_path).records()) == 4


def test_in_memory_store_works_without_a_folder():
    store = FeedbackStore.create(None, SETTINGS)
    qs = store.add_queries(0, torch.ones(2, 2, 3), ["cold", "cold"])
    store.answer(qs[1].id, 2.0)
    assert [r.reward for r in store.records()] == [2.0] and len(store.pending()) == 1
