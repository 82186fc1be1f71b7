"""The noise contract (docs/design.md, "The noise contract"): Philox-4x32-10 + Box-Muller, the
reference implementation."""

import math

import pytest
import torch

from fkc_kernels import philox_normal
from fkc_kernels.ops import draw_philox_seeds, fkc_step
from fkc_kernels.reference.philox import philox4x32, philox_random_keys, uint32_to_unit_float

# Known-answer vectors of Philox-4x32-10 published with Random123 (kat_vectors):
# (counter, key) -> output words
PHILOX_KAT = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]


@pytest.mark.parametrize("ctr,key,expected", PHILOX_KAT)
def test_philox_known_answers(ctr, key, expected):
    t = [torch.tensor([v], dtype=torch.int64) for v in (*ctr, *key)]
    out = philox4x32(*t)
    assert tuple(int(o.item()) for o in out) == expected


def _python_normal(seed: int, offset: int, e: int) -> float:
    """Independent scalar statement of the contract in plain Python integers and floats."""
    m0, m1, w0, w1 = 0xD2511F53, 0xCD9E8D57, 0x9E3779B9, 0xBB67AE85
    mask = 0xFFFFFFFF
    g = e // 4
    c = [g & mask, g >> 32, offset & mask, offset >> 32]
    k = [seed & mask, seed >> 32]
    for _ in range(10):
        p0, p1 = m0 * c[0], m1 * c[2]
        c = [(p1 >> 32) ^ c[1] ^ k[0], p1 & mask, (p0 >> 32) ^ c[3] ^ k[1], p0 & mask]
        k = [(k[0] + w0) & mask, (k[1] + w1) & mask]
    u = [((x >> 8) | 1) * 2.0**-24 for x in c]
    pair = (e % 4) // 2
    r = math.sqrt(-2.0 * math.log(u[2 * pair]))
    th = 2 * math.pi * u[2 * pair + 1]
    return r * (math.cos(th) if e % 2 == 0 else math.sin(th))


def test_matches_independent_scalar_statement():
    seed, offset = (1 << 61) + 12345, 987654321987
    z = philox_normal(seed, offset, 37, dtype=torch.float64)
    expected = torch.tensor([_python_normal(seed, offset, e) for e in range(37)],
                            dtype=torch.float64)
    # float64 Box-Muller with the float32 constant 2*pi: agrees to ~1e-7 relative
    torch.testing.assert_close(z, expected, rtol=1e-6, atol=1e-6)
    z32 = philox_normal(seed, offset, 37)
    torch.testing.assert_close(z32.double(), expected, rtol=1e-5, atol=1e-5)


def test_unit_float_open_interval_and_exact():
    x = torch.tensor([0, 255, 256, 0xFFFFFFFF, 0x80000000], dtype=torch.int64)
    u = uint32_to_unit_float(x)
    assert u.dtype == torch.float32
    assert (u > 0).all() and (u < 1).all()
    assert u[0].item() == 2.0**-24 and u[3].item() == 1 - 2.0**-24


def test_deterministic_and_sensitive_to_seed_and_offset():
    a = philox_normal(7, 0, 1001)
    assert torch.equal(a, philox_normal(7, 0, 1001))
    assert not torch.equal(a, philox_normal(8, 0, 1001))
    assert not torch.equal(a, philox_normal(7, 1, 1001))
    # seeds as tensors (the device-side form kernels receive) give the same numbers
    assert torch.equal(a, philox_normal(torch.tensor(7), torch.tensor(0), 1001))


@pytest.mark.parametrize("start,numel", [(0, 1), (1, 5), (3, 9), (6, 123)])
def test_slices_are_consistent(start, numel):
    full = philox_normal(123, 456, start + numel + 3)
    part = philox_normal(123, 456, numel, start=start)
    assert torch.equal(part, full[start:start + numel])


def test_moments_and_lag_correlation():
    n = 1 << 20
    z = philox_normal(2024, 11, n, dtype=torch.float64)
    se = 1.0 / math.sqrt(n)
    # 6 standard errors: a false failure about once in 5e8 runs per check
    assert abs(z.mean().item()) < 6 * se
    assert abs(z.var().item() - 1.0) < 6 * math.sqrt(2.0) * se
    for lag in (1, 2, 3, 4, 5, 8):
        corr = (z[:-lag] * z[lag:]).mean().item()
        assert abs(corr) < 6 * se, f"lag {lag} correlation {corr}"
    # tails: P(|z| > 3) = 0.0027
    tail = (z.abs() > 3).double().mean().item()
    assert abs(tail - 0.0026998) < 6 * math.sqrt(0.0027 / n)


def test_normal_quantiles_chi_square():
    n = 200_000
    z = philox_normal(99, 3, n, dtype=torch.float64)
    edges = torch.tensor([-math.inf, -2, -1.5, -1, -0.5, 0, 0.5, 1, 1.5, 2, math.inf],
                         dtype=torch.float64)
    cdf = 0.5 * (1 + torch.erf(edges / math.sqrt(2)))
    expected = n * (cdf[1:] - cdf[:-1])
    counts = torch.histogram(z.clamp(-50, 50), bins=torch.tensor(
        [-60.0, -2, -1.5, -1, -0.5, 0, 0.5, 1, 1.5, 2, 60.0], dtype=torch.float64)).hist
    chi2 = ((counts - expected) ** 2 / expected).sum().item()
    # 9 degrees of freedom: P(chi2 > 40) ~ 7e-6
    assert chi2 < 40, chi2


def test_random_keys_range_and_distinct():
    keys = philox_random_keys(5, 6, 10000)
    assert keys.dtype == torch.int64
    assert (keys >= 0).all() and (keys < (1 << 62)).all()
    assert keys.unique().numel() == 10000


def test_generator_draws_fresh_reproducible_noise():
    x = torch.zeros(4, 9)
    zeros = torch.zeros(4)
    kw = dict(h=1.0, g=1.0, lam=0.0, dlam=0.0, dw_clip=None, w_clip=None, backend="reference")
    gen = torch.Generator().manual_seed(0)
    a, _ = fkc_step(x, zeros, x, x, zeros, generator=gen, **kw)
    b, _ = fkc_step(x, zeros, x, x, zeros, generator=gen, **kw)
    assert not torch.equal(a, b), "one generator must give fresh noise on each call"
    # equal generator state -> equal noise, and the noise is philox_normal(S, O)
    gen2 = torch.Generator().manual_seed(0)
    state = gen2.get_state()
    seeds = draw_philox_seeds(gen2, x.device)
    gen2.set_state(state)
    a2, _ = fkc_step(x, zeros, x, x, zeros, generator=gen2, **kw)
    assert torch.equal(a, a2)
    assert torch.equal(a, philox_normal(seeds[0], seeds[1], 36).view(4, 9))
    # the global generator: torch.manual_seed makes runs reproducible
    torch.manual_seed(5)
    c, _ = fkc_step(x, zeros, x, x, zeros, **kw)
    torch.manual_seed(5)
    d, _ = fkc_step(x, zeros, x, x, zeros, **kw)
    assert torch.equal(c, d)
