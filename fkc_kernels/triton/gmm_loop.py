"""The K-step mixture loop in Triton: one launch for all K steps, after one that makes their
component tables (docs/design.md, "The mixture loop in one kernel").

Rows do not meet within a loop without resampling: a row's next step needs only its own x and
w. So each program loads its ``BLOCK_N`` rows once, runs all K steps on them in registers (the
mixture step's own device functions, :mod:`fkc_kernels.triton.gmm_step`, with step i's
coefficients and seeds read from row i of two device tables) and stores x and w once. Each step
rounds x to its dtype as a store would, so the loop has the bits of K launches of the step.

What a step's components need that does not depend on the row (the diffused centres, ``1/V``
and ``log V``, one division and one log an element) is made once for all K steps by a small
kernel before the loop (:func:`_gmm_tables_kernel`, with the step's own
:func:`~fkc_kernels.triton.gmm_step.component`), instead of once a step in every program.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from ..ops._gmm_args import KERNEL_SCALARS, GmmTensors
from . import gmm_step
from ._host import cdiv
from .fkc_step import new_w
from .gmm_step import FP_FUSION, component, move, score_and_reward, step_noise, tile

N_COEFS = len(KERNEL_SCALARS)
# floats of component tables a launch pair may use (64 MiB): longer loops run in chunks of steps
# (x and w stored between them, as the steps' own loads and stores would), so memory does not
# grow with K and every offset into the tables fits an int32
TABLE_FLOATS = 1 << 24
# The loop reads its components from tables made before it (True), or computes them in every
# program each step as the one-step kernel does (False: no table launch). Read at launch;
# bench/gpu_loops.py times both on a GPU.
TABLES = True


@triton.jit
def _store_components(tab_ptr, c_ptr, v_ptr, n_comp, D, alpha, alpha2, sigma2, cols,
                      DIFFUSED: tl.constexpr):
    """``[centres; 1/V; log V]`` of the ``n_comp`` components, each ``(n_comp, D)``, at
    ``tab_ptr``."""
    col_ok = cols < D
    for j in range(0, n_comp):
        c, inv, log_v = component(c_ptr, v_ptr, j, D, alpha, alpha2, sigma2, cols, DIFFUSED)
        at = tab_ptr + j * D + cols
        tl.store(at, c, mask=col_ok)
        tl.store(at + n_comp * D, inv, mask=col_ok)
        tl.store(at + 2 * n_comp * D, log_v, mask=col_ok)


@triton.jit
def _gmm_tables_kernel(tab_ptr, coef_ptr, mu_ptr, var_ptr, rc_ptr, rv_ptr, n_mix, n_bumps, D,
                       n_steps, N_COEFS: tl.constexpr, BLOCK_D: tl.constexpr):
    """Program ``i < K``: step i's mixture table at ``tab_ptr + i·3·M·D``; program ``K``: the
    bumps' table after the K mixture tables."""
    i = tl.program_id(0)
    cols = tl.arange(0, BLOCK_D)
    if i < n_steps:
        k = coef_ptr + i * N_COEFS
        _store_components(tab_ptr + i * 3 * n_mix * D, mu_ptr, var_ptr, n_mix, D, tl.load(k),
                          tl.load(k + 1), tl.load(k + 2), cols, True)
    else:
        _store_components(tab_ptr + n_steps * 3 * n_mix * D, rc_ptr, rv_ptr, n_bumps, D, 1.0,
                          1.0, 0.0, cols, False)


