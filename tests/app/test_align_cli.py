"""The fkc-align CLI: a tiny run writes its report; a killed run resumes without re-asking."""

import errno
import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest
import torch

from fkc_align.cli import main
from fkc_align.store import FeedbackStore

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
    err = capsys.readouterr().err
    assert "--resume: --budget 12 (stored 8) disagrees with the run stored in" in err
    assert err.count("\n") == 1
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


@pytest.mark.parametrize("extra, match", [
    (["--backend", "bogus"], "--backend: expected one of auto, reference, cpu, triton, cuda, "
                             "got 'bogus'"),
    (["--device", "bogus"], "--device: expected a torch device such as cpu or cuda, got 'bogus'"),
    (["--lam-max", "nan"], "--lam-max: expected a finite number >= 0, got nan"),
    (["--strategy", "greedy", "--particles", "2"], r"--particles: expected >= --k \(4\)"),
    (["--budget", "0"], "--budget: expected an int >= 1, got 0"),
    (["--budget", "8", "--k", "16"], r"--k: expected at most --budget \(8\)"),
    (["--steps", "0"], "--steps: expected an int >= 1, got 0"),
    (["--liked", "3,x"], "--liked: applies to --task digits-liked only"),
    (["--resume"], r"--resume: .* holds no run \(no feedback.jsonl\); check the folder name"),
])
def test_cli_checks_every_option_before_it_writes(tmp_path, capsys, extra, match):
    out = tmp_path / "run"
    assert main(["run", "--task", "gmm", *TINY, "--out", str(out), *extra]) == 2
    err = capsys.readouterr().err
    assert re.search(match, err) and err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists()  # nothing written: the corrected command just works


def test_cli_empty_out_and_missing_cuda_are_errors(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--task", "gmm", *TINY, "--out", ""]) == 2
    assert "--out: expected a folder, got an empty string" in capsys.readouterr().err
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main(["run", "--task", "gmm", *TINY, "--device", "cuda"]) == 2
    assert "--device: 'cuda' asked for CUDA, but no CUDA GPU is visible" in \
        capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_cli_disk_errors_are_one_message_saying_how_to_resume(tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"
    real_write = os.write

    def read_only_after_the_first_answer(fd, data):
        try:
            feedback = os.readlink(f"/proc/self/fd/{fd}").endswith("feedback.jsonl")
        except OSError:
            feedback = False
        if feedback and b'"type":"answer"' in (out / "feedback.jsonl").read_bytes():
            raise OSError(errno.EROFS, os.strerror(errno.EROFS))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", read_only_after_the_first_answer)
    assert main(["run", "--task", "gmm", *TINY, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "file system is read-only (EROFS). Saved and intact: 4 queries and 1 answers" in err
    assert "--resume" in err and "Traceback" not in err and err.count("\n") == 1
    monkeypatch.setattr(os, "write", real_write)
    assert main(["run", "--task", "gmm", *TINY, "--out", str(out), "--resume"]) == 0
    assert len(FeedbackStore.open(out).records()) == 8


def test_cli_report_through_a_planted_link_is_not_followed(tmp_path):
    out = tmp_path / "run"
    victim = tmp_path / "victim"
    victim.write_text("keep")
    out.mkdir()
    for name in ("report.json.tmp", "report.json", "report.png"):
        (out / name).symlink_to(victim)
    assert main(["run", "--task", "gmm", *TINY, "--out", str(out)]) == 0
    assert victim.read_text() == "keep"
    assert not (out / "report.json").is_symlink()
    assert json.loads((out / "report.json").read_text())["settings"]["budget"] == 8


# run in a fresh interpreter: the options are checked before torch (or fkc_kernels) is imported
BEFORE_TORCH = """
import sys, time
t0 = time.perf_counter()
from fkc_align.cli import main
try:
    rc = main(sys.argv[1:])
except SystemExit as exc:  # argparse's own errors
    rc = exc.code
heavy = sorted(m for m in ("torch", "fkc_kernels") if m in sys.modules)
print(f"{time.perf_counter() - t0:.2f} s, imported {heavy}")
sys.exit(rc if not heavy else 99)
"""
COLD_BOUND_S = 15.0  # generous for a loaded 2-core box; measured 0.2-0.4 s there when quiet


@pytest.mark.parametrize("argv, message", [
    (["run", "--budget", "8", "--k", "16"], "--k: expected at most --budget (8)"),
    (["run", "--budget", "8", "--k", "4", "--particles", "2"], "--particles: expected >= --k"),
    (["run", "--lam-max", "nan"], "--lam-max: expected a finite number >= 0, got nan"),
    (["run", "--task", "gmm", "--target", "3"], "--target: applies to --task digits"),
    (["run", "--budget", "x"], "argument --budget: invalid int value: 'x'"),
    (["run", "--resume", "--out", "no/such/run"], "--resume: no/such/run holds no run"),
    (["serve", "--port", "70000"], "--port: expected 0 (a free port) .. 65535, got 70000"),
    (["bench", "--seeds", "abc"], "--seeds: expected seeds >= 0 like 100-131 or 0,3,5, got "
                                  "'abc'"),
    (["bench", "--jobs", "0"], "--jobs: expected an int >= 1, got 0"),
    (["bench", "--liked3", "1,2"], "--liked3: expected 3 digits like 0,4,7, got '1,2'"),
    (["bench", "--liked3", "1,x,2"], "--liked3: expected digits 0-9 like 0,4,7, got '1,x,2'"),
    (["bench", "--liked", "3,3"], "--liked: expected distinct digits like 3,8, got '3,3'"),
    (["bench", "--layout", "-1"], "--layout: expected a seed >= 0, got -1"),
    (["bench", "--confidence", "nan"], "--confidence: expected a probability in (0, 1), got nan"),
    (["bench", "--target", "10"], "--target: expected a digit 0-9, got 10"),
    (["bench", "--scenarios", " , "], "--scenarios: expected comma-separated scenario names, "
                                      "got ' , '"),
])
def test_bad_options_are_answered_before_torch_is_imported(tmp_path, argv, message):
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", BEFORE_TORCH, *argv], capture_output=True,
                          text=True, timeout=120, cwd=tmp_path)
    wall = time.perf_counter() - t0
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert message in proc.stderr and proc.stderr.count("fkc-align: error") == 1 or \
        "usage:" in proc.stderr, proc.stderr
    assert wall < COLD_BOUND_S, f"{wall:.1f} s"
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_help_is_fast_and_states_each_default_once():
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "fkc_align.cli", "run", "--help"],
                          capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, COLUMNS="200"))
    wall = time.perf_counter() - t0
    assert proc.returncode == 0 and wall < COLD_BOUND_S, (wall, proc.stderr)
    text = proc.stdout
    assert "(default: None)" not in text and ") (default" not in text
    assert "--seed SEED" in text and "seeds every random draw" in text
    assert "runs/<task>[-t<target>|-l<liked>]-b<budget>-k<k>-s<seed>" in text
    assert "(default 3)" in text and "(default 64)" in text and "(default: auto)" in text


