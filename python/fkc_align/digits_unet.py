"""A small diffusers ``UNet2DModel`` trained on scikit-learn's bundled 8x8 digits.

The weights ship in the package (``fkc_align/data/digits_unet/``, safetensors) and are the base
model of the built-in ``digits-unet`` task. This module retrains them reproducibly::

    python -m fkc_align.digits_unet train            # about 5 minutes on one CPU core
    python -m fkc_align.digits_unet evaluate         # sample quality, printed as JSON

Training uses 1500 of the 1797 images (a seeded split); the other 297 are held out so that the
nearest-training-image distance of the model's samples can be compared with that of unseen real
digits (a model that memorised its training set would sit much closer than held-out data).
Needs the ``[diffusers]`` extra.
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

WEIGHTS_DIR = Path(__file__).resolve().parent / "data" / "digits_unet"
SPLIT_SEED = 0
N_HELD_OUT = 297


def _require_diffusers():
    try:
        import diffusers
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise ImportError(
            "the digits UNet needs diffusers: pip install 'fkc-kernels[diffusers]'") from exc
    return diffusers


def digits_split() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The seeded train / held-out split: ``(x_train, y_train, x_held, y_held)``.

    Images are float32 ``(n, 1, 8, 8)`` in [-1, 1] (as :func:`fkc_align.tasks.load_digits_data`).
    """
    from .tasks import load_digits_data

    images, labels = load_digits_data()
    perm = torch.randperm(len(images), generator=torch.Generator().manual_seed(SPLIT_SEED))
    held, train = perm[:N_HELD_OUT], perm[N_HELD_OUT:]
    return images[train], labels[train], images[held], labels[held]


def make_unet():
    """The architecture: two resolutions (8x8, 4x4), 16/32 channels, attention at 4x4."""
    diffusers = _require_diffusers()
    return diffusers.UNet2DModel(
        sample_size=8, in_channels=1, out_channels=1, layers_per_block=1,
        block_out_channels=(16, 32), down_block_types=("DownBlock2D", "AttnDownBlock2D"),
        up_block_types=("AttnUpBlock2D", "UpBlock2D"), norm_num_groups=8, attention_head_dim=16)


def make_noise_scheduler():
    """The training noise schedule: 1000 steps, linear betas (DDPM), epsilon prediction.

    Linear rather than cosine betas: FKC steps are Euler-Maruyama, and the cosine schedule's
    ``alphas_cumprod`` at t = 999 is about 1e-6, so its first few steps of a 50-step grid jump
    the signal-to-noise ratio by orders of magnitude, where Euler-Maruyama is poor.
    """
    diffusers = _require_diffusers()
    return diffusers.DDPMScheduler(num_train_timesteps=1000, beta_schedule="linear",
                                   prediction_type="epsilon", clip_sample=False)


def load_digits_unet(path: str | Path | None = None, dtype: torch.dtype = torch.float32):
    """The shipped (or a retrained) model: ``(unet, ddpm_scheduler)``, the UNet in eval mode."""
    diffusers = _require_diffusers()
    path = Path(path) if path is not None else WEIGHTS_DIR
    if not (path / "diffusion_pytorch_model.safetensors").is_file():
        raise FileNotFoundError(
            f"path: no diffusion_pytorch_model.safetensors in {path}; retrain with "
            f"`python -m fkc_align.digits_unet train --out {path}`")
    # low_cpu_mem_usage=False: a 0.7 MB model, and without accelerate diffusers warns otherwise
    unet = diffusers.UNet2DModel.from_pretrained(path, torch_dtype=dtype,
                                                 low_cpu_mem_usage=False).eval()
    scheduler = diffusers.DDPMScheduler.from_pretrained(path)
    return unet, scheduler


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


@torch.no_grad()
def sample_ddpm(unet, scheduler, n: int, n_steps: int = 100, seed: int = 0) -> torch.Tensor:
    """Plain ancestral DDPM samples ``(n, 1, 8, 8)`` (the model's own sampler, no FKC)."""
    return _sample_with(copy.deepcopy(scheduler), unet, n, n_steps, seed)


