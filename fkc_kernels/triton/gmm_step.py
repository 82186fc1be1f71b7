"""The mixture step in Triton: score, reward and FKC step of a row in one kernel.

Each program owns ``BLOCK_N`` whole rows (``BLOCK_D >= D``, so a row's elements stay in
registers). It walks the mixture's components once with an online softmax (a running maximum,
a running sum and a running ``(BLOCK_N, BLOCK_D)`` weighted pull, rescaled when the maximum
grows), then the reward's bumps the same way, then moves the row and updates its weight with
the FKC step's own device functions (:mod:`fkc_kernels.triton.fkc_step`). Math mirrors
:func:`fkc_kernels.reference.gmm_step`; the noise is the fused step's (same bits).
"""

from __future__ import annotations

import triton
import triton.language as tl

from ..ops._gmm_args import GmmScalars, GmmTensors, kernel_scalars, split_gmm_args
from ._host import cdiv, next_power_of_2
from ._philox import load_seeds, normals_interleaved, normals_per_element
from .fkc_step import store_new_w

MAX_D = 1024  # a row in one tile; longer rows take the composed path (ops/gmm_step.py)
_TILE = 1024
# No a*b+c contraction in the mixture kernels: ptxas fuses `alpha * c - x` into one FMA where
# alpha is a kernel parameter (this step) but not where it is loaded (the K-step loop,
# gmm_loop.py), so with fusion on the loop would not have the bits of K steps. Every product
# rounded once, as the float32 reference rounds it.
FP_FUSION = False
# Components two at a time (one rescale a pair, two independent row sums a warp overlaps) or one
# at a time. Read at launch by the step and the loop alike (the order of the sums differs, and
# the loop must have the step's bits); bench/gpu_loops.py times both on a GPU.
PAIRS = True


@triton.jit
def component(c_ptr, v_ptr, j, D, alpha, alpha2, sigma2, cols, DIFFUSED: tl.constexpr):
    """Component ``j``'s centre, ``1/V`` and ``log V`` over the columns (``log V`` 0 past ``D``).

    With ``DIFFUSED`` the centre is ``α·c`` and ``V = α²v + σ²`` (the diffused mixture), else
    ``c`` and ``V = v`` (the reward's bumps, whose ``log V`` nobody reads). The K-step loop's
    tables (gmm_loop.py) are this function's values, so the loop has the step's bits.
    """
    col_ok = cols < D
    c = tl.load(c_ptr + j * D + cols, mask=col_ok, other=0.0)
    v = tl.load(v_ptr + j * D + cols, mask=col_ok, other=1.0)
    if DIFFUSED:
        c = alpha * c
        v = alpha2 * v + sigma2
    return c, 1.0 / v, tl.where(col_ok, tl.log(v), 0.0)


@triton.jit
def _logit_and_pull(xs, c_ptr, v_ptr, lw_ptr, j, n_comp, D, alpha, alpha2, sigma2, cols,
                    tab_ptr, DIFFUSED: tl.constexpr, FROM_TABLE: tl.constexpr):
    """Component ``j``'s logit ``b_j`` of each row and its pull ``(c_j − x)/V_j`` (0 past ``D``:
    ``c`` and ``x`` are both 0 there, and a dead row's values are never stored)."""
    if FROM_TABLE:
        col_ok = cols < D
        at = tab_ptr + j * D + cols
        c = tl.load(at, mask=col_ok, other=0.0)
        inv = tl.load(at + n_comp * D, mask=col_ok, other=1.0)
        log_v = tl.load(at + 2 * n_comp * D, mask=col_ok, other=0.0)
    else:
        c, inv, log_v = component(c_ptr, v_ptr, j, D, alpha, alpha2, sigma2, cols, DIFFUSED)
    diff = c[None, :] - xs
    pull = diff * inv[None, :]
    sq = diff * pull
    if DIFFUSED:
        sq = sq + log_v[None, :]
    return tl.load(lw_ptr + j) - 0.5 * tl.sum(sq, axis=1), pull


