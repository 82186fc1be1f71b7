"""Retrain or evaluate the digits UNet of the digits-unet task.

The model is :mod:`fkc_align.tasks.unet_model`'s::

    python -m fkc_align.tasks.train_digits_unet train            # about 5 minutes on one core
    python -m fkc_align.tasks.train_digits_unet evaluate         # sample quality, as JSON

Training uses 1500 of the 1797 images (a seeded split, :func:`.unet_model.digits_split`); the
other 297 are held out so that the nearest-training-image distance of the model's samples can be
compared with that of unseen real digits. Needs the ``[diffusers]`` extra.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import time
from pathlib import Path
from typing import Any

import torch

from .unet_model import (
    WEIGHTS_DIR,
    digits_split,
    load_digits_unet,
    make_noise_scheduler,
    make_unet,
    sample_ddpm,
    sample_fkc_path,
    sample_fkc_scheduler,
    sample_quality,
)


def train(out_dir: str | Path = WEIGHTS_DIR, *, steps: int = 4000, batch_size: int = 128,
          lr: float = 2e-3, ema_decay: float = 0.999, seed: int = 0, threads: int = 1,
          log_every: int = 250) -> dict[str, Any]:
    """Train the UNet with the epsilon-prediction loss and save its EMA weights to ``out_dir``.

    Deterministic for a given ``seed`` and ``threads`` (CPU kernels). Writes ``config.json``,
    ``diffusion_pytorch_model.safetensors``, ``scheduler_config.json`` and ``training.json``
    (settings, loss curve, wall time).
    """
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        torch.manual_seed(seed)
        x_train, _, _, _ = digits_split()
        unet, noise = make_unet(), make_noise_scheduler()
        ema = copy.deepcopy(unet).requires_grad_(False)
        opt = torch.optim.AdamW(unet.parameters(), lr=lr, weight_decay=0.0)
        warmup = 100
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda k: min(1.0, (k + 1) / warmup)
            * 0.5 * (1 + math.cos(math.pi * min(k, steps) / steps)))
        gen = torch.Generator().manual_seed(seed)
        n_train_t = noise.config.num_train_timesteps
        losses, running, started = [], 0.0, time.perf_counter()
        unet.train()
        for k in range(steps):
            idx = torch.randint(0, len(x_train), (batch_size,), generator=gen)
            x0 = x_train[idx]
            eps = torch.randn(x0.shape, generator=gen)
            t = torch.randint(0, n_train_t, (batch_size,), generator=gen)
            xt = noise.add_noise(x0, eps, t)
            loss = torch.nn.functional.mse_loss(unet(xt, t).sample, eps)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0)
            opt.step()
            sched.step()
            with torch.no_grad():
                for pe, p in zip(ema.parameters(), unet.parameters(), strict=True):
                    pe.lerp_(p, 1.0 - ema_decay)
            running += loss.item()
            if (k + 1) % log_every == 0:
                losses.append({"step": k + 1, "loss": running / log_every})
                print(f"step {k + 1}/{steps} loss {running / log_every:.4f} "
                      f"({time.perf_counter() - started:.0f} s)", flush=True)
                running = 0.0
        wall = time.perf_counter() - started
    finally:
        torch.set_num_threads(before)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ema.eval().save_pretrained(out, safe_serialization=True)
    noise.save_pretrained(out)
    info = {"steps": steps, "batch_size": batch_size, "lr": lr, "ema_decay": ema_decay,
            "seed": seed, "threads": threads, "n_train": len(x_train),
            "n_params": sum(p.numel() for p in ema.parameters()), "wall_s": round(wall, 1),
            "losses": losses}
    (out / "training.json").write_text(json.dumps(info, indent=1) + "\n")
    return info



def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m fkc_align.tasks.train_digits_unet",
                                     description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    tr = sub.add_parser("train", help="train and save the weights")
    tr.add_argument("--out", default=str(WEIGHTS_DIR))
    tr.add_argument("--steps", type=int, default=4000)
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--threads", type=int, default=1)
    ev = sub.add_parser("evaluate", help="sample and print the quality numbers (JSON)")
    ev.add_argument("--sampler", choices=("ddpm", "fkc", "fkc-scheduler"), default="ddpm",
                    help="ddpm: the scheduler's ancestral sampler; fkc: FKCSampler at lambda=0 "
                         "(Euler-Maruyama); fkc-scheduler: FKCScheduler at lambda=0")
    ev.add_argument("--path", default=str(WEIGHTS_DIR))
    ev.add_argument("--n", type=int, default=1000)
    ev.add_argument("--n-steps", type=int, default=100)
    ev.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.command == "train":
        info = train(args.out, steps=args.steps, seed=args.seed, threads=args.threads)
        print(json.dumps({k: v for k, v in info.items() if k != "losses"}))
    else:
        torch.set_num_threads(1)
        unet, scheduler = load_digits_unet(args.path)
        sample = {"ddpm": sample_ddpm, "fkc": sample_fkc_path,
                  "fkc-scheduler": sample_fkc_scheduler}[args.sampler]
        x = sample(unet, scheduler, args.n, args.n_steps, args.seed)
        print(json.dumps({"sampler": args.sampler, "n_steps": args.n_steps, "seed": args.seed,
                          **sample_quality(x)}))


if __name__ == "__main__":
    main()