def sample_fkc_scheduler(unet, scheduler, n: int, n_steps: int = 100,
                         seed: int = 0) -> torch.Tensor:
    """Samples through :class:`fkc_kernels.diffusers.FKCScheduler` with its defaults and no
    reward (lambda = 0): its default proposal for a DDPM source is DDPM's own posterior step."""
    from fkc_kernels.diffusers import FKCScheduler

    return _sample_with(FKCScheduler.from_scheduler(scheduler), unet, n, n_steps, seed)


def _sample_with(sch, unet, n: int, n_steps: int, seed: int) -> torch.Tensor:
    sch.set_timesteps(n_steps)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn((n, 1, 8, 8), generator=gen)
    for t in sch.timesteps:
        x = sch.step(unet(x, t).sample, t, x, generator=gen).prev_sample
    return x


def nearest_distance(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Euclidean distance ``(n,)`` from each image of ``x`` to its nearest image of ``ref``."""
    return torch.cdist(x.reshape(len(x), -1).double(), ref.reshape(len(ref), -1).double()).min(1)[0]


def sample_quality(x: torch.Tensor) -> dict[str, Any]:
    """How samples ``x`` (n, 1, 8, 8) compare with the digits (numbers for docs).

    Returns the task classifier's label histogram of ``x`` against the training data's, their
    total-variation distance, the share of samples the classifier is confident about, and the
    nearest-training-image distance of ``x`` against the held-out real digits' (median and mean).
    """
    from .tasks import digit_log_probs

    x_train, y_train, x_held, _ = digits_split()
    logp = digit_log_probs(x.clamp(-1, 1))
    logp_held = digit_log_probs(x_held)
    hist = torch.bincount(logp.argmax(1), minlength=10).double() / len(x)
    held_hist = torch.bincount(logp_held.argmax(1), minlength=10).double() / len(x_held)
    data_hist = torch.bincount(y_train, minlength=10).double() / len(y_train)
    d_sample = nearest_distance(x.clamp(-1, 1), x_train)
    d_held = nearest_distance(x_held, x_train)

    def confident(lp):
        return round(float((lp.max(1).values > math.log(0.9)).double().mean()), 3)

    return {
        "n_samples": len(x),
        "label_share_samples": [round(float(v), 3) for v in hist],
        "label_share_train": [round(float(v), 3) for v in data_hist],
        "label_tv_distance": round(0.5 * float((hist - data_hist).abs().sum()), 3),
        "label_tv_distance_held_out": round(0.5 * float((held_hist - data_hist).abs().sum()), 3),
        "classifier_confident_share": confident(logp),
        "classifier_confident_share_held_out": confident(logp_held),
        "nn_train_distance_samples": {"median": round(float(d_sample.median()), 3),
                                      "mean": round(float(d_sample.mean()), 3)},
        "nn_train_distance_held_out": {"median": round(float(d_held.median()), 3),
                                       "mean": round(float(d_held.mean()), 3)},
        "share_samples_closer_than_held_out_min": round(
            float((d_sample < d_held.min()).double().mean()), 3),
    }


@torch.no_grad()
def sample_fkc_path(unet, scheduler, n: int, n_steps: int = 50, seed: int = 0) -> torch.Tensor:
    """Unguided samples through the path the ``digits-unet`` task takes: ``FKCSampler`` with
    :class:`fkc_kernels.diffusers.UNetScore` on the scheduler's discrete schedule (lambda = 0,
    Euler-Maruyama steps)."""
    from fkc_kernels import FKCSampler, LinearTilt
    from fkc_kernels.diffusers import UNetScore, schedule_from_scheduler

    schedule = schedule_from_scheduler(scheduler)
    score = UNetScore(unet, schedule, prediction_type=scheduler.config.prediction_type)

    def no_reward(x):
        return torch.zeros(x.shape[0]), torch.zeros_like(x)

    sampler = FKCSampler(score, no_reward, schedule, LinearTilt(0.0), n_steps, weights="smc")
    return sampler.sample(n, (1, 8, 8), generator=torch.Generator().manual_seed(seed)).x


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m fkc_align.digits_unet",
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