def test_run_says_what_it_is_doing_within_seconds(tmp_path):
    args = [sys.executable, "-m", "fkc_align.cli", "run", "--task", "gmm", *TINY, "--out",
            str(tmp_path / "run")]
    t0 = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()
        wall = time.perf_counter() - t0
    finally:
        proc.kill()
        proc.communicate()
    assert first.startswith("fkc-align run: loading torch and the gmm task, then sampling"), first
    assert wall < COLD_BOUND_S, f"{wall:.1f} s"  # the deliverable: 3 s on a quiet 2-core box


def test_resume_takes_the_settings_from_the_folder(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", "--task", "gmm", *TINY, "--strategy", "greedy", "--seed", "5",
                 "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["run", "--resume", "--out", str(out), "--no-progress"]) == 0  # only --out
    settings = json.loads((out / "report.json").read_text())["settings"]
    assert (settings["strategy"], settings["seed"], settings["k"]) == ("greedy", 5, 4)
    capsys.readouterr()
    assert main(["run", "--resume", "--out", str(out), "--seed", "6", "--k", "2",
                 "--task", "gmm", "--budget", "8"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and ("--resume: --k 2 (stored 4), --seed 6 (stored 5) disagree "
                                      "with the run stored in") in err


def test_resume_on_an_empty_feedback_file_is_an_error(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "feedback.jsonl").write_bytes(b"")
    assert main(["run", "--task", "gmm", *TINY, "--out", str(out), "--resume"]) == 2
    assert "feedback.jsonl is empty" in capsys.readouterr().err
    assert (out / "feedback.jsonl").read_bytes() == b"" and not (out / "report.json").exists()


def test_feedback_warnings_are_one_clean_line_each(tmp_path):
    out = tmp_path / "run"
    assert main(["run", "--task", "gmm", *TINY, "--out", str(out)]) == 0
    with open(out / "feedback.jsonl", "ab") as fh:
        fh.write(b"not json\n")
        fh.write(b'{"type":"answer","id":"r0-q')  # a write cut short by a kill
    proc = subprocess.run([sys.executable, "-m", "fkc_align.cli", "run", "--resume", "--out",
                           str(out), "--no-progress"], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 2, proc.stderr  # no source line, no "warnings.warn(", no CUDA note
    assert lines[0].startswith("fkc-align: warning: ") and "line 12 is invalid" in lines[0]
    assert lines[1].startswith("fkc-align: warning: ") and "line 13: truncated line" in lines[1]


def test_docs_serve_example_shows_the_default_task_and_folder():
    from pathlib import Path

    from fkc_align import store
    from fkc_align.cli import build_parser
    from fkc_align.cli_options import FEEDBACK_FILE, check_out, fill_settings

    assert FEEDBACK_FILE == store.FEEDBACK_FILE
    text = (Path(__file__).resolve().parents[2] / "docs" / "serve.md").read_text()
    args = build_parser().parse_args(["serve", "--budget", "32", "--k", "4"])
    assert "fkc-align serve --budget 32 --k 4 " in text
    fill_settings(args)
    folder = str(check_out(args))
    printed = re.search(r"fkc-align serve: task (\S+) .* run folder (\S+)\. Rate", text)
    assert printed and printed.groups() == (args.task, folder)
    assert f"fkc-align serve --out {folder} --resume" in text
