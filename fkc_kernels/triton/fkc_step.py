"""Fused FKC step in Triton: drift, Euler-Maruyama noise and the clipped weight increment.

One pass over the ``(N, D)`` particle rows: each program owns ``BLOCK_N`` rows, walks D in
``BLOCK_D`` tiles, writes ``x'`` tile by tile and keeps the two row reductions (``<∇r, f>`` and
``<∇r, s>`` for the FKC increment, ``‖∇r‖²`` and ``<∇r, ξ>`` for the ratio: a constexpr switch,
so each increment compiles its own kernel) in float32 registers, then updates ``w``. For few
rows and long rows (too few programs to fill a GPU) D is split across programs that write partial
sums, and a tiny kernel finishes ``w``. Math mirrors :func:`fkc_kernels.reference.fkc_step`
operation for operation.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from ..ops._step_args import StepScalars, StepTensors, step_coefs
from ._host import cdiv, next_power_of_2
from ._philox import load_seeds, normals_interleaved, normals_per_element

# elements per program and D-iteration, over 4 warps: 8 a thread. sm_90 ptxas (triton 3.8, no
# GPU; bench/kernel_resources.py): 4096 over 8 warps took 191-192 registers a thread (one block
# an SM, loads issued after the Philox math), 1024 over 4 warps takes 56 (rows of 1024) to 80
# (rows of 64), no spills
_TILE = 1024
_MAX_BLOCK_D = 1024
_PROGRAMS_TARGET = 1024  # on CUDA, split D when there are fewer row blocks than this


@triton.jit
def _clip(v, lo, hi):
    # where-based so NaN passes through (tl.minimum/maximum may drop NaN on GPUs)
    return tl.where(v < lo, lo, tl.where(v > hi, hi, v))


@triton.jit
def new_w(w, r, extra, gf, gs, h, lam, dlam, half_g2_lam, ratio_gg, ratio_gz, dw_clip, w_min,
          w_max, HAS_EXTRA: tl.constexpr, RATIO: tl.constexpr):
    """w' of rows from their weight, reward, extra_dw and two sums: <∇r, f> and <∇r, s> (FKC)
    or ‖∇r‖² and <∇r, ξ> (RATIO); ``extra`` is read only when HAS_EXTRA."""
    if RATIO:
        dw = -(ratio_gg * gf + ratio_gz * gs)
    else:
        dw = h * (dlam * r - lam * gf + half_g2_lam * gs)
    if HAS_EXTRA:
        dw = dw + extra
    return _clip(w + _clip(dw, -dw_clip, dw_clip), w_min, w_max)


@triton.jit
def store_new_w(w_ptr, e_ptr, wo_ptr, rows, row_ok, r, gf, gs, h, lam, dlam, half_g2_lam,
                ratio_gg, ratio_gz, dw_clip, w_min, w_max, HAS_EXTRA: tl.constexpr,
                RATIO: tl.constexpr):
    """Load the rows' w (and extra_dw), store w' (:func:`new_w`) given their reward ``r``."""
    w = tl.load(w_ptr + rows, mask=row_ok, other=0.0).to(tl.float32)
    extra = w  # unread without HAS_EXTRA
    if HAS_EXTRA:
        extra = tl.load(e_ptr + rows, mask=row_ok, other=0.0)
    w_new = new_w(w, r, extra, gf, gs, h, lam, dlam, half_g2_lam, ratio_gg, ratio_gz, dw_clip,
                  w_min, w_max, HAS_EXTRA, RATIO)
    tl.store(wo_ptr + rows, w_new, mask=row_ok)


@triton.jit
def _update_w(w_ptr, r_ptr, e_ptr, wo_ptr, rows, row_ok, gf, gs, h, lam, dlam, half_g2_lam,
              ratio_gg, ratio_gz, dw_clip, w_min, w_max, HAS_EXTRA: tl.constexpr,
              RATIO: tl.constexpr):
    r = gf  # unread by the ratio increment
    if not RATIO:
        r = tl.load(r_ptr + rows, mask=row_ok, other=0.0).to(tl.float32)
    store_new_w(w_ptr, e_ptr, wo_ptr, rows, row_ok, r, gf, gs, h, lam, dlam, half_g2_lam,
                ratio_gg, ratio_gz, dw_clip, w_min, w_max, HAS_EXTRA, RATIO)


@triton.jit
def _load_tile(ptr, rows64, stride, cols, mask):
    """The (BLOCK_N, BLOCK_D) tile ``ptr[rows64, cols]`` of a row-strided operand, float32, 0
    where masked."""
    return tl.load(ptr + rows64[:, None] * stride + cols[None, :], mask=mask,
                   other=0.0).to(tl.float32)


@triton.jit
def _step_tile(xs, s, gr, fx, z, h, g2, half_lam, g_sqrt_h, RATIO: tl.constexpr):
    """A tile's x' and the two elementwise products the row sums add up: ∇r·f and ∇r·s (FKC)
    or ∇r·∇r and ∇r·ξ (RATIO)."""
    drift = g2 * (s + half_lam * gr) - fx
    x_new = xs + h * drift + g_sqrt_h * z
    if RATIO:
        return x_new, gr * gr, gr * z
    return x_new, gr * fx, gr * s


@triton.jit
def _store_partial_sums(part_ptr, pid_d, N, rows64, row_ok, gf, gs):
    """This program's share of the rows' two sums, (n_splits, N, 2) float32, for
    ``_finish_w_kernel``."""
    part = part_ptr + (pid_d * N + rows64) * 2
    tl.store(part, gf, mask=row_ok)
    tl.store(part + 1, gs, mask=row_ok)


@triton.jit
def _fkc_step_kernel(
    x_ptr, s_ptr, gr_ptr, f_ptr, z_ptr, r_ptr, e_ptr, w_ptr, seeds_ptr, xo_ptr, wo_ptr, part_ptr,
    N, D, stride_x, stride_s, stride_gr, stride_f, stride_z, stride_xo, d_per_program,
    h, g2, half_lam, g_sqrt_h, f_coef, dlam, lam, half_g2_lam, dw_clip, w_min, w_max, ratio_gg,
    ratio_gz, HAS_F: tl.constexpr, HAS_NOISE: tl.constexpr, HAS_EXTRA: tl.constexpr,
    NOISE_BY_GROUP: tl.constexpr, RATIO: tl.constexpr,
    SPLIT_D: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr,
    MULTI_TILE: tl.constexpr,
):
    pid_n = tl.program_id(0)
    pid_d = tl.program_id(1)
    rows = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    row_ok = rows < N
    rows64 = rows.to(tl.int64)  # N * stride can pass 2**31
    if not HAS_NOISE:
        seed, offset = load_seeds(seeds_ptr)
    # several tiles a row: products accumulate elementwise and the rows are reduced once after
    # the D loop (a reduction per tile puts a shared-memory round trip and barriers in every
    # iteration); one tile: reduced at once (the 2-D accumulators would only cost registers)
    gf = tl.zeros([BLOCK_N], dtype=tl.float32)
    gs = tl.zeros([BLOCK_N], dtype=tl.float32)
    gf2 = tl.zeros([BLOCK_N, BLOCK_D if MULTI_TILE else 1], dtype=tl.float32)
    gs2 = tl.zeros([BLOCK_N, BLOCK_D if MULTI_TILE else 1], dtype=tl.float32)
    d_start = pid_d * d_per_program
    d_end = tl.minimum(d_start + d_per_program, D)
    for d0 in range(d_start, d_end, BLOCK_D):
        cols = d0 + tl.arange(0, BLOCK_D)
        mask = row_ok[:, None] & (cols < d_end)[None, :]
        xs = _load_tile(x_ptr, rows64, stride_x, cols, mask)
        s = _load_tile(s_ptr, rows64, stride_s, cols, mask)
        gr = _load_tile(gr_ptr, rows64, stride_gr, cols, mask)
        if HAS_F:
            fx = _load_tile(f_ptr, rows64, stride_f, cols, mask)
        else:
            fx = f_coef * xs
        if HAS_NOISE:
            z = _load_tile(z_ptr, rows64, stride_z, cols, mask)
        elif NOISE_BY_GROUP:
            # D % 4 == 0 and d0 % 4 == 0: group of (n, d) is n * D/4 + d/4
            groups = rows64[:, None] * (D // 4) + (d0 // 4 + tl.arange(0, BLOCK_D // 4))[None, :]
            z = normals_interleaved(seed, offset, groups, BLOCK_N, BLOCK_D // 4)
        else:
            z = normals_per_element(seed, offset, rows64[:, None] * D + cols[None, :])
        x_new, pa, pb = _step_tile(xs, s, gr, fx, z, h, g2, half_lam, g_sqrt_h, RATIO)
        tl.store(xo_ptr + rows64[:, None] * stride_xo + cols[None, :],
                 x_new.to(xo_ptr.dtype.element_ty), mask=mask)
        if MULTI_TILE:
            gf2 += pa
            gs2 += pb
        else:
            gf += tl.sum(pa, axis=1)
            gs += tl.sum(pb, axis=1)
    if MULTI_TILE:
        gf = tl.sum(gf2, axis=1)
        gs = tl.sum(gs2, axis=1)
    if SPLIT_D:
        _store_partial_sums(part_ptr, pid_d, N, rows64, row_ok, gf, gs)
    else:
        _update_w(w_ptr, r_ptr, e_ptr, wo_ptr, rows, row_ok, gf, gs, h, lam, dlam, half_g2_lam,
                  ratio_gg, ratio_gz, dw_clip, w_min, w_max, HAS_EXTRA, RATIO)


@triton.jit
def _finish_w_kernel(part_ptr, r_ptr, e_ptr, w_ptr, wo_ptr, N, n_splits, h, g2, half_lam,
                     g_sqrt_h, f_coef, dlam, lam, half_g2_lam, dw_clip, w_min, w_max, ratio_gg,
                     ratio_gz, HAS_EXTRA: tl.constexpr, RATIO: tl.constexpr,
                     BLOCK: tl.constexpr):
    # the step's coefficients as the step kernel takes them (g2 .. f_coef unread here)
    rows = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    row_ok = rows < N
    rows64 = rows.to(tl.int64)
    gf = tl.zeros([BLOCK], dtype=tl.float32)
    gs = tl.zeros([BLOCK], dtype=tl.float32)
    for sp in range(0, n_splits):
        part = part_ptr + (sp * N + rows64) * 2
        gf += tl.load(part, mask=row_ok, other=0.0)
        gs += tl.load(part + 1, mask=row_ok, other=0.0)
    _update_w(w_ptr, r_ptr, e_ptr, wo_ptr, rows, row_ok, gf, gs, h, lam, dlam, half_g2_lam,
              ratio_gg, ratio_gz, dw_clip, w_min, w_max, HAS_EXTRA, RATIO)


def block_sizes(n: int, d: int) -> tuple[int, int, int]:
    """``(BLOCK_N, BLOCK_D, num_warps)`` for an ``(n, d)`` step: a heuristic keyed on D.

    BLOCK_D covers short rows whole (at least 4, so a tile holds whole Philox groups) and caps at
    1024; BLOCK_N fills a tile of _TILE elements but not past the rows there are.
    """
    block_d = max(4, min(next_power_of_2(d), _MAX_BLOCK_D))
    block_n = max(1, min(_TILE // block_d, next_power_of_2(n)))
    num_warps = 4
    return block_n, block_d, num_warps


def d_splits(n_row_blocks: int, d: int, block_d: int, device: torch.device) -> int:
    """How many programs share one row block's D (1 = no split, the single-kernel path).

    Only on CUDA, where too few programs leave SMs idle; under the CPU interpreter every extra
    program costs time and buys nothing.
    """
    d_blocks = cdiv(d, block_d)
    if device.type != "cuda" or n_row_blocks >= _PROGRAMS_TARGET or d_blocks < 4:
        return 1
    return min(d_blocks, cdiv(_PROGRAMS_TARGET, n_row_blocks))


def fkc_step(t: StepTensors, c: StepScalars, *, split: int | None = None) -> None:
    """Launch the fused step on the two bundles (``fkc_kernels.ops._step_args``); writes
    ``t.x_out`` and ``t.w_out``.

    Tensors: ``(N, D)`` rows of one of float32/float16/bfloat16 with any row stride and inner
    stride 1 (``x_out`` in x's dtype, may alias ``x``); ``w`` any float dtype, ``reward`` and
    ``extra_dw`` float32 ``(N,)``; ``w_out`` float32 ``(N,)``, may alias ``w``; ``seeds`` int64
    ``(2,)`` ``[S, O]`` on the device, read in the kernel when ``noise`` is None.
    ``split`` forces the number of D splits (tests); ``None`` = heuristic.
    """
    n, d = t.x.shape
    if n == 0:
        return
    if d == 0:  # nothing to move; w still gets its (reward-only or extra-only) increment
        x_dummy = torch.zeros((n, 1), dtype=t.x.dtype, device=t.x.device)
        fkc_step(StepTensors(x_dummy, t.w, x_dummy, x_dummy, t.reward.float(), t.extra_dw, None,
                             x_dummy, None, x_dummy.clone(), t.w_out), c)
        return
    block_n, block_d, num_warps = block_sizes(n, d)
    n_row_blocks = cdiv(n, block_n)
    n_splits = d_splits(n_row_blocks, d, block_d, t.x.device) if split is None else split
    d_blocks_per_split = cdiv(cdiv(d, block_d), max(1, n_splits))
    d_per_program = d_blocks_per_split * block_d
    n_splits = cdiv(d, d_per_program)
    part = (torch.empty((n_splits, n, 2), dtype=torch.float32, device=t.x.device)
            if n_splits > 1 else t.w_out)
    # Scalars: combined in double exactly as the reference does, then passed as Python floats
    # that Triton types as float32: the reference multiplies float32 tensors by these scalars in
    # float32, so rounding them once here reproduces its arithmetic (and fp32 math is the contract).
    coefs = step_coefs(c)
    flags = dict(HAS_EXTRA=t.extra_dw is not None, RATIO=c.increment == "ratio")
    dummy = t.x  # pointer for absent optional tensors (never read: constexpr switches)
    extra = t.reward if t.extra_dw is None else t.extra_dw
    _fkc_step_kernel[(n_row_blocks, n_splits)](
        t.x, t.score, t.reward_grad, dummy if t.f is None else t.f,
        dummy if t.noise is None else t.noise, t.reward, extra, t.w,
        dummy if t.seeds is None else t.seeds, t.x_out, t.w_out, part,
        n, d, t.x.stride(0), t.score.stride(0), t.reward_grad.stride(0),
        0 if t.f is None else t.f.stride(0), 0 if t.noise is None else t.noise.stride(0),
        t.x_out.stride(0), d_per_program, *coefs,
        HAS_F=t.f is not None, HAS_NOISE=t.noise is not None, NOISE_BY_GROUP=d % 4 == 0,
        SPLIT_D=n_splits > 1, BLOCK_N=block_n, BLOCK_D=block_d,
        MULTI_TILE=d_per_program > block_d, num_warps=num_warps, **flags,
    )
    if n_splits > 1:
        block = min(1024, next_power_of_2(n))
        _finish_w_kernel[(cdiv(n, block),)](
            part, t.reward, extra, t.w, t.w_out, n, n_splits, *coefs, BLOCK=block, **flags,
        )
