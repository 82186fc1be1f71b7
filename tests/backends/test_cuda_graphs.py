"""CUDA backend under CUDA graph capture: each replay draws fresh noise (GPU only). Every op
check of the CUDA backend is in tests/ops/ (the ``backend`` fixture's ``cuda`` case)."""

from __future__ import annotations

import os

import pytest
import torch

import fkc_kernels

pytestmark = [pytest.mark.cuda, pytest.mark.usefixtures("cuda_backend")]

SCALARS = dict(h=0.02, g=1.3, lam=0.7, dlam=2.0)
# compiled Triton on CUDA tensors: not under TRITON_INTERPRET=1, which tests/conftest.py sets by
# default (bench/gpu_check.py runs these tests with TRITON_INTERPRET=0)
GPU_BACKENDS = ["cuda", pytest.param("triton", marks=pytest.mark.skipif(
    os.environ.get("TRITON_INTERPRET") == "1",
    reason="TRITON_INTERPRET=1 runs Triton on CPU tensors only; set TRITON_INTERPRET=0"))]


def test_cuda_graph_capture_draws_fresh_noise():
    n, d = 256, 512
    x, s, gr = (torch.randn(n, d, device="cuda") for _ in range(3))
    w = torch.rand(n, device="cuda") * 3 + 0.5
    r = torch.randn(n, device="cuda")
    torch.cuda.synchronize()
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):  # warm-up outside capture
        fkc_kernels.fkc_step_(x, w, s, gr, r, backend="cuda", **SCALARS)
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        fkc_kernels.fkc_step_(x, w, s, gr, r, backend="cuda", **SCALARS)
    snapshots = []
    for _ in range(2):
        graph.replay()
        snapshots.append(x.clone())
    torch.cuda.synchronize()
    assert torch.isfinite(snapshots[1]).all()
    assert not torch.equal(snapshots[0], snapshots[1])



@pytest.mark.parametrize("backend", GPU_BACKENDS)
def test_resampling_and_ess_capture_in_a_cuda_graph(backend):
    # the non-finite log-weight check needs a host sync, so it stands aside during capture
    logw = torch.randn(4096, device="cuda")
    fkc_kernels.systematic_resample(logw, backend=backend)  # warm-up (compiles)
    torch.cuda.synchronize()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        idx = fkc_kernels.systematic_resample(logw, backend=backend)
        ess = fkc_kernels.effective_sample_size(logw)
    graph.replay()
    torch.cuda.synchronize()
    assert idx.shape == (4096,) and bool((idx[1:] >= idx[:-1]).all())
    assert 0 <= int(idx.min()) and int(idx.max()) < 4096
    torch.testing.assert_close(ess, fkc_kernels.effective_sample_size(logw))


@pytest.mark.parametrize("backend", GPU_BACKENDS)
def test_mixture_loop_is_one_kernel_a_step_and_captures(backend):
    """gmm_loop_ with the K seeds given launches one kernel for all K steps on a backend with a
    loop kernel, else exactly K (score, reward and step fused), and one CUDA graph of it replays
    the eager loop bit for bit."""
    from torch.profiler import ProfilerActivity, profile

    k, n, d = 10, 512, 64
    mix = fkc_kernels.gaussian_mixture(2.0 * torch.randn(8, d, device="cuda"), 0.15**2)
    bumps = fkc_kernels.gaussian_bumps(mix.means[[0, 3]], 0.25)
    seeds = torch.randint(0, 2**62, (k, 2), device="cuda")
    x0 = torch.randn(n, d, device="cuda")

    def run(x, w):
        fkc_kernels.gmm_loop_(x, w, mix, bumps, fkc_kernels.VPSchedule(),
                              fkc_kernels.LinearTilt(4.0), k, seeds=seeds, backend=backend)

    x_e, w_e = x0.clone(), torch.zeros(n, device="cuda")
    run(x_e.clone(), w_e.clone())  # warm-up (compiles)
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        run(x_e, w_e)
        torch.cuda.synchronize()
    kernels = [e for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA
               and not e.name.startswith(("Memcpy", "Memset"))]
    want = 1 if hasattr(fkc_kernels.ops.get_backend_object(backend), "gmm_loop") else k
    assert len(kernels) == want, [e.name for e in kernels]
    x_g, w_g = x0.clone(), torch.zeros(n, device="cuda")
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        run(x_g, w_g)
    x_g.copy_(x0)
    w_g.zero_()
    graph.replay()
    torch.cuda.synchronize()
    assert torch.equal(x_g, x_e) and torch.equal(w_g, w_e)
