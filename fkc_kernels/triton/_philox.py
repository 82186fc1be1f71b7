"""Triton device functions for the noise contract (``fkc_kernels/reference/philox.py``).

``normal(S, O, e)``: Philox-4x32-10 with key ``S`` and counter ``(e//4 lo, e//4 hi, O lo, O hi)``,
words to ``((x >> 8) | 1) * 2**-24``, Box-Muller on ``(u0, u1)`` and ``(u2, u3)``, lane ``e % 4``.
``tl.philox`` with uint32 counters is exactly the contract's round function and key schedule.
``log`` and ``sin``/``cos`` are csrc/core/fastmath.h's polynomials with the same explicit fmas (one
range reduction serves sin and cos), so compiled on a GPU these kernels draw the C++ backends'
bits. (The interpreter evaluates ``tl.fma`` as a multiply and an add: within an ulp there.)
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
def log_pos(x):
    """Natural log of float32 ``x > 0`` (normal): fastmath.h's log_pos, operation for operation."""
    bits = x.to(tl.uint32, bitcast=True)
    # x = m * 2**e with m in [0.5, 1)
    e = (((bits >> 23) & 0xFF).to(tl.int32) - 126).to(tl.float32)
    m = ((bits & 0x807FFFFF) | 0x3F000000).to(tl.float32, bitcast=True)
    small = m < 0.707106781186547524
    e = tl.where(small, e - 1.0, e)
    f = tl.where(small, (m + m) - 1.0, m - 1.0)
    z = f * f
    p = tl.fma(f, 7.0376836292e-2, -1.1514610310e-1)
    p = tl.fma(p, f, 1.1676998740e-1)
    p = tl.fma(p, f, -1.2420140846e-1)
    p = tl.fma(p, f, 1.4249322787e-1)
    p = tl.fma(p, f, -1.6668057665e-1)
    p = tl.fma(p, f, 2.0000714765e-1)
    p = tl.fma(p, f, -2.4999993993e-1)
    p = tl.fma(p, f, 3.3333331174e-1)
    y = (f * z) * p
    y = tl.fma(e, -2.12194440e-4, y)
    y = tl.fma(z, -0.5, y)
    return tl.fma(e, 0.693359375, f + y)


@triton.jit
def sincos_small(theta):
    """``(sin, cos)`` of float32 ``0 <= theta <= 8``: fastmath.h's sincos_small (one reduction)."""
    ji = tl.fma(theta, 0.636619772367581343, 0.5).to(tl.int32)  # truncation, theta >= 0
    j = ji.to(tl.float32)
    y = tl.fma(j, -1.5703125, theta)
    y = tl.fma(j, -4.837512969970703125e-4, y)
    y = tl.fma(j, -7.54978995489188216e-8, y)
    z = y * y
    ps = tl.fma(z, -1.9515295891e-4, 8.3321608736e-3)
    ps = tl.fma(ps, z, -1.6666654611e-1)
    sy = tl.fma(y * z, ps, y)
    pc = tl.fma(z, 2.443315711809948e-5, -1.388731625493765e-3)
    pc = tl.fma(pc, z, 4.166664568298827e-2)
    cy = tl.fma(z * z, pc, tl.fma(z, -0.5, 1.0))
    # rotate (sin y, cos y) by q = j mod 4 quarter turns
    odd = (ji & 1) != 0
    s_sel = tl.where(odd, cy, sy)
    c_sel = tl.where(odd, sy, cy)
    return tl.where((ji & 2) != 0, -s_sel, s_sel), tl.where(((ji + 1) & 2) != 0, -c_sel, c_sel)


@triton.jit
def normals4(s, o, group):
    """The four normals ``(z0, z1, z2, z3)`` of each counter group (Box-Muller in float32)."""
    x0, x1, x2, x3 = philox_words(s, o, group)
    r01 = tl.sqrt_rn(-2.0 * log_pos(unit_float(x0)))
    r23 = tl.sqrt_rn(-2.0 * log_pos(unit_float(x2)))
    s01, c01 = sincos_small(unit_float(x1) * TWO_PI_F32)
    s23, c23 = sincos_small(unit_float(x3) * TWO_PI_F32)
    return r01 * c01, r01 * s01, r23 * c23, r23 * s23


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
    r = tl.sqrt_rn(-2.0 * log_pos(ua))
    sn, cs = sincos_small(ub * TWO_PI_F32)
    return tl.where((lane & 1) == 0, r * cs, r * sn)


@triton.jit
def random_keys(s, o, i):
    """Keys of ``philox_random_keys``: ``((x0 >> 2) << 32) | x1``, int64 in [0, 2**62)."""
    x0, x1, _x2, _x3 = philox_words(s, o, i)
    return ((x0 >> 2).to(tl.int64) << 32) | x1.to(tl.int64)
