"""Self-check and example of sharded particles.

    torchrun --standalone --nproc_per_node=2 -m fkc_kernels.distributed --particles 100000


Every rank holds an uneven shard of N particles. The script runs the global selection, ESS,
systematic resampling and particle exchange, and compares each with single-process
``fkc_kernels`` on the concatenated weights (every rank regenerates the global weights from the
seed for that comparison only: the collectives themselves never move O(N) data). Then it runs
:class:`ShardedFKCSampler` on the reference check of docs/design.md (data N(1, 0.5²), VP,
r(x) = x, λ = 2t: tilted mean 1.5, variance 0.25). Prints one line per check from rank 0 and
the bytes each collective moved; exits 1 on any mismatch.

NCCL when CUDA is available (one GPU per rank: ``LOCAL_RANK``), gloo otherwise.
"""

from __future__ import annotations

import argparse
import os
import sys

import torch
import torch.distributed as dist

import fkc_kernels as fk
from fkc_kernels import distributed as fd


def _uneven_sizes(n: int, world: int) -> list[int]:
    """Shard sizes that differ: rank r gets a share proportional to r + 1."""
    total = world * (world + 1) // 2
    sizes = [n * (r + 1) // total for r in range(world)]
    sizes[-1] += n - sum(sizes)
    return sizes


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m fkc_kernels.distributed", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--particles", type=int, default=100_000,
                   help="global particles (default 100000)")
    p.add_argument("--k", type=int, default=16, help="particles picked (default 16)")
    p.add_argument("--n-random", type=int, default=6, help="random picks among k (default 6)")
    p.add_argument("--sampler-n", type=int, default=4096, help="particles for the sampler run")
    p.add_argument("--steps", type=int, default=100, help="sampler steps (default 100)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--backend", choices=["auto", "gloo", "nccl"], default="auto",
                   help="process-group backend (auto: nccl with CUDA, else gloo)")
    p.add_argument("--kernel-backend", default="auto", help="fkc_kernels backend of the sampler")
    return p.parse_args(argv)


def _init_group(backend: str) -> torch.device:
    """Join the process group (``auto``: NCCL with CUDA, else gloo); this rank's device."""
    if backend == "auto":
        backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        device = torch.device("cuda", local)
    else:
        device = torch.device("cpu")
    dist.init_process_group(backend)
    return device


class _Report:
    """One line per check from rank 0; remembers the failures of every rank."""

    def __init__(self, rank: int) -> None:
        self.rank, self.failures = rank, []

    def __call__(self, name: str, ok: bool, detail: str) -> None:
        if not ok:
            self.failures.append(name)
        if self.rank == 0:
            print(f"[{'ok' if ok else 'FAIL'}] {name}: {detail}", flush=True)


def _all_ranks(ok: bool, device: torch.device) -> bool:
    """``ok`` on every rank (a MIN all-reduce)."""
    flag = torch.tensor([int(ok)], device=device)
    dist.all_reduce(flag, op=dist.ReduceOp.MIN)
    return bool(flag.item())


def _check_ops(args: argparse.Namespace, device: torch.device, report: _Report) -> None:
    """Selection, ESS, resampling and the particle exchange against single-process results."""
    world, rank = dist.get_world_size(), dist.get_rank()
    sizes = _uneven_sizes(args.particles, world)
    offset = sum(sizes[:rank])
    g = torch.Generator().manual_seed(args.seed)
    w_global = torch.randn(args.particles, generator=g)
    w_global[torch.randint(0, args.particles, (args.particles // 50,), generator=g)] = float("nan")
    w_local = w_global[offset:offset + sizes[rank]].to(device)

    # selection: rank 0's generator state decides; give the others a different one on purpose
    got = fd.select_particles(w_local, args.k, args.n_random,
                              generator=torch.Generator().manual_seed(args.seed + 1 + rank))
    want = fk.select_particles(w_global, args.k, args.n_random,
                               generator=torch.Generator().manual_seed(args.seed + 1),
                               backend="reference")
    m_top, m_rand = min(args.k - args.n_random, max(sizes)), min(args.k, max(sizes))
    report("select_particles", torch.equal(got.cpu(), want),
           f"shards {sizes}, k={args.k}, n_random={args.n_random}; sent per rank 48 B + "
           f"{8 * (3 * m_top + 2 * m_rand)} B (independent of N)")

    ess = fd.effective_sample_size(w_local)
    ess_ref = fk.effective_sample_size(w_global)
    report("effective_sample_size", bool(torch.isclose(ess.cpu(), ess_ref, rtol=1e-6)),
           f"{ess.item():.3f} vs single-process {ess_ref.item():.3f}; sent per rank 32 B")

    anc = fd.systematic_resample(w_local, generator=torch.Generator().manual_seed(args.seed + 2))
    anc_ref = fk.systematic_resample(
        w_global, generator=torch.Generator().manual_seed(args.seed + 2), backend="reference"
    )[offset:offset + sizes[rank]]
    moved = int(((anc < offset) | (anc >= offset + sizes[rank])).sum())  # rank 0's count
    report("systematic_resample", _all_ranks(torch.equal(anc.cpu(), anc_ref), device),
           f"rank 0 receives {moved} of {sizes[rank]} ancestors from other ranks (8 B each)")

    x_global = torch.arange(args.particles, dtype=torch.float32)[:, None].repeat(1, 3)
    x_new = fd.fetch_particles(x_global[offset:offset + sizes[rank]].to(device), anc)
    report("fetch_particles", _all_ranks(torch.equal(x_new.cpu(), x_global[anc.cpu()]), device),
           f"rank 0 fetched {moved} rows from other ranks")


def _check_sampler(args: argparse.Namespace, device: torch.device, report: _Report) -> None:
    """:class:`ShardedFKCSampler` on the closed-form tilt (mean 1.5, variance 0.25)."""
    sched = fk.VPSchedule()

    def score(x: torch.Tensor, tau: float) -> torch.Tensor:
        a, s = sched.alpha(tau), sched.sigma(tau)
        return -(x - a) / (a * a * 0.25 + s * s)

    def reward(x: torch.Tensor):
        return x.reshape(-1).clone(), torch.ones_like(x)

    sampler = fd.ShardedFKCSampler(score, reward, sched, fk.LinearTilt(2.0), args.steps,
                                   weights="smc", resample="ess",
                                   backend=args.kernel_backend)
    res = sampler.sample(args.sampler_n, 1, generator=torch.Generator().manual_seed(args.seed),
                         device=device)
    # weighted moments from per-rank sums (3 floats per rank)
    lw = res.w.double()
    m = lw.max()
    dist.all_reduce(m, op=dist.ReduceOp.MAX)
    wt = torch.exp(lw - m)
    x = res.x.reshape(-1).double()
    sums = torch.stack([wt.sum(), (wt * x).sum(), (wt * x * x).sum()])
    dist.all_reduce(sums)
    mean = (sums[1] / sums[0]).item()
    var = (sums[2] / sums[0]).item() - mean * mean
    report("ShardedFKCSampler", abs(mean - 1.5) < 0.1 and abs(var - 0.25) < 0.08,
           f"N={args.sampler_n}, K={args.steps}: tilted mean {mean:.3f} (target 1.5), variance "
           f"{var:.3f} (target 0.25), resampled {int(res.resampled.sum())} times")


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    device = _init_group(args.backend)
    report = _Report(dist.get_rank())
    _check_ops(args, device, report)
    _check_sampler(args, device, report)
    dist.destroy_process_group()
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
