"""An off-manifold measure that does not trust the oracle (the digits-UNet scenario).

A guided sampler can game a reward: a linear classifier's log-probability of "8" is raised as
much by an image no one would draw as by a clear 8. The oracle cannot tell, so the benchmark
asks the data instead: a hit is *off the manifold* when its nearest image of the UNet's training
set is farther than the ``quantile`` (99%) of the held-out real digits' nearest-training-image
distances, i.e. farther than 99% of real, unseen digits are. Real digits are off by this rule 1%
of the time by construction.
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
