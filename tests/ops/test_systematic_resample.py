"""systematic_resample on every backend (the reference's ancestors for the same uniform) against
closed forms; effective_sample_size."""

from __future__ import annotations

import math

import pytest
import torch
from _tolerances import RESAMPLE_MAX_MOVED

from fkc_kernels import effective_sample_size, reference, systematic_resample

# the Triton interpreter runs each program instance in Python: fewer draws, smaller N
DRAWS = {"triton": 5}
MAX_N = {"triton": 1000}
INTERPRETER_SKIP = "too slow under the Triton interpreter"


def _logw(n, kind):
    if kind == "normal":
        return torch.randn(n, dtype=torch.float64) * 2
    if kind == "spread":  # a few particles dominate
        return torch.randn(n, dtype=torch.float64) * 30
    lw = torch.randn(n, dtype=torch.float64)  # NaN and -inf are zero weight
    lw[torch.rand(n) < 0.3] = float("nan")
    lw[torch.rand(n) < 0.2] = -float("inf")
    lw[0] = 0.5  # at least one finite weight
    return lw


def _check(backend, logw: torch.Tensor, u: float) -> torch.Tensor:
    """The backend's raw op against the reference for the same ``u``."""
    ut = torch.tensor([u], dtype=torch.float64)
    got = backend.impl.systematic_resample(logw.to(backend.device), ut.to(backend.device)).cpu()
    want = reference.systematic_resample(logw, u=ut)
    assert got.dtype == torch.int64 and got.shape == logw.shape
    moved = int((got != want).sum())
    assert moved <= RESAMPLE_MAX_MOVED[backend], (u, (got != want).nonzero()[:5])
    assert (got[1:] >= got[:-1]).all(), "ancestors come out sorted"
    return got


