"""`fkc-align run` under torchrun: 2 gloo ranks on loopback, rank 0 writes one report."""

import json
import os
import subprocess
import sys


def test_cli_under_torchrun(tmp_path):
    out = tmp_path / "run"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "fkc_align.cli", "run", "--task", "gmm", "--budget", "12", "--k", "4",
           "--particles", "16", "--steps", "5", "--no-progress", "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("strategy | queries") == 1, "only rank 0 prints the summary"
    report = json.loads((out / "report.json").read_text())
    assert report["world_size"] == 2
    assert report["runs"]["fkc-explore"]["rounds"][-1]["queries_used"] == 12
    records = [json.loads(line) for line in (out / "feedback.jsonl").read_text().splitlines()]
    assert sum(r["type"] == "answer" for r in records) == 12  # every answer, written once