@triton.jit
def _gmm_loop_kernel(
    x_ptr, w_ptr, coef_ptr, seeds_ptr, tab_ptr, mu_ptr, var_ptr, lw_ptr, rc_ptr, rv_ptr, rk_ptr,
    n_mix, n_bumps, N, D, stride_x, n_steps,
    N_COEFS: tl.constexpr, NOISE_BY_GROUP: tl.constexpr, RATIO: tl.constexpr,
    LOG_REWARD: tl.constexpr, FROM_TABLE: tl.constexpr, PAIRS: tl.constexpr,
    BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr,
):
    rows = tl.program_id(0) * BLOCK_N + tl.arange(0, BLOCK_N)
    row_ok = rows < N
    rows64 = rows.to(tl.int64)
    cols = tl.arange(0, BLOCK_D)
    mask = row_ok[:, None] & (cols < D)[None, :]
    x_at = x_ptr + rows64[:, None] * stride_x + cols[None, :]
    xs = tl.load(x_at, mask=mask, other=0.0).to(tl.float32)
    w = tl.load(w_ptr + rows, mask=row_ok, other=0.0)
    bump_tab = tab_ptr + n_steps * 3 * n_mix * D
    for i in range(0, n_steps):
        # step i's KERNEL_SCALARS, in the table's column order (with FROM_TABLE, alpha, alpha2
        # and sigma2 are in the component tables already, and unused here)
        k = coef_ptr + i * N_COEFS
        alpha, alpha2, sigma2, h = tl.load(k), tl.load(k + 1), tl.load(k + 2), tl.load(k + 3)
        g2, half_lam, g_sqrt_h = tl.load(k + 4), tl.load(k + 5), tl.load(k + 6)
        f_coef, dlam, lam = tl.load(k + 7), tl.load(k + 8), tl.load(k + 9)
        half_g2_lam, dw_clip, w_min = tl.load(k + 10), tl.load(k + 11), tl.load(k + 12)
        w_max, ratio_gg, ratio_gz = tl.load(k + 13), tl.load(k + 14), tl.load(k + 15)
        s, r, gr = score_and_reward(xs, mu_ptr, var_ptr, lw_ptr, rc_ptr, rv_ptr, rk_ptr, n_mix,
                                    n_bumps, D, alpha, alpha2, sigma2, cols,
                                    tab_ptr + i * 3 * n_mix * D, bump_tab, LOG_REWARD,
                                    FROM_TABLE, PAIRS, BLOCK_N, BLOCK_D)
        z = step_noise(seeds_ptr + 2 * i, rows64, cols, D, NOISE_BY_GROUP, BLOCK_N, BLOCK_D)
        x_new, ga, gb = move(xs, s, gr, z, mask, g2, half_lam, g_sqrt_h, f_coef, h, RATIO)
        w = new_w(w, r, w, ga, gb, h, lam, dlam, half_g2_lam, ratio_gg, ratio_gz, dw_clip, w_min,
                  w_max, False, RATIO)
        # what a store and the next step's load would make of x'; zeros outside the rows, as
        # that load's `other`
        xs = tl.where(mask, x_new.to(x_ptr.dtype.element_ty).to(tl.float32), 0.0)
    tl.store(x_at, xs.to(x_ptr.dtype.element_ty), mask=mask)
    tl.store(w_ptr + rows, w, mask=row_ok)


def gmm_loop(t: GmmTensors, coefs: torch.Tensor, seeds: torch.Tensor, *, ratio: bool,
             log_reward: bool, block_n: int | None = None, num_warps: int = 4) -> None:
    """Run K mixture steps in place: one launch for the K steps' component tables, one for the
    steps.

    ``t.x`` ``(N, D)`` contiguous (float32/float16/bfloat16, ``D <= MAX_D`` of the step) and
    ``t.w`` float32 ``(N,)`` contiguous are updated (``x_out``/``w_out`` alias them; ``noise`` and
    ``extra_dw`` are None); ``coefs`` float32 ``(K, 16)`` contiguous, row i step i's
    ``KERNEL_SCALARS``; ``seeds`` int64 ``(K, 2)`` contiguous, row i step i's ``[S, O]``.
    ``block_n``/``num_warps`` override the tile, as in :func:`gmm_step.launch`.
    """
    n, d = t.x.shape
    if n == 0:
        return
    n_steps, n_mix, n_bumps = coefs.shape[0], t.means.shape[0], t.centers.shape[0]
    block_n, block_d = tile(n, d, block_n)
    if TABLES:
        chunk = max(1, min(n_steps, (TABLE_FLOATS // (3 * d) - n_bumps) // max(1, n_mix)))
        tables = torch.empty(3 * (chunk * n_mix + n_bumps) * d, dtype=torch.float32,
                             device=t.x.device)
    else:
        chunk, tables = n_steps, t.means  # the kernel reads no table
    for first in range(0, n_steps, chunk):
        k = min(chunk, n_steps - first)
        if TABLES:
            _gmm_tables_kernel[(k + 1,)](
                tables, coefs[first:], t.means, t.variances, t.centers, t.reward_variances,
                n_mix, n_bumps, d, k, N_COEFS=N_COEFS, BLOCK_D=block_d, num_warps=1,
                enable_fp_fusion=FP_FUSION)
        _gmm_loop_kernel[(cdiv(n, block_n),)](
            t.x, t.w, coefs[first:], seeds[first:], tables, t.means, t.variances, t.log_weights,
            t.centers, t.reward_variances, t.log_coefs, n_mix, n_bumps, n, d, t.x.stride(0), k,
            N_COEFS=N_COEFS, NOISE_BY_GROUP=d % 4 == 0, RATIO=ratio, LOG_REWARD=log_reward,
            FROM_TABLE=TABLES, PAIRS=gmm_step.PAIRS, BLOCK_N=block_n, BLOCK_D=block_d,
            num_warps=num_warps, enable_fp_fusion=FP_FUSION)