@pytest.mark.parametrize("n", [1, 3, 7, 37, 1000, 1024, 1025, 4097, 5000, 65536, 1 << 20])
@pytest.mark.parametrize("kind", ["normal", "spread", "zeros"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_matches_reference(backend, n, kind, dtype):
    if n > MAX_N.get(backend, n):
        pytest.skip(f"N={n}: {INTERPRETER_SKIP}")
    if n >= 65536 and backend != "cuda":
        pytest.skip(f"N={n} exercises the CUDA kernel's many-block path; the sizes above cover "
                    "the one-pass CPU kernels")
    lw = _logw(n, kind).to(dtype)
    us = (0.0, 0.37, 0.5, 1.0 - 2.0**-53, torch.rand(()).item())
    for u in us[:2] + us[3:4] if backend == "triton" else us:  # fewer interpreter runs
        got = _check(backend, lw, u)
        # NaN and -inf log-weights get no offspring (for u -> 1 the last position can round
        # to 1.0 and clamp to particle N-1, dead or not: the reference does the same)
        dead = torch.isnan(lw) | torch.isneginf(lw)
        if u <= 0.5:
            assert not dead[got].any(), (u, got)


@pytest.mark.parametrize("n", [1, 3, 10, 257, 1000])
def test_offspring_counts_floor_or_ceil(backend, n):
    logw = torch.randn(n) * 2
    wn = torch.softmax(logw.double(), 0)
    g = torch.Generator(backend.device).manual_seed(n)
    for _ in range(DRAWS.get(backend, 20)):
        idx = systematic_resample(logw.to(backend.device), generator=g, backend=backend).cpu()
        assert idx.shape == (n,) and idx.dtype == torch.int64
        assert (idx[1:] >= idx[:-1]).all(), "ancestors come out sorted"
        counts = torch.bincount(idx, minlength=n).double()
        lo, hi = torch.floor(n * wn - 1e-9), torch.ceil(n * wn + 1e-9)
        assert ((counts >= lo) & (counts <= hi)).all()


def test_offspring_counts_unbiased():
    # E[count_j] = N W_j exactly; over a grid of u the average is that expectation
    n = 7
    logw = torch.tensor([0.0, 1.0, -1.0, 2.0, -5.0, 0.5, 0.0])
    wn = torch.softmax(logw.double(), 0)
    m = 4000  # the grid average is within 2/m of the integral (<= 2 jumps per count)
    total = torch.zeros(n, dtype=torch.float64)
    for j in range(m):
        u = torch.tensor([(j + 0.5) / m], dtype=torch.float64)
        total += torch.bincount(reference.systematic_resample(logw, u=u), minlength=n)
    torch.testing.assert_close(total / m, n * wn, rtol=0, atol=1e-3)


def test_monte_carlo_unbiased_with_generator(backend):
    if backend == "triton":
        pytest.skip(f"4000 draws: {INTERPRETER_SKIP}; Triton returns the reference's ancestors "
                    "for the same u (test_matches_reference)")
    n, trials = 5, 4000
    logw = torch.tensor([0.3, -0.2, 1.1, 0.0, -2.0], device=backend.device)
    wn = torch.softmax(logw.double().cpu(), 0)
    g = torch.Generator(backend.device).manual_seed(0)
    total = torch.zeros(n, dtype=torch.float64)
    for _ in range(trials):
        total += torch.bincount(systematic_resample(logw, generator=g, backend=backend).cpu(),
                                minlength=n)
    # each count lies in {floor, ceil}: variance <= 1/4, so the mean's sd <= 0.5/sqrt(trials)
    assert ((total / trials - n * wn).abs() < 6 * 0.5 / math.sqrt(trials)).all()


def test_zero_and_nan_weights_never_chosen(backend):
    logw = torch.tensor([0.0, -float("inf"), float("nan"), 0.0, -float("inf")],
                        device=backend.device)
    g = torch.Generator(backend.device).manual_seed(1)
    for _ in range(DRAWS.get(backend, 50)):
        idx = systematic_resample(logw, generator=g, backend=backend)
        assert set(idx.tolist()) <= {0, 3}


@pytest.mark.parametrize("dead", [-float("inf"), float("nan")])
def test_zero_weight_first_particle_gets_no_offspring_at_u0(backend, dead):
    """u = 0 puts the first position exactly at cumulative weight 0: the first particle whose
    cumulative weight *exceeds* it is the ancestor, never a zero-weight particle 0."""
    logw = torch.tensor([dead, 0.0, 0.0, -1.0])
    got = _check(backend, logw, 0.0)
    assert 0 not in got.tolist(), got
    assert got.tolist() == reference.systematic_resample(
        logw, u=torch.zeros(1, dtype=torch.float64)).tolist() == [1, 1, 2, 2]


def test_zero_weights_nan_and_peaks(backend):
    logw = torch.randn(40)
    logw[::3] = -float("inf")
    logw[1::5] = float("nan")
    idx = _check(backend, logw, 0.5)
    assert not torch.isin(idx, torch.nonzero(~torch.isfinite(logw)).flatten()).any()
    peaked = torch.full((16,), -1e4)
    peaked[11] = 0.0
    assert _check(backend, peaked, 0.9).tolist() == [11] * 16
    _check(backend, torch.randn(30, dtype=torch.float64) * 40, 0.1)
    _check(backend, torch.randn(30).half(), 0.2)


def test_same_generator_state_same_ancestors_as_reference(backend):
    logw = torch.randn(300, device=backend.device)
    got = systematic_resample(logw, generator=torch.Generator(backend.device).manual_seed(5),
                              backend=backend)
    want = systematic_resample(logw, generator=torch.Generator(backend.device).manual_seed(5),
                               backend="reference")
    assert int((got != want).sum()) <= RESAMPLE_MAX_MOVED[backend]


def test_opcheck_schema_and_fake(compiled_backend):
    dev = compiled_backend.device
    args = (torch.randn(50, device=dev), torch.tensor([0.3], dtype=torch.float64, device=dev))
    torch.library.opcheck(compiled_backend.op("systematic_resample").default, args,
                          test_utils=("test_schema", "test_faketensor"))


def test_torch_compile_fullgraph(compiled_backend):
    name = str(compiled_backend)
    logw = torch.randn(50, device=compiled_backend.device)

    def resample(logw):
        # the default generator: a Generator object cannot be a graph input
        return systematic_resample(logw, backend=name)

    compiled = torch.compile(resample, fullgraph=True, backend="aot_eager")
    torch.manual_seed(4)
    got = compiled(logw)
    torch.manual_seed(4)
    assert torch.equal(got, resample(logw))


def test_effective_sample_size_closed_forms():
    assert effective_sample_size(torch.zeros(10)).item() == pytest.approx(10.0)
    one_hot = torch.full((6,), -float("inf"))
    one_hot[2] = 0.0
    assert effective_sample_size(one_hot).item() == pytest.approx(1.0)
    # weights 1 and 3: (1+3)^2 / (1+9) = 1.6; shift invariance
    lw = torch.log(torch.tensor([1.0, 3.0])) + 100.0
    assert effective_sample_size(lw).item() == pytest.approx(1.6)
    assert effective_sample_size(lw).dtype == torch.float32
