"""Triton device functions for the noise contract (``fkc_kernels/reference/philox.py``).

``normal(S, O, e)``: Philox-4x32-10 with key ``S`` and counter ``(e//4 lo, e//4 hi, O lo, O hi)``,
words to ``((x >> 8) | 1) * 2**-24``, Box-Muller on ``(u0, u1)`` and ``(u2, u3)``, lane ``e % 4``.
``tl.philox`` with uint32 counters is exactly the contract's round function and key schedule.
"""

from __future__ import annotations

import triton
import triton.language as tl

# 2**-24: uint32 >> 8 has 24 bits, so ((x >> 8) | 1) * 2**-24 is exact in float32 and in (0, 1)
UNIT_F32 = tl.constexpr(5.9604644775390625e-08)
TWO_PI_F32 = tl.constexpr(6.2831855)  # float32(2*pi), the contract's constant


@triton.jit
def load_seeds(seeds_ptr):
    """``(S, O)`` from the int64 ``(2,)`` device tensor: a load, so no host sync (graph-safe)."""
    s = tl.load(seeds_ptr)
    o = tl.load(seeds_ptr + 1)
    return s, o


@triton.jit
def philox_words(s, o, group):
    """Four uint32 Philox words for int64 counter groups ``group`` (any shape) under (S, O)."""
    c0 = (group & 0xFFFFFFFF).to(tl.uint32)
    c1 = (group >> 32).to(tl.uint32)
    zero = tl.zeros_like(c0)
    c2 = zero + (o & 0xFFFFFFFF).to(tl.uint32)
    c3 = zero + (o >> 32).to(tl.uint32)
    return tl.philox(s, c0, c1, c2, c3)


@triton.jit
def unit_float(x):
    """uint32 -> float32 in (0, 1): odd multiples of 2**-24, never 0 or 1."""
    return ((x >> 8) | 1).to(tl.float32) * UNIT_F32


@triton.jit
def normals4(s, o, group):
    """The four normals ``(z0, z1, z2, z3)`` of each counter group (Box-Muller in float32)."""
    x0, x1, x2, x3 = philox_words(s, o, group)
    r01 = tl.sqrt_rn(-2.0 * tl.log(unit_float(x0)))
    r23 = tl.sqrt_rn(-2.0 * tl.log(unit_float(x2)))
    th01 = TWO_PI_F32 * unit_float(x1)
    th23 = TWO_PI_F32 * unit_float(x3)
    return r01 * tl.cos(th01), r01 * tl.sin(th01), r23 * tl.cos(th23), r23 * tl.sin(th23)


@triton.jit
def normals_interleaved(s, o, group, BLOCK_N: tl.constexpr, BLOCK_G: tl.constexpr):
    """Normals for a ``(BLOCK_N, BLOCK_G)`` tile of groups as ``(BLOCK_N, 4 * BLOCK_G)`` elements.

    One Philox call per four elements (the fast path, for rows whose length is a multiple of 4):
    joining ``(z0, z2)`` and ``(z1, z3)`` and then the pairs puts the lanes in order 0, 1, 2, 3.
    """
    z0, z1, z2, z3 = normals4(s, o, group)
    z = tl.join(tl.join(z0, z2), tl.join(z1, z3))
    return tl.reshape(z, [BLOCK_N, 4 * BLOCK_G])


@triton.jit
def normals_per_element(s, o, e):
    """Normal for each int64 flat element index ``e`` (any shape): one Philox call per element.

    Only the pair that holds lane ``e % 4`` goes through Box-Muller.
    """
    x0, x1, x2, x3 = philox_words(s, o, e >> 2)
    lane = (e & 3).to(tl.int32)
    low_pair = lane < 2
    ua = unit_float(tl.where(low_pair, x0, x2))
    ub = unit_float(tl.where(low_pair, x1, x3))
    r = tl.sqrt_rn(-2.0 * tl.log(ua))
    th = TWO_PI_F32 * ub
    return tl.where((lane & 1) == 0, r * tl.cos(th), r * tl.sin(th))


@triton.jit
def random_keys(s, o, i):
    """Keys of ``philox_random_keys``: ``((x0 >> 2) << 32) | x1``, int64 in [0, 2**62)."""
    x0, x1, _x2, _x3 = philox_words(s, o, i)
    return ((x0 >> 2).to(tl.int64) << 32) | x1.to(tl.int64)
