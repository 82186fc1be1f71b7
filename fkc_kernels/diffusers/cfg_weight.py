"""FKC's classifier-free-guidance weight inside a pipeline that runs CFG itself."""

from __future__ import annotations

from typing import Any

import torch

from ..guidance import cfg_log_weight_from_gap
from .score import output_to_score_slope


class CFGWeightMixin:
    """:meth:`add_cfg_weight` and the per-step term it gives (a mixin of FKCScheduler, which
    has ``prediction_type``)."""

    _cfg_scale: float | None = None
    _cfg_output: torch.Tensor | None = None

    def add_cfg_weight(self, unet: Any, guidance_scale: float) -> Any:
        """Add FKC's classifier-free-guidance weight inside a pipeline that does CFG itself.

        A pipeline such as ``StableDiffusionPipeline`` runs the UNet on ``[uncond; cond]`` and
        hands the scheduler only the combined output. This registers a forward hook on
        ``unet`` that keeps the two halves of its last output; each :meth:`step` then adds
        ``h*(g²/2)*w*(w-1)*||s_c - s_u||²`` to the log-weights (see
        :mod:`fkc_kernels.guidance`), so with ``weights="smc"`` the particles target
        ``q_c^w q_u^(1-w)`` instead of following plain CFG. ``guidance_scale`` must be the
        pipeline call's. Returns the hook handle (``handle.remove()`` detaches it).
        """
        if not hasattr(unet, "register_forward_hook"):
            raise TypeError(f"unet: expected a torch.nn.Module, got {type(unet).__name__}")
        self._cfg_scale = float(guidance_scale)

        def keep_output(module, args, output):
            out = output[0] if isinstance(output, tuple) else getattr(output, "sample", output)
            self._cfg_output = out.detach()

        return unet.register_forward_hook(keep_output)

    def _cfg_term(self, n: int, c) -> torch.Tensor | None:
        out = self._cfg_output
        if self._cfg_scale is None or out is None:
            return None
        self._cfg_output = None
        if out.shape[0] != 2 * n:
            raise ValueError(f"add_cfg_weight: the UNet's last output has {out.shape[0]} rows, "
                             f"expected 2 x {n} particles ([uncond; cond]); is the pipeline "
                             f"running classifier-free guidance (guidance_scale > 1)?")
        u, cnd = out.float().chunk(2)
        slope = output_to_score_slope(self.prediction_type, c.alpha, c.sigma)
        gap = ((cnd - u).reshape(n, -1) ** 2).sum(1) * slope * slope
        return cfg_log_weight_from_gap(gap, self._cfg_scale, h=c.h, g=c.g)
