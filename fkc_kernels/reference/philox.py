"""The noise contract: counter-based Philox-4x32-10 normals, in pure PyTorch.

This module *is* the contract of docs/design.md, "The noise contract". Every backend (Triton,
C++ CPU, CUDA) reproduces ``philox_normal`` bit for bit in its integer part and up to the last
bits of ``log``/``sqrt``/``cos``/``sin`` in its float part.

Construction, for a call with seed ``S`` (uint64) and offset ``O`` (uint64) and flat element
``e`` of the particle block (row-major ``(N, D)``, so ``e = n * D + d``):

1. ``group = e // 4`` and ``lane = e % 4``: one Philox call serves four consecutive elements.
2. Key ``(k0, k1) = (S & 0xFFFFFFFF, S >> 32)``; counter
   ``(c0, c1, c2, c3) = (group & 0xFFFFFFFF, group >> 32, O & 0xFFFFFFFF, O >> 32)``.
   With ``O = 0`` this is exactly Triton's ``tl.randint4x(S, group)``.
3. Ten Philox rounds (Salmon et al. 2011), multipliers ``M0 = 0xD2511F53``, ``M1 = 0xCD9E8D57``,
   key bumps ``0x9E3779B9``, ``0xBB67AE85``. One round maps ``(c0, c1, c2, c3)`` to
   ``(hi(M1*c2) ^ c1 ^ k0, lo(M1*c2), hi(M0*c0) ^ c3 ^ k1, lo(M0*c0))``, then bumps the key.
   The output is four uint32 words ``x0..x3``.
4. uint32 to float32 in the open interval (0, 1), exactly representable:
   ``u = float32((x >> 8) | 1) * 2**-24`` (odd multiples of 2**-24; never 0, never 1).
5. Box-Muller on the pairs ``(u0, u1)`` and ``(u2, u3)``, in float32:
   ``r = sqrt(-2 * log(u0))``, ``theta = 6.2831855f * u1``;
   ``z0 = r * cos(theta)``, ``z1 = r * sin(theta)``; likewise ``z2, z3`` from ``(u2, u3)``.
6. Element ``e`` gets ``z[lane]``.

The integer arithmetic here uses int64 tensors and 16-bit limbs so that no intermediate
overflows: the function runs on any device and dtype-promotes nothing, so it is exact.
"""

from __future__ import annotations

from numbers import Integral

import torch

PHILOX_M0 = 0xD2511F53
PHILOX_M1 = 0xCD9E8D57
PHILOX_W0 = 0x9E3779B9
PHILOX_W1 = 0xBB67AE85
PHILOX_ROUNDS = 10
TWO_PI_F32 = 6.2831855  # float32(2*pi), the constant every backend multiplies by
UNIT_F32 = 2.0**-24
_MASK32 = 0xFFFFFFFF

SeedLike = int | torch.Tensor


