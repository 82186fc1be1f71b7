"""Many processes on one run folder: one owner (RunLock), atomic answers across processes."""

import errno
import gc
import json
import os
import subprocess
import sys

import pytest
import torch

import fkc_align.store
import fkc_align.store.lock
from fkc_align.cli import main
from fkc_align.loop import run_active
from fkc_align.store import (
    LOCK_FILE,
    DuplicateAnswer,
    FeedbackStore,
    RunFolderBusy,
    RunLock,
    StorageError,
    StoreOracle,
)
from fkc_align.tasks import gmm

SETTINGS = {"task": {"name": "t"}, "budget": 16, "k": 16, "shape": [2]}

# a child imports the feedback modules only, not the whole package (no fkc_kernels, no
# torch.compile machinery): it starts in about half the time, as a lean rating process would
CHILD_PRELUDE = """
import sys, types
pkg = types.ModuleType("fkc_align")
pkg.__path__ = [sys.argv.pop(1)]
sys.modules["fkc_align"] = pkg
"""

HOLD_LOCK = CHILD_PRELUDE + """
from fkc_align.store import RunLock
lock = RunLock(sys.argv[1], purpose="serve").acquire()  # kept: a dropped RunLock releases
print("locked", flush=True)
sys.stdin.readline()
"""

# takes the lock the way RunLock does, but describes itself (or lets go) only after a pause:
# the window in which a refused process would read an empty description
SLOW_HOLDER = """
import fcntl, json, os, sys, time
fd = os.open(os.path.join(sys.argv[1], "run.lock"), os.O_RDWR | os.O_CREAT, 0o644)
fcntl.flock(fd, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
if sys.argv[3] == "describe":
    os.write(fd, json.dumps({"pid": os.getpid(), "host": "h", "purpose": "run"}).encode())
    sys.stdin.readline()
"""

