"""The fkc-align CLI: a tiny run writes its report; a killed run resumes without re-asking."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from fkc_align.cli import main
from fkc_align.feedback import FeedbackStore

TINY = ["--budget", "8", "--k", "4", "--particles", "12", "--steps", "6", "--no-progress"]


def test_cli_tiny_run_writes_report_and_images(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", "--task", "gmm", *TINY, "--out", str(out), "--baselines"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert set(report["runs"]) == {"fkc-explore", "fkc-eps", "random", "greedy"}
    assert report["settings"]["budget"] == 8 and report["versions"]["torch"]
    assert [r["queries_used"] for r in report["runs"]["fkc-explore"]["rounds"]] == [4, 8]
    for name in ("report.png", "best.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = capsys.readouterr().out
    assert "strategy" in table and "greedy" in table and "random" in table


def test_cli_errors_name_the_problem(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", "--task", "gmm", *TINY, "--out", str(out)]) == 0
    assert main(["run", "--task", "gmm", *TINY, "--out", str(out)]) == 2
    assert "--resume" in capsys.readouterr().err
    changed = [a if a != "8" else "12" for a in TINY]
    assert main(["run", "--task", "gmm", *changed, "--out", str(out), "--resume"]) == 2
    assert "budget: stored 8, given 12" in capsys.readouterr().err
    assert main(["run", "--task", "gmm", "--target", "4", *TINY, "--out", str(tmp_path)]) == 2
    assert "--target" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_killed_mid_run_resumes_without_asking_twice(tmp_path):
    out = tmp_path / "run"
    args = [sys.executable, "-m", "fkc_align.cli", "run", "--task", "gmm", "--budget", "40",
            "--k", "4", "--particles", "16", "--steps", "6", "--no-progress", "--out", str(out)]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    feedback = out / "feedback.jsonl"
    deadline = time.monotonic() + 120
    n_answers = 0
    while time.monotonic() < deadline and proc.poll() is None:
        if feedback.exists():
            n_answers = feedback.read_bytes().count(b'"type":"answer"')
            if n_answers >= 10:
                break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert 10 <= n_answers < 40, f"the run was not caught mid-way ({n_answers} answers)"
    killed = FeedbackStore.open(out)  # may warn about a cut tail; that is the point
    before = {r.id: r.x for r in killed.records()}

    done = subprocess.run([*args, "--resume"], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    final = FeedbackStore.open(out)
    records = final.records()
    assert len(records) == 40 and final.n_queries() == 40
    assert len({r.id for r in records}) == 40  # no query answered twice
    assert len({tuple(r.x.flatten().tolist()) for r in records}) == 40  # no particle twice
    for qid, x in before.items():  # nothing answered before the kill was lost or changed
        assert (final.answer_of(qid).x == x).all()
    assert json.loads((out / "report.json").read_text())["runs"]["fkc-explore"]["rounds"][-1][
        "queries_used"] == 40