@triton.jit
def _safe_max(run_max, logit):
    """The new running maximum and what to subtract before ``exp``: a row whose logits are all
    ``-inf`` keeps its maximum at ``-inf`` and subtracts 0 (``exp(-inf - -inf)`` is NaN)."""
    new_max = tl.maximum(run_max, logit)
    return new_max, tl.where(new_max == float("-inf"), 0.0, new_max)


@triton.jit
def _online_mixture(xs, c_ptr, v_ptr, lw_ptr, n_comp, D, alpha, alpha2, sigma2, cols,
                    tab_ptr, DIFFUSED: tl.constexpr, FROM_TABLE: tl.constexpr,
                    PAIRS: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr):
    """Running ``(max, sum, Σ e^{b_j − max} (c_j − x)/V_j)`` over the components ``j``.

    ``b_j = lw_j − ½ Σ_d ((x_d − c_jd)²/V_jd + log V_jd)``, the ``log V`` term only with
    ``DIFFUSED`` (:func:`component`). It is summed with the row's squares, so a component costs
    one row sum and no sum across warps. With ``PAIRS`` the components go two at a time, one
    rescale a pair: their two row sums are independent, so a warp overlaps their latencies (an
    odd count ends with one alone). ``FROM_TABLE``: the centres, ``1/V`` and ``log V`` are read from
    ``tab_ptr`` (``[centres; 1/V; log V]``, each ``(n_comp, D)``), the loop's tables made once
    for all K steps, not computed from ``c_ptr``/``v_ptr``.
    """
    run_max = tl.full([BLOCK_N], float("-inf"), dtype=tl.float32)
    run_sum = tl.zeros([BLOCK_N], dtype=tl.float32)
    acc = tl.zeros([BLOCK_N, BLOCK_D], dtype=tl.float32)
    n_paired = 0
    if PAIRS:
        n_paired = n_comp - n_comp % 2
    for j in range(0, n_paired, 2):
        la, pull_a = _logit_and_pull(xs, c_ptr, v_ptr, lw_ptr, j, n_comp, D, alpha, alpha2,
                                     sigma2, cols, tab_ptr, DIFFUSED, FROM_TABLE)
        lb, pull_b = _logit_and_pull(xs, c_ptr, v_ptr, lw_ptr, j + 1, n_comp, D, alpha, alpha2,
                                     sigma2, cols, tab_ptr, DIFFUSED, FROM_TABLE)
        new_max, safe = _safe_max(run_max, tl.maximum(la, lb))
        rescale = tl.exp(run_max - safe)
        pa = tl.exp(la - safe)
        pb = tl.exp(lb - safe)
        run_sum = run_sum * rescale + (pa + pb)
        acc = acc * rescale[:, None] + (pa[:, None] * pull_a + pb[:, None] * pull_b)
        run_max = new_max
    for j in range(n_paired, n_comp):
        la, pull_a = _logit_and_pull(xs, c_ptr, v_ptr, lw_ptr, j, n_comp, D, alpha, alpha2,
                                     sigma2, cols, tab_ptr, DIFFUSED, FROM_TABLE)
        new_max, safe = _safe_max(run_max, la)
        rescale = tl.exp(run_max - safe)
        pa = tl.exp(la - safe)
        run_sum = run_sum * rescale + pa
        acc = acc * rescale[:, None] + pa[:, None] * pull_a
        run_max = new_max
    return run_max, run_sum, acc


