"""The reference as a dispatch target: the pure-PyTorch ops behind the backend interface."""

from __future__ import annotations

import torch

from .. import reference
from ._step_args import StepScalars, StepTensors


class ReferenceBackend:
    name = "reference"

    def unavailable_reason(self, device: torch.device | None = None) -> str | None:
        return None

    def fkc_step(self, t: StepTensors, c: StepScalars) -> None:
        noise = t.noise
        if noise is None:
            noise = reference.philox_normal(t.seeds[0], t.seeds[1], t.x.numel(),
                                            device=t.x.device).view(t.x.shape)
        x_new, w_new = reference.fkc_step(
            t.x, t.w, t.score, t.reward_grad, t.reward, noise, h=c.h, g=c.g, lam=c.lam,
            dlam=c.dlam, f_coef=c.f_coef, f=t.f, dw_clip=c.dw_clip, w_clip=(c.w_min, c.w_max),
            extra_dw=t.extra_dw, increment=c.increment,
        )
        t.x_out.copy_(x_new)
        t.w_out.copy_(w_new)

    def select_particles(self, w, k, n_random, seeds):
        return reference.select_particles(w, k, n_random, seeds)

    def systematic_resample(self, logw, u):
        return reference.systematic_resample(logw, u=u)


BACKEND = ReferenceBackend()
