"""select_particles and epsilon_greedy_split: exact top part, uniform random part."""

import math

import pytest
import torch

from fkc_kernels import epsilon_greedy_split, select_particles


def python_top(w: list[float], n_top: int) -> list[int]:
    """Independent statement: descending w, ties to the lower index, NaN below everything."""
    def key(i):
        v = w[i]
        return (0 if math.isnan(v) else 1, -math.inf if math.isnan(v) else v, -i)
    return sorted(range(len(w)), key=key, reverse=True)[:n_top]


@pytest.mark.parametrize("n,k,n_random", [(1, 1, 0), (1, 1, 1), (3, 2, 1), (37, 8, 3),
                                          (1000, 64, 20), (1000, 16, 0), (5, 5, 5), (9, 0, 0)])
def test_top_part_exact_and_parts_disjoint(n, k, n_random):
    w = torch.randn(n)
    idx = select_particles(w, k, n_random)
    assert idx.dtype == torch.int64 and idx.shape == (k,)
    assert idx.tolist()[: k - n_random] == python_top(w.tolist(), k - n_random)
    assert len(set(idx.tolist())) == k, "indices must be distinct"
    assert ((idx >= 0) & (idx < n)).all()


def test_ties_nan_and_infinities():
    nan, inf = float("nan"), float("inf")
    w = torch.tensor([1.0, nan, 3.0, 3.0, -inf, inf, 1.0, nan, -2.0, 3.0])
    idx = select_particles(w, 10, 0)
    assert idx.tolist() == [5, 2, 3, 9, 0, 6, 8, 4, 1, 7]
    assert idx.tolist() == python_top(w.tolist(), 10)
    # all-NaN weights still give k distinct indices, lowest index first
    assert select_particles(torch.full((4,), nan), 3, 0).tolist() == [0, 1, 2]


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_low_precision_weights(dtype):
    w = torch.randn(50).to(dtype)
    idx = select_particles(w, 7, 2)
    assert idx.tolist()[:5] == python_top(w.double().tolist(), 5)


def test_random_part_is_uniform_chi_square():
    # N = 12, top 3 fixed, 4 random from the 9 others: each of the 9 appears with p = 4/9
    n, k, n_random, trials = 12, 7, 4, 2000
    w = torch.arange(n, dtype=torch.float32)
    top = set(range(n - 1, n - 1 - (k - n_random), -1))
    gen = torch.Generator().manual_seed(1234)
    counts = torch.zeros(n)
    first = torch.zeros(n)  # position-0 of the random part: uniform over the 9 with p = 1/9
    for _ in range(trials):
        idx = select_particles(w, k, n_random, generator=gen)
        assert set(idx[: k - n_random].tolist()) == top
        rnd = idx[k - n_random:]
        assert not (set(rnd.tolist()) & top)
        counts[rnd] += 1
        first[rnd[0]] += 1
    rest = [i for i in range(n) if i not in top]
    exp = trials * n_random / len(rest)
    chi2 = (((counts[rest] - exp) ** 2) / exp).sum().item()
    exp1 = trials / len(rest)
    chi2_first = (((first[rest] - exp1) ** 2) / exp1).sum().item()
    # 8 degrees of freedom: P(chi2 > 45) ~ 4e-7, the false-failure rate of each check
    assert chi2 < 45, chi2
    assert chi2_first < 45, chi2_first


def test_generator_reproducible_and_fresh():
    w = torch.randn(100)
    g = torch.Generator().manual_seed(3)
    a = select_particles(w, 20, 15, generator=g)
    b = select_particles(w, 20, 15, generator=g)
    assert not torch.equal(a, b)
    g2 = torch.Generator().manual_seed(3)
    assert torch.equal(a, select_particles(w, 20, 15, generator=g2))


@pytest.mark.parametrize("step,total,k,expected", [
    (0, 8, 16, (4, 12)), (8, 8, 16, (15, 1)), (4, 8, 16, (9, 7)), (1, 8, 10, (3, 7)),
    (0, 1, 0, (0, 0)), (3, 7, 16, (8, 8)),
])
def test_epsilon_greedy_split(step, total, k, expected):
    # eps = 0.8 - 0.7*step/total, n_random = floor(eps*k)
    assert epsilon_greedy_split(step, total, k) == expected
    eps = 0.8 - 0.7 * step / total
    assert expected[1] == math.floor(eps * k + 1e-9)


def test_epsilon_greedy_custom_schedule():
    assert epsilon_greedy_split(0, 4, 10, eps_start=1.0, eps_end=1.0) == (0, 10)
    assert epsilon_greedy_split(2, 4, 10, eps_start=0.0, eps_end=0.0) == (10, 0)
