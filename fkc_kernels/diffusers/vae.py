"""Latent-space rewards through a diffusers VAE decoder."""

from __future__ import annotations

import math
from typing import Any

import torch

from ..rewards import RewardFn


def decoded_reward(vae: Any, image_reward: RewardFn, *, scaling_factor: float | None = None,
                   shift_factor: float | None = None) -> RewardFn:
    """A latent-space reward: decode latents with the VAE, then score the images.

    ``image_reward(images) -> r`` ``(n,)`` gets images in [-1, 1] ``(n, 3, H, W)`` (the VAE's
    output); gradients flow back through the decoder, so combine with ``reward_batch_size`` to
    bound memory. The latents are unscaled as diffusers pipelines do before decoding:
    ``z / scaling_factor + shift_factor``, or with the VAE's per-channel ``latents_mean`` and
    ``latents_std`` (SDXL-style configs) ``z · latents_std / scaling_factor + latents_mean``.
    """
    cfg = getattr(vae, "config", None)
    scale = scaling_factor if scaling_factor is not None else getattr(cfg, "scaling_factor", 1.0)
    shift = shift_factor if shift_factor is not None else (getattr(cfg, "shift_factor", None)
                                                           or 0.0)
    if not math.isfinite(scale) or scale == 0:
        raise ValueError(f"scaling_factor: expected a finite non-zero number, got {scale}")

    mean = getattr(cfg, "latents_mean", None)
    std = getattr(cfg, "latents_std", None)

    def reward(latents: torch.Tensor) -> torch.Tensor:
        if mean is not None and std is not None:
            view = (1, -1) + (1,) * (latents.dim() - 2)
            m = torch.as_tensor(mean, dtype=latents.dtype, device=latents.device).view(view)
            sd = torch.as_tensor(std, dtype=latents.dtype, device=latents.device).view(view)
            z = latents * sd / scale + m
        else:
            z = latents / scale + shift
        dtype = getattr(vae, "dtype", z.dtype)
        images = vae.decode(z.to(dtype), return_dict=False)[0]
        return image_reward(images.float())

    return reward
