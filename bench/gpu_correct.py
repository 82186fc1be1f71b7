"""The on-device correctness rows of bench/gpu_check.py: every op of a backend against the
reference, one function an op (each row: backend, op, shape, max abs diff, status)."""

from __future__ import annotations

import math
from collections.abc import Callable

import gpu_loops  # bench/, beside this file
import torch

import fkc_kernels as fk
from fkc_kernels import reference
from fkc_kernels.bench import measure
from fkc_kernels.ops import get_backend_object

COEFS = measure.COEFS


def check_step(dev: torch.device, name: str, rows, dry: bool) -> None:
    """Fused step against the reference: explicit noise per dtype, in-kernel noise from the same
    generator state, and both weight increments with ``extra_dw``."""
    shapes = [(3, 7), (8, 64)] if dry else [(3, 7), (1000, 123), (4, 16384), (4096, 192)]
    tol = {torch.float32: (1e-5, 1e-5), torch.bfloat16: (1.6e-2, 1e-2)}
    for n, d in shapes:
        for dtype in (torch.float32, torch.bfloat16):
            gen = torch.Generator().manual_seed(n * d)
            x, s, gr, z = (torch.randn(n, d, generator=gen).to(dev, dtype)
                           for _ in range(4))
            w = torch.randn(n, generator=gen).to(dev)
            r = torch.randn(n, generator=gen).to(dev)
            xt, wt = fk.fkc_step(x, w, s, gr, r, noise=z, backend=name, **COEFS)
            xr, wr = reference.fkc_step(x, w, s, gr, r, z, **COEFS)
            ex = (xt.float() - xr.float()).abs().max().item()
            ew = (wt - wr).abs().max().item()
            ok = torch.allclose(xt.float(), xr.float(), *tol[dtype]) and \
                torch.allclose(wt, wr, 1e-4, 1e-5 * math.sqrt(d))
            rows.append([name, "step, explicit noise", f"{n}x{d} {str(dtype)[6:]}",
                         f"x {ex:.2e}, w {ew:.2e}", "ok" if ok else "**FAIL**"])
        # in-kernel noise: same generator state on both sides
        x, s, gr = (torch.randn(n, d, device=dev) for _ in range(3))
        w, r = torch.randn(n, device=dev), torch.randn(n, device=dev)
        out = {}
        for b in (name, "reference"):
            g = torch.Generator(device=dev).manual_seed(7)
            out[b] = fk.fkc_step(x, w, s, gr, r, generator=g, backend=b, **COEFS)
        ex = (out[name][0] - out["reference"][0]).abs().max().item()
        ok = ex < 1e-4
        rows.append([name, "step, in-kernel noise", f"{n}x{d} fp32", f"x {ex:.2e}",
                     "ok" if ok else "**FAIL**"])
        extra = 0.05 * torch.randn(n, device=dev)
        z = torch.randn(n, d, device=dev)
        for inc in ("fkc", "ratio"):  # the ratio increment sums |∇r|², <∇r, ξ> instead
            wt = fk.fkc_step(x, w, s, gr, r, noise=z, extra_dw=extra, increment=inc,
                             backend=name, **COEFS)[1]
            wr = reference.fkc_step(x, w, s, gr, r, z, extra_dw=extra, increment=inc,
                                    **COEFS)[1]
            ew = (wt - wr).abs().max().item()
            rows.append([name, f"step, extra_dw, increment={inc}", f"{n}x{d} fp32",
                         f"w {ew:.2e}",
                         "ok" if ew < 1e-5 * math.sqrt(d) + 1e-6 else "**FAIL**"])


def check_noise_bits(dev: torch.device, name: str, rows, dry: bool) -> None:
    """In-kernel noise against the CPU kernel's bits (needs the C++ extension; GPU only)."""
    if dev.type != "cuda" or not hasattr(torch.ops.fkc, "philox_normal_cpu"):
        return
    # the fastmath polynomials are explicit fmas: the GPU's normals are the CPU's
    n, d = 1000, 1000
    zeros = torch.zeros(n, d, device=dev)
    seeds = torch.tensor([0x1234_5678_9ABC, 77], dtype=torch.int64)
    xz, _ = fk.fkc_step(zeros, torch.zeros(n, device=dev), zeros, zeros,
                        torch.zeros(n, device=dev), h=1.0, g=1.0, lam=0.0, dlam=0.0,
                        seeds=seeds.to(dev), backend=name)
    zc = torch.ops.fkc.philox_normal_cpu(seeds, n * d, 0, "auto").view(n, d)
    differ = (xz.cpu() != zc).sum().item()
    ulp = (xz.cpu().view(torch.int32).long() - zc.view(torch.int32).long()).abs()
    rows.append([name, "in-kernel noise vs cpu noise bits", f"{n}x{d}",
                 f"{differ} differ, max {ulp.max().item()} ulp",
                 "ok (same bits)" if differ == 0 else "differs (see bound)"])


