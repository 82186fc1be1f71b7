"""Peak memory of an FKCScheduler step whose reward runs through a VAE decoder, against N.

One FKC step of N latents (4×8×8) with a decoded reward through a tiny random AutoencoderKL
(8×8 latents -> 64×64 RGB images), with and without ``reward_batch_size``. Each configuration
runs in a fresh process; on a CPU the number is the peak resident memory of the step above the
process's memory before it (``ru_maxrss``), on a GPU ``torch.cuda.max_memory_allocated`` above
the allocation before it.

    python bench/bench_diffusers_memory.py [--device cuda] [--n 8 16 32 64] [--batch 8]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def measure(n: int, batch: int | None, device: str) -> dict:
    """Peak MiB of one step above the memory before it (run in a fresh process)."""
    import diffusers
    import torch

    from fkc_kernels.diffusers import FKCScheduler, decoded_reward

    torch.manual_seed(0)
    torch.set_num_threads(1)
    vae = diffusers.AutoencoderKL(
        in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4, block_out_channels=(16, 16, 32, 32),
        latent_channels=4, norm_num_groups=8, sample_size=64, layers_per_block=1,
    ).to(device).eval().requires_grad_(False)
    reward = decoded_reward(vae, lambda img: -(img - 0.5).pow(2).mean((1, 2, 3)))
    fkc = FKCScheduler.from_scheduler(diffusers.DDPMScheduler(), reward, lam_max=1.0,
                                      reward_batch_size=batch)
    fkc.set_timesteps(10)
    x = torch.randn(n, 4, 8, 8, device=device)
    eps = torch.randn_like(x)
    if device == "cuda":
        torch.cuda.synchronize()
        before = torch.cuda.memory_allocated() / 2**20
        torch.cuda.reset_peak_memory_stats()
    else:
        before = _rss_mib()
    fkc.step(eps, fkc.timesteps[3], x)
    if device == "cuda":
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return {"n": n, "reward_batch_size": batch, "device": device,
            "step_peak_mib": round(peak - before, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--n", type=int, nargs="+", default=[8, 16, 32, 64])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)  # child process
    args = parser.parse_args(argv)
    if args.one is not None:
        n, batch = json.loads(args.one)
        print(json.dumps(measure(n, batch, args.device)))
        return 0
    print(f"| N | reward_batch_size | step peak MiB ({args.device}) |\n| --- | --- | --- |")
    for batch in (None, args.batch):
        for n in args.n:
            out = subprocess.run([sys.executable, __file__, "--device", args.device, "--one",
                                  json.dumps([n, batch])], capture_output=True, text=True,
                                 check=True)
            row = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"| {n} | {batch or 'all'} | {row['step_peak_mib']} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
