"""Many processes on one run folder: one owner (RunLock), atomic answers across processes."""

import json
import os
import subprocess
import sys

import pytest
import torch

from fkc_align.feedback import DuplicateAnswer, FeedbackStore
from fkc_align.run_lock import LOCK_FILE, RunFolderBusy, RunLock

SETTINGS = {"task": {"name": "t"}, "budget": 16, "k": 16, "shape": [2]}

HOLD_LOCK = """
import sys
from fkc_align.run_lock import RunLock
lock = RunLock(sys.argv[1], purpose="serve").acquire()  # kept: a dropped RunLock releases
print("locked", flush=True)
sys.stdin.readline()
"""

ANSWER_ALL = """
import json, sys
from fkc_align.feedback import DuplicateAnswer, FeedbackStore
store = FeedbackStore.open(sys.argv[1])
ids = [q.id for q in store.pending()]
if sys.argv[2] == "reversed":
    ids.reverse()
print("ready", flush=True)
sys.stdin.readline()  # both start together
took, refused = [], []
for _ in range(2):  # every id twice: refused by the other process and by ourselves
    for qid in ids:
        try:
            store.answer(qid, float(sys.argv[3]))
            took.append(qid)
        except DuplicateAnswer:
            refused.append(qid)
print(json.dumps({"took": took, "refused": refused}), flush=True)
"""


def _python(code: str, *args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code, *map(str, args)], text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=dict(os.environ, OMP_NUM_THREADS="1"))


def _pending_store(path, n=16):
    store = FeedbackStore.create(path, SETTINGS, seed=3)
    qs = store.add_queries(0, torch.randn(n, 2), ["cold"] * n)
    return store, qs


def test_second_owner_is_refused_naming_the_holder_until_it_dies(tmp_path):
    _, qs = _pending_store(tmp_path, n=2)
    child = _python(HOLD_LOCK, tmp_path)
    try:
        assert child.stdout.readline().strip() == "locked", child.stderr.read()
        with pytest.raises(RunFolderBusy, match=rf"owned by pid {child.pid} on host \S+ "
                                                r"\(serve, since .*command: -c"):
            RunLock(tmp_path).acquire()
        assert RunLock.holder(tmp_path)["pid"] == child.pid
        with pytest.raises(RunFolderBusy, match=str(child.pid)):
            FeedbackStore.open(tmp_path, owner=True)
        # readers and answerers need no lock
        page = FeedbackStore.open(tmp_path)
        page.answer(qs[0].id, 1.5)
    finally:
        child.kill()  # SIGKILL: the kernel releases the lock, nothing stale is left
        child.wait()
    with FeedbackStore.open(tmp_path, owner=True) as owner:
        assert RunLock.holder(tmp_path)["pid"] == os.getpid()
        assert owner.answer_of(qs[0].id).reward == 1.5
        with RunLock(tmp_path):  # the same process may nest
            pass
        assert RunLock.holder(tmp_path)["purpose"] == "resume"
    assert RunLock.holder(tmp_path) is None


def test_a_link_planted_at_the_lock_file_is_refused(tmp_path):
    target = tmp_path / "elsewhere"
    target.write_text("keep")
    (tmp_path / LOCK_FILE).symlink_to(target)
    with pytest.raises(OSError):
        RunLock(tmp_path).acquire()
    assert target.read_text() == "keep"


def test_two_answering_processes_store_every_answer_exactly_once(tmp_path):
    _, qs = _pending_store(tmp_path)
    procs = [_python(ANSWER_ALL, tmp_path, order, reward)
             for order, reward in (("forward", 1.0), ("reversed", 2.0))]
    for p in procs:
        assert p.stdout.readline().strip() == "ready", p.stderr.read()
    for p in procs:
        p.stdin.write("\n")
        p.stdin.flush()
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        outs.append(json.loads(out))
    took = [set(o["took"]) for o in outs]
    assert took[0] | took[1] == {q.id for q in qs} and not took[0] & took[1]
    assert all(len(o["took"]) + len(o["refused"]) == 2 * len(qs) for o in outs)
    lines = [json.loads(ln) for ln in (tmp_path / "feedback.jsonl").read_text().splitlines()]
    answered = [ln["id"] for ln in lines if ln["type"] == "answer"]
    assert sorted(answered) == sorted(q.id for q in qs)  # each once, none refused reached it
    store = FeedbackStore.open(tmp_path)
    assert store.bad_lines == [] and store.pending() == []
    for rec in store.records():  # the reward is the one the process that won sent
        assert rec.reward == (1.0 if rec.id in took[0] else 2.0)
    with pytest.raises(DuplicateAnswer, match="already answered"):
        store.answer(qs[0].id, 3.0)
