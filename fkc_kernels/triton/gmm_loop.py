"""The K-step mixture loop in Triton: one launch for all K steps (docs/design.md, "The mixture
loop in one kernel").

Rows do not meet within a loop without resampling: a row's next step needs only its own x and
w. So each program loads its ``BLOCK_N`` rows once, runs all K steps on them in registers (the
mixture step's own device functions, :mod:`fkc_kernels.triton.gmm_step`, with step i's
coefficients and seeds read from row i of two device tables) and stores x and w once. Each step
rounds x to its dtype as a store would, so the loop has the bits of K launches of the step.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from ..ops._gmm_args import KERNEL_SCALARS, GmmTensors
from ._host import cdiv
from .fkc_step import new_w
from .gmm_step import FP_FUSION, move, score_and_reward, step_noise, tile

N_COEFS = len(KERNEL_SCALARS)


@triton.jit
def _gmm_loop_kernel(
    x_ptr, w_ptr, coef_ptr, seeds_ptr, mu_ptr, var_ptr, lw_ptr, rc_ptr, rv_ptr, rk_ptr, n_mix,
    n_bumps, N, D, stride_x, n_steps,
    N_COEFS: tl.constexpr, NOISE_BY_GROUP: tl.constexpr, RATIO: tl.constexpr,
    LOG_REWARD: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr,
):
    rows = tl.program_id(0) * BLOCK_N + tl.arange(0, BLOCK_N)
    row_ok = rows < N
    rows64 = rows.to(tl.int64)
    cols = tl.arange(0, BLOCK_D)
    mask = row_ok[:, None] & (cols < D)[None, :]
    x_at = x_ptr + rows64[:, None] * stride_x + cols[None, :]
    xs = tl.load(x_at, mask=mask, other=0.0).to(tl.float32)
    w = tl.load(w_ptr + rows, mask=row_ok, other=0.0)
    for i in range(0, n_steps):
        # step i's KERNEL_SCALARS, in the table's column order
        k = coef_ptr + i * N_COEFS
        alpha, alpha2, sigma2, h = tl.load(k), tl.load(k + 1), tl.load(k + 2), tl.load(k + 3)
        g2, half_lam, g_sqrt_h = tl.load(k + 4), tl.load(k + 5), tl.load(k + 6)
        f_coef, dlam, lam = tl.load(k + 7), tl.load(k + 8), tl.load(k + 9)
        half_g2_lam, dw_clip, w_min = tl.load(k + 10), tl.load(k + 11), tl.load(k + 12)
        w_max, ratio_gg, ratio_gz = tl.load(k + 13), tl.load(k + 14), tl.load(k + 15)
        s, r, gr = score_and_reward(xs, mask, mu_ptr, var_ptr, lw_ptr, rc_ptr, rv_ptr, rk_ptr,
                                    n_mix, n_bumps, D, alpha, alpha2, sigma2, cols, LOG_REWARD,
                                    BLOCK_N, BLOCK_D)
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
    """Run K mixture steps in place in one launch.

    ``t.x`` ``(N, D)`` contiguous (float32/float16/bfloat16, ``D <= MAX_D`` of the step) and
    ``t.w`` float32 ``(N,)`` contiguous are updated (``x_out``/``w_out`` alias them; ``noise`` and
    ``extra_dw`` are None); ``coefs`` float32 ``(K, 16)`` contiguous, row i step i's
    ``KERNEL_SCALARS``; ``seeds`` int64 ``(K, 2)`` contiguous, row i step i's ``[S, O]``.
    ``block_n``/``num_warps`` override the tile, as in :func:`gmm_step.launch`.
    """
    n, d = t.x.shape
    if n == 0:
        return
    block_n, block_d = tile(n, d, block_n)
    _gmm_loop_kernel[(cdiv(n, block_n),)](
        t.x, t.w, coefs, seeds, t.means, t.variances, t.log_weights, t.centers,
        t.reward_variances, t.log_coefs, t.means.shape[0], t.centers.shape[0], n, d,
        t.x.stride(0), coefs.shape[0], N_COEFS=N_COEFS, NOISE_BY_GROUP=d % 4 == 0, RATIO=ratio,
        LOG_REWARD=log_reward, BLOCK_N=block_n, BLOCK_D=block_d, num_warps=num_warps,
        enable_fp_fusion=FP_FUSION,
    )
