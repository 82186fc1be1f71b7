"""systematic_resample and effective_sample_size against closed forms."""

import math

import pytest
import torch

from fkc_kernels import effective_sample_size, reference, systematic_resample


@pytest.mark.parametrize("n", [1, 3, 10, 257])
def test_offspring_counts_floor_or_ceil(n):
    logw = torch.randn(n) * 2
    wn = torch.softmax(logw.double(), 0)
    for _ in range(20):
        idx = systematic_resample(logw)
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


def test_monte_carlo_unbiased_with_generator():
    n, trials = 5, 4000
    logw = torch.tensor([0.3, -0.2, 1.1, 0.0, -2.0])
    wn = torch.softmax(logw.double(), 0)
    g = torch.Generator().manual_seed(0)
    total = torch.zeros(n, dtype=torch.float64)
    for _ in range(trials):
        total += torch.bincount(systematic_resample(logw, generator=g), minlength=n)
    # each count lies in {floor, ceil}: variance <= 1/4, so the mean's sd <= 0.5/sqrt(trials)
    assert ((total / trials - n * wn).abs() < 6 * 0.5 / math.sqrt(trials)).all()


def test_zero_and_nan_weights_never_chosen():
    logw = torch.tensor([0.0, -float("inf"), float("nan"), 0.0, -float("inf")])
    for _ in range(50):
        idx = systematic_resample(logw)
        assert set(idx.tolist()) <= {0, 3}


def test_effective_sample_size_closed_forms():
    assert effective_sample_size(torch.zeros(10)).item() == pytest.approx(10.0)
    one_hot = torch.full((6,), -float("inf"))
    one_hot[2] = 0.0
    assert effective_sample_size(one_hot).item() == pytest.approx(1.0)
    # weights 1 and 3: (1+3)^2 / (1+9) = 1.6; shift invariance
    lw = torch.log(torch.tensor([1.0, 3.0])) + 100.0
    assert effective_sample_size(lw).item() == pytest.approx(1.6)
    assert effective_sample_size(lw).dtype == torch.float32