def check_select(dev: torch.device, name: str, rows, dry: bool) -> None:
    """Selection index for index against the reference (ties, a NaN, all-equal weights)."""
    # randn with ties and a NaN; all equal (every radix pass, ties by index only);
    # k = 1024 (Triton's largest one-launch k; CUDA's sort path above 256)
    cases = [(300, 8, 3, "randn"), (300, 8, 3, "equal")] if dry else [
        (1000, 16, 5, "randn"), (65536, 64, 20, "randn"), (1 << 20, 256, 128, "randn"),
        (1 << 20, 256, 0, "equal"), (1 << 20, 1024, 512, "randn"), (70000, 200, 200, "equal")]
    for n, k, nr, kind in cases:
        w = torch.randn(n, device=dev) if kind == "randn" else torch.ones(n, device=dev)
        w[::97] = w[5]
        w[3] = float("nan")
        seeds = torch.tensor([123456789, 42], dtype=torch.int64, device=dev)
        want = reference.select_particles(w, k, nr, seeds)
        for what, op in select_ops(name):
            got = op(w, k, nr, seeds)
            rows.append([name, what, f"N={n} k={k} random={nr} {kind}", "index for index",
                         "ok" if torch.equal(got, want) else "**FAIL**"])


def select_ops(name: str) -> list[tuple[str, Callable[..., torch.Tensor]]]:
    """The backend's selection op, and for Triton its one-launch kernel, which the op does
    not dispatch on GPUs until a run here shows it index-exact."""
    ops = [("select_particles", get_backend_object(name).select_particles)]
    if name == "triton":
        from fkc_kernels.triton.select_particles import select_particles_kernel

        ops.append(("select_particles_kernel (not dispatched on GPUs)",
                    select_particles_kernel))
    return ops


def check_resample(dev: torch.device, name: str, rows, dry: bool) -> None:
    """Systematic resampling index for index against the reference."""
    for n in ([37] if dry else [1000, 65536, 1 << 20]):
        lw = torch.randn(n, device=dev) * 3
        u = torch.tensor([0.37], dtype=torch.float64, device=dev)
        got = get_backend_object(name).systematic_resample(lw, u)
        want = reference.systematic_resample(lw, u=u)
        diff = (got != want).sum().item()
        rows.append([name, "systematic_resample", f"N={n}", f"{diff} differ",
                     "ok" if diff == 0 else "**FAIL**"])


def check_gmm_loop(dev: torch.device, name: str, rows, dry: bool) -> None:
    """The K-step mixture loop in one launch against K one-step launches of the same backend:
    the same bits by design (each step's one-step agreement with the reference is
    ``gpu_loops.mixture_agreement``'s row in the gmmloop section)."""
    shapes = [(16, 8, 3)] if dry else [(4096, 64, 100), (1000, 30, 20), (333, 300, 10)]
    sched, tilt = fk.VPSchedule(), fk.LinearTilt(4.0)
    for n, d, k in shapes:
        for dtype in (torch.float32, torch.bfloat16):
            mix, bumps = gpu_loops.mixture_model(d, dev)
            x0 = torch.randn(n, d, generator=torch.Generator().manual_seed(d)).to(dev, dtype)
            seeds = fk.draw_philox_seeds(torch.Generator().manual_seed(k), dev, n_steps=k)
            x, w = x0.clone(), torch.zeros(n, device=dev)
            fk.gmm_loop_(x, w, mix, bumps, sched, tilt, k, seeds=seeds, backend=name)
            xs, ws = x0.clone(), torch.zeros(n, device=dev)
            for i, kw in enumerate(gpu_loops.gmm_step_kwargs(sched, tilt, k, "fkc", None, None)):
                fk.gmm_step_(xs, ws, mix, bumps, seeds=seeds[i], backend=name, **kw)
            ex = (x.float() - xs.float()).abs().max().item()
            ew = (w - ws).abs().max().item()
            same = torch.equal(x, xs) and torch.equal(w, ws)
            rows.append([name, "gmm_loop_ (one launch) vs K gmm_step_", f"{n}x{d} K={k} "
                         f"{str(dtype)[6:]}", f"x {ex:.2e}, w {ew:.2e}",
                         "ok (same bits)" if same else "**FAIL**"])
