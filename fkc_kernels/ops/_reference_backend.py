"""The reference as a dispatch target: the pure-PyTorch ops behind the backend interface."""

from __future__ import annotations

import torch

from .. import reference


class ReferenceBackend:
    name = "reference"

    def unavailable_reason(self, device: torch.device | None = None) -> str | None:
        return None

    def fkc_step(self, x, w, score, reward_grad, reward, extra_dw, f, noise, seeds, x_out,
                 w_out, *,
                 h, g, lam, dlam, f_coef, dw_clip, w_min, w_max) -> None:
        if noise is None:
            noise = reference.philox_normal(seeds[0], seeds[1], x.numel(), device=x.device)
            noise = noise.view(x.shape)
        x_new, w_new = reference.fkc_step(
            x, w, score, reward_grad, reward, noise, h=h, g=g, lam=lam, dlam=dlam,
            f_coef=f_coef, f=f, dw_clip=dw_clip, w_clip=(w_min, w_max), extra_dw=extra_dw,
        )
        x_out.copy_(x_new)
        w_out.copy_(w_new)

    def select_particles(self, w, k, n_random, seeds):
        return reference.select_particles(w, k, n_random, seeds)

    def systematic_resample(self, logw, u):
        return reference.systematic_resample(logw, u=u)

    def noise_normals(self, seeds, numel, start):
        return reference.philox_normal(seeds[0], seeds[1], numel, device=seeds.device,
                                       start=start)


BACKEND = ReferenceBackend()
