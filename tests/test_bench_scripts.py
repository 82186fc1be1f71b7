"""The benchmark scripts cannot rot: the GPU check's dry run executes every section on the CPU."""

from __future__ import annotations

import importlib.util
import os
import pathlib

import pytest

from fkc_kernels.ops._backends import get_backend_object

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", ROOT / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(
    os.environ.get("TRITON_INTERPRET") != "1" or get_backend_object("triton") is None,
    reason="the dry run needs triton under TRITON_INTERPRET=1",
)
def test_gpu_check_dry_run(tmp_path):
    gpu_check = _load("gpu_check")
    gpu_check.LINES.clear()
    assert gpu_check.main(["--dry-run", "--out", str(tmp_path)]) == 0
    report = (tmp_path / "gpu_check_dry.md").read_text()
    for title in ("Correctness", "Fused step", "Selection", "Sampler loop", "Mixture loop",
                  "Triton selection, part by part"):
        assert f"## {title}" in report
    assert "section failed" not in report and "**FAIL**" not in report
    assert "error:" not in report
    assert "| triton | select_particles |" in report
    assert "| triton | select_particles_kernel (not dispatched on GPUs) |" in report
    assert "survivors ok" in report and "WRONG" not in report
    assert "| triton | step, in-kernel noise |" in report
    for loop in ("one-kernel", "two-kernel", "one-launch"):  # the mixture loop, every way
        assert f"| triton | {loop} | eager |" in report
    # the mixture loop's component sweep: the bench's model, a smaller one, and the fitted line
    assert "| triton | 8 | 2 |" in report and "| triton | 1 | 1 |" in report
    assert "| triton | fit |" in report
    # the Triton loop's variants: tables and pairs on, and both off
    assert "| yes | yes |" in report and "| no | no |" in report


def test_bench_step_collects():
    bench_step = _load("bench_step")
    assert bench_step.SHAPES and callable(bench_step.test_backend)
    assert callable(bench_step.test_mixture_loop)


@pytest.mark.skipif(
    os.environ.get("TRITON_INTERPRET") != "1" or get_backend_object("triton") is None,
    reason="the host timing stubs the Triton launches under TRITON_INTERPRET=1",
)
def test_triton_host_time_runs(monkeypatch):
    host_time = _load("triton_host_time")
    import fkc_kernels.triton.fkc_step as triton_step

    monkeypatch.setattr(triton_step, "_fkc_step_kernel", host_time._StubLaunch())
    monkeypatch.setattr(triton_step, "_finish_w_kernel", host_time._StubLaunch())
    assert 0 < host_time.host_us("triton", calls=3, reps=1) < 1e6