@triton.jit
def score_and_reward(xs, mu_ptr, var_ptr, lw_ptr, rc_ptr, rv_ptr, rk_ptr, n_mix, n_bumps,
                     D, alpha, alpha2, sigma2, cols, mix_tab, bump_tab, LOG_REWARD: tl.constexpr,
                     FROM_TABLE: tl.constexpr, PAIRS: tl.constexpr, BLOCK_N: tl.constexpr,
                     BLOCK_D: tl.constexpr):
    """The rows' mixture score ``s``, reward ``r`` and ``∇r`` at ``xs`` (0 past ``D``);
    ``FROM_TABLE``: the components from the loop's tables ``mix_tab``, ``bump_tab``."""
    _m, s_sum, s_acc = _online_mixture(xs, mu_ptr, var_ptr, lw_ptr, n_mix, D, alpha,
                                       alpha2, sigma2, cols, mix_tab, True, FROM_TABLE, PAIRS,
                                       BLOCK_N, BLOCK_D)
    s = s_acc / s_sum[:, None]
    r_max, r_sum, r_acc = _online_mixture(xs, rc_ptr, rv_ptr, rk_ptr, n_bumps, D, alpha,
                                          alpha2, sigma2, cols, bump_tab, False, FROM_TABLE,
                                          PAIRS, BLOCK_N, BLOCK_D)
    if LOG_REWARD:
        r = r_max + tl.log(r_sum)
        gr = r_acc / r_sum[:, None]
    else:
        scale = tl.exp(tl.where(r_max == float("-inf"), 0.0, r_max))
        r = scale * r_sum
        gr = scale[:, None] * r_acc
    return s, r, gr


