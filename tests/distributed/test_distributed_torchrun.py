"""The README's torchrun example, run as a test: 2 ranks, gloo, loopback only, bounded in time."""

from __future__ import annotations

import os
import subprocess
import sys

TIMEOUT_S = 150


def test_torchrun_self_check_two_ranks(tmp_path):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "fkc_kernels.distributed", "--particles", "5000", "--k", "12", "--n-random", "5",
           "--sampler-n", "1000", "--steps", "40", "--backend", "gloo",
           "--kernel-backend", "reference"]
    env = dict(os.environ, OMP_NUM_THREADS="1", MASTER_ADDR="127.0.0.1")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S, env=env,
                          cwd=tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    for check in ("select_particles", "effective_sample_size", "systematic_resample",
                  "fetch_particles", "ShardedFKCSampler"):
        assert f"[ok] {check}:" in proc.stdout, out
    assert "[FAIL]" not in proc.stdout, out
