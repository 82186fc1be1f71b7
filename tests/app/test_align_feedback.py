"""FeedbackStore: durable appends, arrival order, bad tails, settings checks, waiting oracles."""

import errno
import json
import os
import threading
import time
import warnings

import pytest
import torch

from fkc_align.store import (
    AnswerRejected,
    DuplicateAnswer,
    FeedbackLineWarning,
    FeedbackStore,
    FeedbackTailWarning,
    FunctionOracle,
    InvalidReward,
    SettingsMismatchError,
    StorageError,
    StoreOracle,
    UnknownQuery,
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
        warning = FeedbackTailWarning
    else:
        path.write_bytes(data + b"{not json}\n")
        warning = FeedbackLineWarning
    bad_line = "line 5" if cut == "truncated" else "line 6"  # header, queries, 3 answers
    with pytest.warns(warning, match=bad_line):
        again = FeedbackStore.open(tmp_path)
    expected = 2 if cut == "truncated" else 3
    assert len(again.records()) == expected
    if cut == "truncated":
        assert bad_line in again.tail_problem
        # the next append sets the cut-short line aside (a dead writer's: we hold the lock),
        # without warning about the same line a second time: tail_problem says where it went
        with warnings.catch_warnings(record=True) as again_warned:
            warnings.simplefilter("always")
            again.answer(qs[3].id, 1.0)
        assert not [w for w in again_warned if issubclass(w.category, FeedbackTailWarning)]
        assert "moved aside to" in again.tail_problem
        assert again.tail_aside.read_bytes() == data[last_start:last_start + 25]
    else:  # a complete bad line is skipped, reported with its line, and blocks nothing
        assert again.tail_problem is None and again.bad_lines[0].line == 6
        again.answer(qs[3].id, 1.0)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        final = FeedbackStore.open(tmp_path)
    assert final.tail_problem is None and len(final.records()) == expected + 1
    assert [str(w.message) for w in seen if "line 6 is invalid" in str(w.message)] == (
        [] if cut == "truncated" else [str(seen[0].message)])


def test_corrupt_line_in_the_middle_is_skipped_and_named(tmp_path):
    _, _, qs = _store_with_answers(tmp_path)
    path = tmp_path / "feedback.jsonl"
    lines = path.read_bytes().split(b"\n")
    lines[2] = b"garbage"  # the first answer
    path.write_bytes(b"\n".join(lines))
    with pytest.warns(FeedbackLineWarning, match=r"feedback.jsonl: line 3 is invalid"):
        store = FeedbackStore.open(tmp_path)
    assert [r.id for r in store.records()] == [qs[1].id, qs[2].id]
    store.answer(qs[0].id, 4.0)  # the query of the skipped line can be answered again
    assert store.answer_of(qs[0].id).reward == 4.0


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


def test_bad_raw_lines_are_named_skipped_and_block_nothing(tmp_path):
    store, _, qs = _store_with_answers(tmp_path, n_answer=1)
    path = tmp_path / "feedback.jsonl"
    good = json.loads(path.read_text().splitlines()[-1])
    raw = [dict(good, reward=2.0),  # duplicate of the first answer
           dict(good, id="r9-q0"),  # unknown query
           dict(good, id=qs[1].id, reward="0.7"), dict(good, id=qs[1].id, reward=True)]
    with open(path, "a") as fh:
        for rec in raw:
            fh.write(json.dumps(rec) + "\n")
        fh.write(json.dumps(dict(good, id=qs[1].id)).replace('"reward": 0.5', '"reward": NaN')
                 + "\n")
        fh.write(json.dumps(dict(good, id=qs[1].id, reward=0.25)) + "\n")  # valid after all
    with pytest.warns(FeedbackLineWarning) as seen:
        again = FeedbackStore.open(tmp_path)
    assert [b.line for b in again.bad_lines] == [4, 5, 6, 7, 8]
    reasons = " | ".join(b.reason for b in again.bad_lines)
    for what in ("answered twice", "unknown query id 'r9-q0'", "got str '0.7'",
                 "got bool True", "finite number, got nan"):
        assert what in reasons
    assert all(str(path) in str(w.message) for w in seen)
    assert [(r.id, r.reward) for r in again.records()] == [(qs[0].id, 0.5), (qs[1].id, 0.25)]
    again.answer(qs[2].id, 1.0)  # later answers are not blocked
    with pytest.warns(FeedbackLineWarning):  # and every open names the bad lines again
        assert FeedbackStore.open(tmp_path).answer_of(qs[2].id).reward == 1.0


def test_refused_answers_name_why_and_never_reach_the_file(tmp_path):
    store, _, qs = _store_with_answers(tmp_path, n_answer=1)
    before = (tmp_path / "feedback.jsonl").read_bytes()
    with pytest.raises(DuplicateAnswer, match=f"{qs[0].id}' was already answered"):
        store.answer(qs[0].id, 1.0)
    with pytest.raises(UnknownQuery, match="no query 'r9-q0'"):
        store.answer("r9-q0", 1.0)
    for bad, what in (("0.7", "got str '0.7'"), (True, "got bool True"),
                      (float("inf"), "finite number, got inf"), (None, "got NoneType")):
        with pytest.raises(InvalidReward, match=f"reward: expected .*{what}"):
            store.answer(qs[1].id, bad)
    assert issubclass(UnknownQuery, KeyError) and issubclass(DuplicateAnswer, AnswerRejected)
    assert (tmp_path / "feedback.jsonl").read_bytes() == before


def test_answer_is_fsynced_before_it_returns(tmp_path, monkeypatch):
    store, _, qs = _store_with_answers(tmp_path, n_answer=0)
    events = []
    real_write, real_fsync = os.write, os.fsync
    monkeypatch.setattr(os, "write", lambda fd, b: events.append(("write", fd)) or
                        real_write(fd, b))
    monkeypatch.setattr(os, "fsync", lambda fd: events.append(("fsync", fd)) or real_fsync(fd))
    store.answer(qs[0].id, 1.0)
    writes = [e for e in events if e[0] == "write"]
    assert writes and events[-1] == ("fsync", writes[-1][1])  # nothing after the fsync


def _feedback_fd(fd):
    try:
        return os.readlink(f"/proc/self/fd/{fd}").endswith("feedback.jsonl")
    except OSError:
        return False


@pytest.mark.parametrize("code, what", [(errno.ENOSPC, "disk is full"),
                                        (errno.EROFS, "read-only"),
                                        (errno.EACCES, "permission denied")])
def test_a_refused_write_leaves_no_partial_line_and_says_how_to_resume(tmp_path, monkeypatch,
                                                                       code, what):
    store, _, qs = _store_with_answers(tmp_path)
    path = tmp_path / "feedback.jsonl"
    before = path.read_bytes()
    real_write = os.write

    def full_disk(fd, data):  # the disk takes 10 bytes, then is full
        if not _feedback_fd(fd):
            return real_write(fd, data)
        if path.stat().st_size == len(before):
            return real_write(fd, bytes(data[:10]))
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, "write", full_disk)
    with pytest.raises(StorageError, match=rf"{what} .*Saved and intact: 4 queries and 3 "
                                           rf"answers.*--resume"):
        store.answer(qs[3].id, 1.0)
    assert path.read_bytes() == before  # the 10 bytes were rolled back
    monkeypatch.setattr(os, "write", real_write)
    store.answer(qs[3].id, 1.0)  # the same store goes on once there is room
    assert len(FeedbackStore.open(tmp_path).records()) == 4


