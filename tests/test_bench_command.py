"""``python -m fkc_kernels.bench`` runs and reports (a smoke test on tiny shapes, not a timing)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest
import torch

from fkc_kernels.bench.cli import main
from fkc_kernels.ops import BACKEND_NAMES, unavailable_reason

TINY = ["--shape", "8x16", "--shape", "5x7", "--select", "64:4", "--resample", "64",
        "--loop", "8x16", "--loop-steps", "2", "--reps", "3", "--budget-s", "1"]


def _positive(value, where: str) -> None:
    assert isinstance(value, (int, float)) and math.isfinite(value) and value > 0, \
        f"{where}: {value!r}"


def test_json_has_every_measurement_positive_and_finite():
    # the backends that run natively on this CPU (Triton would run under the interpreter: a
    # minute here, and no throughput to speak of)
    runs = [n for n in ("reference", "cpu") if unavailable_reason(n, torch.device("cpu")) is None]
    asked = [a for n in runs for a in ("--backend", n)]
    proc = subprocess.run([sys.executable, "-m", "fkc_kernels.bench", "--json",
                           "--device", "cpu", *asked, *TINY],
                          capture_output=True, text=True, env=dict(os.environ), timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads(proc.stdout)
    assert res["backends"] == runs
    assert set(res["not_timed"]) == set(BACKEND_NAMES) - set(runs)
    m = res["machine"]
    assert m["cpu"] and m["cores"] >= 1 and isinstance(m["avx512"], bool)
    assert res["versions"]["torch"] == torch.__version__ and res["versions"]["fkc_kernels"]
    assert res["device"] == "cpu" and res["dtype"] == "float32"
    assert [(r["backend"], r["shape"]) for r in res["step"]] == \
        [(b, s) for b in runs for s in ([8, 16], [5, 7])]
    for r in res["step"]:
        assert r["bytes"] == 4 * r["shape"][0] * r["shape"][1] * 4 + 12 * r["shape"][0]
        for key in ("ms", "particle_steps_per_s", "gb_per_s", "copy_ms", "copy_gb_per_s",
                    "of_copy"):
            _positive(r[key], f"step {r['backend']} {key}")
        # the three rates are one time read three ways
        assert r["particle_steps_per_s"] == pytest.approx(r["shape"][0] / (r["ms"] * 1e-3))
        assert r["gb_per_s"] == pytest.approx(r["bytes"] / r["ms"] / 1e6)
        assert r["of_copy"] == pytest.approx(r["copy_ms"] / r["ms"])
        assert r["graph_ms"] is None  # CUDA graphs only on CUDA
    for key, sizes in (("select", {(64, 4)}), ("resample", {64})):
        assert [r["backend"] for r in res[key]] == runs
        for r in res[key]:
            assert ((r["n"], r["k"]) if key == "select" else r["n"]) in sizes
            _positive(r["us"], f"{key} {r['backend']}")
    assert [(r["backend"], r["shape"], r["steps"]) for r in res["loop"]] == \
        [(b, [8, 16], 2) for b in runs]
    for r in res["loop"]:
        _positive(r["us_per_step"], f"loop {r['backend']}")
        _positive(r["mixture_us_per_step"], f"mixture loop {r['backend']}")
        assert r["graph_us_per_step"] is None and r["mixture_graph_us_per_step"] is None


def test_table_names_the_machine_versions_and_backends(capsys):
    assert main(["--backend", "reference", "--skip", "loop", "--skip", "select", *TINY]) == 0
    out = capsys.readouterr().out
    for text in ("machine: ", "logical cores", "versions: ", f"torch {torch.__version__}",
                 "backends timed: reference", "| reference | 8 x 16 |",
                 "Fused step", "Resampling"):
        assert text in out, text
    assert "Selection" not in out and "K-step loops" not in out
    if unavailable_reason("cpu", torch.device("cpu")) is None:
        assert "cpu: not asked for (--backend cpu)" in out


@pytest.mark.parametrize("args,message", [
    (["--shape", "4096"], "argument --shape: expected NxD, positive particles x dims (e.g. "
                          "4096x3072), got '4096'"),
    (["--shape", "0x8"], "argument --shape: expected NxD"),
    (["--select", "64"], "argument --select: expected N:k"),
    (["--reps", "-2"], "argument --reps: expected a positive integer, got '-2'"),
    (["--backend", "gpu"], "--backend: expected 'all' or one of ['reference', 'triton', 'cpu', "
                           "'cuda'], got 'gpu'"),
    (["--skip", "all"], "argument --skip: invalid choice: 'all'"),
    (["--budget-s", "0"], "--budget-s: expected a positive number of seconds, got 0.0"),
])
def test_bad_arguments_are_named(capsys, args, message):
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is visible here")
def test_cuda_without_a_gpu_says_so(capsys):
    with pytest.raises(SystemExit):
        main(["--device", "cuda"])
    assert "--device: 'cuda' was asked for, but no CUDA device is visible" in \
        capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--backend", "cuda"])
    assert "--backend: 'cuda' cannot run cpu tensors here" in capsys.readouterr().err
