"""CUDA backend under CUDA graph capture: each replay draws fresh noise (GPU only). Every op
check of the CUDA backend is in tests/ops/ (the ``backend`` fixture's ``cuda`` case)."""

from __future__ import annotations

import pytest
import torch

import fkc_kernels

pytestmark = [pytest.mark.cuda, pytest.mark.usefixtures("cuda_backend")]

SCALARS = dict(h=0.02, g=1.3, lam=0.7, dlam=2.0)


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