def test_short_writes_are_completed(tmp_path, monkeypatch):
    store, _, qs = _store_with_answers(tmp_path, n_answer=0)
    real_write = os.write
    monkeypatch.setattr(os, "write", lambda fd, data: real_write(fd, bytes(data[:7])))
    for q in qs:
        store.answer(q.id, 1.0)
    monkeypatch.setattr(os, "write", real_write)
    again = FeedbackStore.open(tmp_path)
    assert len(again.records()) == 4 and again.bad_lines == [] and again.tail_problem is None


def test_store_oracle_says_what_it_waits_for(tmp_path):
    store, _, qs = _store_with_answers(tmp_path, n_answer=3)
    notes = []
    # the timeout leaves room for a note even if this process is held up for most of a second
    oracle = StoreOracle(poll_s=0.01, timeout_s=1.0, report_every_s=0.05, log=notes.append)
    with pytest.raises(TimeoutError):
        oracle.ask(store, qs)
    assert notes and f"1 of 4 answers in {tmp_path / 'feedback.jsonl'}: {qs[3].id}" in notes[0]


def test_a_cut_short_line_is_warned_about_once_however_often_a_reader_looks(tmp_path):
    # a reader (no lock held) sees a writer's unfinished line: one warning, not one a refresh
    store, _, _ = _store_with_answers(tmp_path)
    path = tmp_path / "feedback.jsonl"
    reader = FeedbackStore.open(tmp_path)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with open(path, "ab") as f:
            f.write(b'{"type": "answ')
        for _ in range(3):
            reader.refresh()
    tails = [w for w in seen if issubclass(w.category, FeedbackTailWarning)]
    assert len(tails) == 1 and "line 6" in str(tails[0].message)
    assert len(reader.records()) == 3


def test_a_file_rewritten_shorter_under_a_reader_is_refused_by_name(tmp_path):
    from fkc_align.store import FeedbackCorruptError

    store, _, _ = _store_with_answers(tmp_path)
    path = tmp_path / "feedback.jsonl"
    data = path.read_bytes()
    last_start = data.rstrip(b"\n").rfind(b"\n") + 1
    path.write_bytes(data[:last_start])  # someone removed the last answer line
    with pytest.raises(FeedbackCorruptError, match="the file shrank to .* below the .* already "
                                                   "read"):
        store.refresh()