def _mulhilo32(m: int, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(hi, lo) 32-bit halves of ``m * b`` for a uint32 constant m and uint32 values b (int64)."""
    m_lo, m_hi = m & 0xFFFF, m >> 16
    t = m_lo * b  # < 2**48
    u = m_hi * b  # < 2**48; product = u * 2**16 + t
    mid = t + ((u & 0xFFFF) << 16)  # < 2**49
    lo = mid & _MASK32
    hi = (u >> 16) + (mid >> 32)
    return hi & _MASK32, lo


def philox4x32(
    c0: torch.Tensor, c1: torch.Tensor, c2: torch.Tensor, c3: torch.Tensor,
    k0: torch.Tensor, k1: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Philox-4x32-10 on int64 tensors holding uint32 values (broadcastable)."""
    for _ in range(PHILOX_ROUNDS):
        hi0, lo0 = _mulhilo32(PHILOX_M0, c0)
        hi1, lo1 = _mulhilo32(PHILOX_M1, c2)
        c0, c1, c2, c3 = hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0
        k0 = (k0 + PHILOX_W0) & _MASK32
        k1 = (k1 + PHILOX_W1) & _MASK32
    return c0, c1, c2, c3


def uint32_to_unit_float(x: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Map uint32 words (held in int64) to floats in (0, 1): ``((x >> 8) | 1) * 2**-24``."""
    return ((x >> 8) | 1).to(dtype) * UNIT_F32


def _as_u64_halves(v: SeedLike, device: torch.device,
                   name: str = "seed") -> tuple[torch.Tensor, torch.Tensor]:
    """Split an int (or int64 scalar tensor) into its low and high uint32 halves (as int64).

    Anything else (a float such as 1.7, a bool, a float tensor) raises ``TypeError`` naming
    ``name``: truncating it would silently give another seed's stream.
    """
    if isinstance(v, torch.Tensor):
        if v.numel() != 1 or v.dtype.is_floating_point or v.dtype.is_complex \
                or v.dtype == torch.bool:
            raise TypeError(f"{name}: expected an int or a one-element integer tensor, got a "
                            f"tensor of shape {tuple(v.shape)} and dtype {v.dtype}")
        v = v.to(device=device, dtype=torch.int64).reshape(())
        return v & _MASK32, (v >> 32) & _MASK32
    if isinstance(v, bool) or not isinstance(v, Integral):
        raise TypeError(f"{name}: expected an int or a one-element integer tensor, got "
                        f"{type(v).__name__} {v!r}")
    v = int(v) & 0xFFFFFFFFFFFFFFFF
    return (
        torch.tensor(v & _MASK32, dtype=torch.int64, device=device),
        torch.tensor(v >> 32, dtype=torch.int64, device=device),
    )


def philox_normal(
    seed: SeedLike,
    offset: SeedLike,
    numel: int,
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
    start: int = 0,
) -> torch.Tensor:
    """Standard normals ``normal(seed, offset, e)`` for flat elements ``start <= e < start+numel``.

    Args:
        seed: uint64 Philox key, a Python int or an int64 scalar tensor (bits reinterpreted).
        offset: uint64 stream offset (the upper half of the counter), int or int64 scalar tensor.
        numel: number of normals; reshape the result to ``(N, *S)`` for a particle block.
        device: where to compute; defaults to the seed tensor's device, else CPU.
        dtype: ``torch.float32`` (what kernels reproduce) or ``torch.float64`` (same integers,
            Box-Muller in double precision: an independent check of the float32 rounding).
        start: first flat element (for a slice of a larger block).

    Returns:
        Tensor of shape ``(numel,)`` and dtype ``dtype``.
    """
    if isinstance(numel, bool) or not isinstance(numel, int) or numel < 0:
        raise ValueError(f"philox_normal: numel must be a non-negative int, got {numel!r}")
    if dtype not in (torch.float32, torch.float64):
        raise TypeError(f"philox_normal: dtype must be torch.float32 or torch.float64, got {dtype}")
    if device is None:
        device = seed.device if isinstance(seed, torch.Tensor) else torch.device("cpu")
    device = torch.device(device)
    k0, k1 = _as_u64_halves(seed, device)
    o_lo, o_hi = _as_u64_halves(offset, device, "offset")
    if numel == 0:
        return torch.empty(0, dtype=dtype, device=device)
    first, last = start // 4, (start + numel - 1) // 4
    group = torch.arange(first, last + 1, dtype=torch.int64, device=device)
    x0, x1, x2, x3 = philox4x32(group & _MASK32, group >> 32, o_lo.expand_as(group),
                                o_hi.expand_as(group), k0, k1)
    u0, u1, u2, u3 = (uint32_to_unit_float(x, dtype) for x in (x0, x1, x2, x3))
    two_pi = torch.tensor(TWO_PI_F32, dtype=torch.float32).to(dtype).item()
    r01 = torch.sqrt(-2.0 * torch.log(u0))
    r23 = torch.sqrt(-2.0 * torch.log(u2))
    th01 = u1 * two_pi
    th23 = u3 * two_pi
    z = torch.stack([r01 * torch.cos(th01), r01 * torch.sin(th01),
                     r23 * torch.cos(th23), r23 * torch.sin(th23)], dim=1).reshape(-1)
    lo = start - first * 4
    return z[lo:lo + numel]


def philox_random_keys(
    seed: SeedLike, offset: SeedLike, n: int, *, device: torch.device | str | None = None,
    start: int = 0,
) -> torch.Tensor:
    """Per-particle random sort keys for the random part of selection.

    Particle ``i`` gets Philox words ``(x0, x1, ...)`` for counter ``(i lo, i hi, O lo, O hi)``
    under key ``S`` and the int64 key in [0, 2**62) ``((x0 >> 2) << 32) | x1``. Integers, so
    every backend agrees exactly.

    Args:
        start: first particle index (a shard of a larger block: particles ``start .. start+n-1``).

    Returns:
        int64 tensor ``(n,)``.
    """
    if device is None:
        device = seed.device if isinstance(seed, torch.Tensor) else torch.device("cpu")
    device = torch.device(device)
    k0, k1 = _as_u64_halves(seed, device)
    o_lo, o_hi = _as_u64_halves(offset, device, "offset")
    i = torch.arange(start, start + n, dtype=torch.int64, device=device)
    x0, x1, _, _ = philox4x32(i & _MASK32, i >> 32, o_lo.expand_as(i), o_hi.expand_as(i), k0, k1)
    return ((x0 >> 2) << 32) | x1


_SEED_BOUND = 1 << 62


def draw_philox_seeds(generator: torch.Generator | None, device: torch.device,
                      n_steps: int | None = None) -> torch.Tensor:
    """Draw ``[S, O]`` as an int64 ``(2,)`` tensor on ``device``, each uniform in ``[0, 2**62)``.

    This is how a call turns a ``torch.Generator`` into the contract's ``(S, O)``: one
    ``torch.randint`` on the generator (the device's default one when ``None``). It consumes
    generator state, so consecutive calls get fresh noise, equal generator states give equal
    ``(S, O)`` and so equal noise on every backend, and ``torch.manual_seed`` makes runs
    reproducible. On a CUDA generator the draw advances its Philox offset and is graph-safe: under
    CUDA graph capture each replay draws anew. The values stay on the device (no host sync);
    kernels read them through a pointer.

    With ``n_steps=K`` one ``randint`` draws the pairs of K steps at once: an int64 ``(K, 2)``
    tensor whose row ``k`` is step k's ``[S, O]`` (pass it as ``fkc_step(..., seeds=row)``: a
    view, so a K-step loop launches no seed kernel per step).
    """
    device = torch.device(device)
    shape = (2,) if n_steps is None else (n_steps, 2)
    if generator is None:
        return torch.randint(0, _SEED_BOUND, shape, device=device, dtype=torch.int64)
    seeds = torch.randint(0, _SEED_BOUND, shape, device=generator.device, dtype=torch.int64,
                          generator=generator)
    return seeds.to(device, non_blocking=True)


def draw_uniform(generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
    """One float64 uniform in ``[0, 1)`` as a ``(1,)`` tensor on ``device`` (for resampling)."""
    device = torch.device(device)
    if generator is None:
        return torch.rand(1, device=device, dtype=torch.float64)
    u = torch.rand(1, device=generator.device, dtype=torch.float64, generator=generator)
    return u.to(device, non_blocking=True)
