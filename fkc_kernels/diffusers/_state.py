"""The per-run particle record of :class:`~fkc_kernels.diffusers.FKCScheduler`."""

from __future__ import annotations

import torch


class ParticleRecordMixin:
    """Log-weights, ancestry, ESS and the step position, kept between a pipeline's steps and
    cleared by :meth:`reset` (a mixin of FKCScheduler, which owns ``stepper``)."""

    def _init_record(self) -> None:
        self.num_inference_steps: int | None = None
        self.timesteps = torch.zeros(0, dtype=torch.long)
        self._begin_index: int | None = None
        self.reset()

    def reset(self) -> None:
        """Forget the particles' log-weights, ancestry and step position."""
        self.log_weights: torch.Tensor | None = None
        self._ancestors: list[torch.Tensor] = []
        self._ess: list[torch.Tensor] = []
        self._resampled: list[torch.Tensor] = []
        self.stepper.reset()
        self._step_index: int | None = None

    @property
    def ancestors(self) -> torch.Tensor:
        """long ``(steps taken, N)``: row ``i`` maps each slot to its parent before step ``i``'s
        resampling (the identity for steps that did not resample)."""
        if not self._ancestors:
            return torch.zeros((0, 0), dtype=torch.long)
        return torch.stack(self._ancestors)

    @property
    def ess(self) -> torch.Tensor:
        """float32 ``(steps taken,)``: ESS of all particles after each step, before resampling."""
        return torch.stack(self._ess) if self._ess else torch.zeros(0)

    @property
    def resampled(self) -> torch.Tensor:
        """bool ``(steps taken, N)``: whether each slot's group resampled after each step."""
        return torch.stack(self._resampled) if self._resampled else torch.zeros(0, dtype=bool)

    @property
    def step_index(self) -> int | None:
        return self._step_index

    @property
    def begin_index(self) -> int | None:
        return self._begin_index

    def set_begin_index(self, begin_index: int = 0) -> None:
        """Start at step ``begin_index`` (img2img pipelines call this)."""
        self._begin_index = int(begin_index)
