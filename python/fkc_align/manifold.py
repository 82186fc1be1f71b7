"""An off-manifold measure that does not trust the oracle.

A guided sampler can game a reward: a linear classifier's log-probability of "8" is raised as
much by an image no one would draw as by a clear 8. The oracle cannot tell, so the benchmark
asks the data instead: a hit is *off the manifold* when its nearest training image is farther
than a radius that the base model's own kind of sample stays within 99% of the time.

- The digits UNet (:func:`unet_reference`): the ``quantile`` (99%) of the held-out real digits'
  nearest-training-image distances. Real digits are off by this rule 1% of the time.
- The smoothed digits (:func:`smoothed_digits_reference`): the base model is the training
  images smoothed by Gaussian noise, sampled in a given number of steps; the radius is the
  ``quantile`` of its own unguided samples' nearest-image distances at that step count (a
  20-step sample still carries noise: its samples lie 1.7-2.6 from the nearest image, where
  the smoothing alone puts them 0.6-1.0 away). Unguided samples are off 1% of the time.
"""

from __future__ import annotations

import functools

import torch

HELD_OUT_QUANTILE = 0.99


@functools.lru_cache(maxsize=2)
def unet_reference(quantile: float = HELD_OUT_QUANTILE) -> tuple[torch.Tensor, float]:
    """``(train (1500, 64) float32, radius)``: the digits UNet's training images, flattened,
    and the ``quantile`` of the held-out digits' nearest-training-image distances."""
    if not 0.0 < quantile < 1.0:
        raise ValueError(f"quantile: expected a fraction in (0, 1), got {quantile}")
    from .tasks.unet_model import digits_split, nearest_distance

    x_train, _, x_held, _ = digits_split()
    d_held = nearest_distance(x_held, x_train).double()
    return x_train.reshape(len(x_train), -1).float(), float(torch.quantile(d_held, quantile))


def smoothed_digits_samples(smoothing_std: float, n_steps: int, n: int, seed: int,
                            backend: str = "reference") -> torch.Tensor:
    """``(n, 1, 8, 8)`` unguided samples of the smoothed-digits base model
    (:func:`fkc_align.tasks.digits`, ``smoothing_std``) drawn in ``n_steps`` steps, seeded."""
    from fkc_kernels import FKCSampler, LinearTilt, zero_reward

    from .tasks.digits import _digits_base

    score_fn, schedule = _digits_base(smoothing_std)
    sampler = FKCSampler(score_fn, zero_reward, schedule, LinearTilt(0.0), n_steps,
                         backend=backend)
    return sampler.sample(n, (1, 8, 8), generator=torch.Generator().manual_seed(seed)).x


@functools.lru_cache(maxsize=8)
def smoothed_digits_reference(smoothing_std: float, n_steps: int, n: int = 512,
                              quantile: float = HELD_OUT_QUANTILE,
                              seed: int = 0) -> tuple[torch.Tensor, float]:
    """``(images (1797, 64) float32, radius)``: every digit image, flattened, and the
    ``quantile`` of the nearest-image distances of ``n`` of the base model's unguided samples
    (:func:`smoothed_digits_samples`; the reference backend, so the radius does not depend on
    the kernels built)."""
    if not 0.0 < quantile < 1.0:
        raise ValueError(f"quantile: expected a fraction in (0, 1), got {quantile}")
    from .tasks.digits_data import load_digits_data

    images, _ = load_digits_data()
    train = images.reshape(len(images), -1).float()
    x = smoothed_digits_samples(smoothing_std, n_steps, n, seed)
    near = torch.cdist(x.reshape(n, -1).float(), train).min(1).values.double()
    return train, float(torch.quantile(near, quantile))


def off_manifold_share(x: torch.Tensor, train: torch.Tensor, radius: float) -> float | None:
    """The share of ``x`` ``(n, *S)`` whose nearest row of ``train`` ``(m, D)`` (``D`` =
    ``prod(S)``) is farther than ``radius``; None for ``n = 0``."""
    if len(x) == 0:
        return None
    flat = x.reshape(len(x), -1).float()
    if flat.shape[1] != train.shape[1]:
        raise ValueError(f"x: expected {train.shape[1]} values per row like train, got "
                         f"{flat.shape[1]}")
    near = torch.cdist(flat, train.to(flat.device)).min(1).values
    return float((near > radius).float().mean())