@triton.jit
def step_noise(seeds_ptr, rows64, cols, D, NOISE_BY_GROUP: tl.constexpr, BLOCK_N: tl.constexpr,
               BLOCK_D: tl.constexpr):
    """The noise contract's normals of the rows' elements under ``seeds_ptr``'s ``[S, O]``."""
    seed, offset = load_seeds(seeds_ptr)
    if NOISE_BY_GROUP:  # D % 4 == 0: group of (n, d) is n * D/4 + d/4
        groups = rows64[:, None] * (D // 4) + tl.arange(0, BLOCK_D // 4)[None, :]
        z = normals_interleaved(seed, offset, groups, BLOCK_N, BLOCK_D // 4)
    else:
        z = normals_per_element(seed, offset, rows64[:, None] * D + cols[None, :])
    return z


@triton.jit
def move(xs, s, gr, z, mask, g2, half_lam, g_sqrt_h, f_coef, h, RATIO: tl.constexpr):
    """``x'`` of the rows and the two row sums of their weight increment."""
    fx = f_coef * xs
    drift = g2 * (s + half_lam * gr) - fx
    x_new = xs + h * drift + g_sqrt_h * z
    gr = tl.where(mask, gr, 0.0)
    if RATIO:
        ga = tl.sum(gr * gr, axis=1)
        gb = tl.sum(gr * z, axis=1)
    else:
        ga = tl.sum(gr * fx, axis=1)
        gb = tl.sum(gr * s, axis=1)
    return x_new, ga, gb


@triton.jit
def _gmm_step_kernel(
    x_ptr, z_ptr, w_ptr, e_ptr, seeds_ptr, xo_ptr, wo_ptr,
    mu_ptr, var_ptr, lw_ptr, rc_ptr, rv_ptr, rk_ptr, n_mix, n_bumps,
    N, D, stride_x, stride_z, stride_xo,
    alpha, alpha2, sigma2, h, g2, half_lam, g_sqrt_h, f_coef, dlam, lam, half_g2_lam, dw_clip,
    w_min, w_max, ratio_gg, ratio_gz,
    HAS_NOISE: tl.constexpr, HAS_EXTRA: tl.constexpr, NOISE_BY_GROUP: tl.constexpr,
    RATIO: tl.constexpr, LOG_REWARD: tl.constexpr, PAIRS: tl.constexpr, BLOCK_N: tl.constexpr,
    BLOCK_D: tl.constexpr,
):
    rows = tl.program_id(0) * BLOCK_N + tl.arange(0, BLOCK_N)
    row_ok = rows < N
    rows64 = rows.to(tl.int64)
    cols = tl.arange(0, BLOCK_D)
    mask = row_ok[:, None] & (cols < D)[None, :]
    xs = tl.load(x_ptr + rows64[:, None] * stride_x + cols[None, :], mask=mask,
                 other=0.0).to(tl.float32)
    s, r, gr = score_and_reward(xs, mu_ptr, var_ptr, lw_ptr, rc_ptr, rv_ptr, rk_ptr, n_mix,
                                n_bumps, D, alpha, alpha2, sigma2, cols, mu_ptr, mu_ptr,
                                LOG_REWARD, False, PAIRS, BLOCK_N, BLOCK_D)
    if HAS_NOISE:
        z = tl.load(z_ptr + rows64[:, None] * stride_z + cols[None, :], mask=mask,
                    other=0.0).to(tl.float32)
    else:
        z = step_noise(seeds_ptr, rows64, cols, D, NOISE_BY_GROUP, BLOCK_N, BLOCK_D)
    x_new, ga, gb = move(xs, s, gr, z, mask, g2, half_lam, g_sqrt_h, f_coef, h, RATIO)
    tl.store(xo_ptr + rows64[:, None] * stride_xo + cols[None, :],
             x_new.to(xo_ptr.dtype.element_ty), mask=mask)
    store_new_w(w_ptr, e_ptr, wo_ptr, rows, row_ok, r, ga, gb, h, lam, dlam, half_g2_lam,
                ratio_gg, ratio_gz, dw_clip, w_min, w_max, HAS_EXTRA, RATIO)


def tile(n: int, d: int, block_n: int | None) -> tuple[int, int]:
    """``(BLOCK_N, BLOCK_D)``: whole rows (``BLOCK_D >= D``), ``block_n`` rows a program or, when
    ``None``, enough to fill a tile of ``_TILE`` elements (not past the rows there are)."""
    block_d = max(4, next_power_of_2(d))
    if block_n is None:
        block_n = max(1, min(_TILE // block_d, next_power_of_2(n)))
    return block_n, block_d


def launch(t: GmmTensors, c: GmmScalars, *, block_n: int | None = None,
           num_warps: int = 4) -> None:
    """Launch the fused mixture step on the bundles of ``fkc_kernels.ops._gmm_args``; writes
    ``t.x_out`` ``(N, D)`` (x's dtype) and ``t.w_out`` float32 ``(N,)``. ``D <= MAX_D``.
    ``block_n`` (rows a program, a power of two) and ``num_warps`` override the tile for
    benchmarks (``bench/gpu_loops.py``); ``None`` = fill a tile of ``_TILE`` elements."""
    n, d = t.x.shape
    if n == 0:
        return
    block_n, block_d = tile(n, d, block_n)
    dummy = t.x
    _gmm_step_kernel[(cdiv(n, block_n),)](
        t.x, dummy if t.noise is None else t.noise, t.w,
        t.w if t.extra_dw is None else t.extra_dw, dummy if t.seeds is None else t.seeds,
        t.x_out, t.w_out, t.means, t.variances, t.log_weights, t.centers, t.reward_variances,
        t.log_coefs, t.means.shape[0], t.centers.shape[0], n, d, t.x.stride(0),
        0 if t.noise is None else t.noise.stride(0), t.x_out.stride(0), *kernel_scalars(c),
        HAS_NOISE=t.noise is not None, HAS_EXTRA=t.extra_dw is not None,
        NOISE_BY_GROUP=d % 4 == 0, RATIO=c.increment == "ratio", LOG_REWARD=c.log_reward,
        PAIRS=PAIRS, BLOCK_N=block_n, BLOCK_D=block_d, num_warps=num_warps,
        enable_fp_fusion=FP_FUSION,
    )


def gmm_step(*args) -> None:
    """The ``fkc::gmm_step_triton`` implementation (the bundles' fields, positional)."""
    launch(*split_gmm_args(args))
