"""Groups that follow a pipeline's prompts (``groups="prompts"``)."""

from __future__ import annotations

from typing import Any

import torch


class PromptGroupsMixin:
    """:meth:`follow_prompts`: one resampling group per distinct prompt embedding (a mixin of
    FKCScheduler, which owns ``stepper``)."""

    _prompt_rows: torch.Tensor | None = None

    def follow_prompts(self, unet: Any) -> Any:
        """Resample within each prompt's images, whatever ``batch_size`` and
        ``num_images_per_prompt`` a pipeline call uses.

        Registers a forward pre-hook on ``unet`` that keeps the ``encoder_hidden_states`` of
        its last call; each step then groups the particles by distinct prompt embedding (the
        conditional half under classifier-free guidance's ``[uncond; cond]`` batch), so one
        prompt's particles never replace another's. Sets ``groups="prompts"``; returns the hook
        handle (``handle.remove()`` detaches it).
        """
        if not hasattr(unet, "register_forward_pre_hook"):
            raise TypeError(f"unet: expected a torch.nn.Module, got {type(unet).__name__}")
        self.groups = "prompts"

        def keep_prompts(module, args, kwargs):
            rows = kwargs.get("encoder_hidden_states", args[2] if len(args) > 2 else None)
            if rows is not None:
                self._prompt_rows = rows.detach()

        return unet.register_forward_pre_hook(keep_prompts, with_kwargs=True)

    @property
    def _follows_prompts(self) -> bool:
        return isinstance(self.groups, str) and self.groups == "prompts"

    def _prompt_labels(self, n: int) -> torch.Tensor:
        """Group labels ``(n,)``: equal for particles with the same prompt embedding."""
        rows = self._prompt_rows
        if rows is None:
            raise ValueError("groups: 'prompts' needs scheduler.follow_prompts(pipe.unet) and a "
                             "UNet call with encoder_hidden_states before the step")
        if rows.shape[0] == 2 * n:  # classifier-free guidance: [uncond; cond]
            rows = rows[n:]
        if rows.shape[0] != n:
            raise ValueError(f"groups: the UNet's last encoder_hidden_states has "
                             f"{rows.shape[0]} rows, expected {n} or 2 x {n} particles")
        return torch.unique(rows.reshape(n, -1), dim=0, return_inverse=True)[1]
