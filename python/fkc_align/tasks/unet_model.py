"""A small diffusers ``UNet2DModel`` trained on scikit-learn's bundled 8x8 digits.

The weights ship in the package (``fkc_align/data/digits_unet/``, safetensors) and are the base
model of the built-in ``digits-unet`` task. This module builds, loads, samples and measures the
model; :mod:`fkc_align.tasks.train_digits_unet` retrains it reproducibly::

    python -m fkc_align.tasks.train_digits_unet train      # about 5 minutes on one CPU core
    python -m fkc_align.tasks.train_digits_unet evaluate   # sample quality, printed as JSON

Training uses 1500 of the 1797 images (a seeded split); the other 297 are held out so that the
nearest-training-image distance of the model's samples can be compared with that of unseen real
digits (a model that memorised its training set would sit much closer than held-out data).
Needs the ``[diffusers]`` extra.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import torch

from .digits_data import digit_log_probs, load_digits_data

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "data" / "digits_unet"
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
            f"`python -m fkc_align.tasks.train_digits_unet train --out {path}`")
    # low_cpu_mem_usage=False: a 0.7 MB model, and without accelerate diffusers warns otherwise
    unet = diffusers.UNet2DModel.from_pretrained(path, torch_dtype=dtype,
                                                 low_cpu_mem_usage=False).eval()
    scheduler = diffusers.DDPMScheduler.from_pretrained(path)
    return unet, scheduler


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
    from fkc_kernels import FKCSampler, LinearTilt, zero_reward
    from fkc_kernels.diffusers import UNetScore, schedule_from_scheduler

    schedule = schedule_from_scheduler(scheduler)
    score = UNetScore(unet, schedule, prediction_type=scheduler.config.prediction_type)

    sampler = FKCSampler(score, zero_reward, schedule, LinearTilt(0.0), n_steps, weights="smc")
    return sampler.sample(n, (1, 8, 8), generator=torch.Generator().manual_seed(seed)).x


__all__ = ["WEIGHTS_DIR", "digits_split", "load_digits_unet", "make_noise_scheduler", "make_unet",
           "nearest_distance", "sample_ddpm", "sample_fkc_path", "sample_fkc_scheduler",
           "sample_quality"]