ANSWER_ALL = CHILD_PRELUDE + """
import json
from fkc_align.store import DuplicateAnswer, FeedbackStore
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
    package_dir = os.path.dirname(os.path.dirname(fkc_align.store.__file__))
    return subprocess.Popen([sys.executable, "-c", code, package_dir, *map(str, args)], text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=dict(os.environ, OMP_NUM_THREADS="1"))


def _answer_from_two_processes_at_once(run_dir) -> list[dict]:
    """Both answer every pending query twice (rewards 1.0 and 2.0), released together."""
    procs = [_python(ANSWER_ALL, run_dir, order, reward)
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
    return outs


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
        child.communicate()
    with FeedbackStore.open(tmp_path, owner=True) as owner:
        assert RunLock.holder(tmp_path)["pid"] == os.getpid()
        assert owner.answer_of(qs[0].id).reward == 1.5
        with pytest.raises(RunFolderBusy, match="already owned by this process"):
            RunLock(tmp_path).acquire()  # taken once: an owner hands its lock on instead
        assert RunLock.holder(tmp_path)["purpose"] == "resume"
    assert RunLock.holder(tmp_path) is None


@pytest.mark.parametrize("then", ["describe", "exit"])
def test_a_refused_owner_waits_out_the_holders_undescribed_moment(tmp_path, then):
    """Between taking the lock and describing itself (and between erasing the description and
    letting go) a holder's description is empty: the refusal still names it, or the folder is
    taken once it is free."""
    child = subprocess.Popen([sys.executable, "-c", SLOW_HOLDER, str(tmp_path), "0.3", then],
                             text=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert child.stdout.readline().strip() == "locked"
        if then == "describe":
            with pytest.raises(RunFolderBusy, match=rf"owned by pid {child.pid} on host h"):
                RunLock(tmp_path).acquire()
        else:
            with RunLock(tmp_path, purpose="resume"):
                assert RunLock.holder(tmp_path)["pid"] == os.getpid()
    finally:
        child.kill()
        child.communicate()


def test_a_holder_that_never_describes_itself_is_still_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(fkc_align.store.lock, "DESCRIPTION_WAIT_S", 0.1)
    child = subprocess.Popen([sys.executable, "-c", SLOW_HOLDER, str(tmp_path), "60", "exit"],
                             text=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert child.stdout.readline().strip() == "locked"
        with pytest.raises(RunFolderBusy, match="owned by another process .it has not written "
                                                "its details yet."):
            RunLock(tmp_path).acquire()
    finally:
        child.kill()
        child.communicate()


def test_a_link_planted_at_the_lock_file_is_refused(tmp_path):
    target = tmp_path / "elsewhere"
    target.write_text("keep")
    (tmp_path / LOCK_FILE).symlink_to(target)
    with pytest.raises(OSError):
        RunLock(tmp_path).acquire()
    assert target.read_text() == "keep"


def test_two_answering_processes_store_every_answer_exactly_once(tmp_path):
    _, qs = _pending_store(tmp_path)
    outs = _answer_from_two_processes_at_once(tmp_path)
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


@pytest.mark.slow
def test_resumes_and_answerers_at_once_with_bad_lines_keep_every_answer_once(tmp_path):
    """Script-style: a run waiting for a person, two answering processes at once, bad raw
    lines, then two resumes at once; every answer lands exactly once and the folder resumes."""
    out = tmp_path / "run"
    # 1. a run whose first round waits for answers from outside (they do not come in time)
    with pytest.raises(TimeoutError):
        run_active(gmm(), budget=8, k=4, n_particles=12, n_steps=6, seed=0, out_dir=out,
                   progress=False, oracle=StoreOracle(poll_s=0.05, timeout_s=0.2))
    gc.collect()  # the failed run's store (and its folder lock) goes with the traceback
    assert RunLock.holder(out) is None
    # 2. two processes answer the four pending queries at once
    took = [set(o["took"]) for o in _answer_from_two_processes_at_once(out)]
    assert len(took[0] | took[1]) == 4 and not took[0] & took[1]
    # 3. bad raw lines: a duplicate, an unknown id, NaN, "0.7", true, and a cut-short tail
    feedback = out / "feedback.jsonl"
    answer = json.loads(feedback.read_text().splitlines()[-1])
    bad = [json.dumps(dict(answer, reward=99.0)), json.dumps(dict(answer, id="r7-q1")),
           json.dumps(dict(answer, reward=12345.5)).replace('"reward": 12345.5',
                                                            '"reward": NaN'),
           json.dumps(dict(answer, reward="0.7")), json.dumps(dict(answer, reward=True))]
    with open(feedback, "a") as fh:
        fh.write("\n".join(bad) + "\n" + json.dumps(answer)[:30])
    # 4. two resumes at once: one owns the folder, the other is refused by name (or, if the
    # first finished before the second looked, resumes a finished run)
    args = [sys.executable, "-m", "fkc_align.cli", "run", "--task", "gmm", "--budget", "8",
            "--k", "4", "--particles", "12", "--steps", "6", "--no-progress", "--out", str(out),
            "--resume"]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    runs = [subprocess.Popen(args, env=env, text=True, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE) for _ in range(2)]
    outs = [r.communicate(timeout=300) for r in runs]
    results = [(r.returncode, err) for r, (_, err) in zip(runs, outs, strict=True)]
    codes = sorted(code for code, _ in results)
    assert codes in ([0, 0], [0, 2]), results
    for code, err in results:
        if code == 2:
            assert "is owned by pid" in err and "Traceback" not in err, err
    # 5. every query answered exactly once; round 0 keeps the answerers' rewards
    with pytest.warns(UserWarning):  # the bad lines are named on every open
        final = FeedbackStore.open(out)
    records = final.records()
    assert len(records) == 8 and len({r.id for r in records}) == 8 and final.n_queries() == 8
    for rec in records:
        if rec.round == 0:
            assert rec.reward == (1.0 if rec.id in took[0] else 2.0)
    assert [b.line for b in final.bad_lines] == [7, 8, 9, 10, 11]  # after 2 + 4 lines
    assert final.tail_problem is None  # the cut-short tail was set aside by the owner
    assert list(out.glob("feedback.jsonl.bad-tail-*"))
    # 6. and the folder still resumes (nothing left to ask; in this process, to save a start)
    with pytest.warns(UserWarning):
        assert main(args[3:]) == 0
    (run,) = json.loads((out / "report.json").read_text())["runs"].values()
    assert run["rounds"][-1]["queries_used"] == 8


def test_a_folder_that_cannot_be_locked_says_why(tmp_path, monkeypatch):
    real_open = os.open

    def read_only(path, flags, *args):
        if str(path).endswith(LOCK_FILE) and flags & os.O_CREAT:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", read_only)
    with pytest.raises(StorageError, match="cannot take the run folder's lock .*read-only "
                                           r"\(EROFS\). To run, resume or serve"):
        RunLock(tmp_path).acquire()
