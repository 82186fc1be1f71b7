"""What the CPU and CUDA backends share: the calls into ``torch.ops.fkc.*_ext``."""

from __future__ import annotations

import torch

from ..ops._gmm_args import GmmScalars, GmmTensors, flat_gmm_args
from ..ops._step_args import StepScalars, StepTensors, flat_step_args
from ._loader import has_kernel, load


class ExtBackend:
    """Backend object over the native library for one device type (docs/design.md, "Dispatch")."""

    name: str
    dispatch_key: str  # "CPU" or "CUDA"
    _kernel_found = False  # registrations never go away: once found, skip the dispatcher query

    def unavailable_reason(self, device: torch.device | None = None) -> str | None:
        if device is not None and torch.device(device).type != self.name:
            return f"the {self.name!r} backend runs {self.name.upper()} tensors only"
        result = load()
        if not result.ok:
            return f"the C++ extension is not loaded: {result.reason}"
        if not self._kernel_found:
            if not has_kernel("fkc_step_ext", self.dispatch_key):
                return self._no_kernel_reason()
            self._kernel_found = True
        return None

    def _no_kernel_reason(self) -> str:
        return f"the loaded C++ extension has no {self.dispatch_key} kernels"

    def fkc_step(self, tensors: StepTensors, scalars: StepScalars) -> None:
        torch.ops.fkc.fkc_step_ext(*flat_step_args(tensors, scalars))

    def select_particles(self, w, k, n_random, seeds):
        return torch.ops.fkc.select_particles_ext(w, k, n_random, seeds)

    def systematic_resample(self, logw, u):
        return torch.ops.fkc.systematic_resample_ext(logw, u)

    def noise_normals(self, seeds, numel, start):
        return torch.ops.fkc.philox_normal_ext(seeds, numel, start)

    def gmm_fused(self, d: int, n_mix: int, n_bumps: int) -> bool:
        """Whether the fused mixture kernels take the model (the CPU's: any)."""
        return True

    def gmm_step(self, tensors: GmmTensors, scalars: GmmScalars) -> None:
        """The fused mixture step (csrc/{cpu,cuda}/gmm_step_*), where ``gmm_fused``."""
        torch.ops.fkc.gmm_step_ext(*flat_gmm_args(tensors, scalars))

    def gmm_loop(self, tensors: GmmTensors, coefs: torch.Tensor, seeds: torch.Tensor,
                 ratio: bool, log_reward: bool) -> None:
        """K mixture steps in one call (csrc/{cpu,cuda}/gmm_loop_*), where ``gmm_fused``."""
        t = tensors
        torch.ops.fkc.gmm_loop_ext(t.x, t.w, t.means, t.variances, t.log_weights, t.centers,
                                   t.reward_variances, t.log_coefs, coefs, seeds, ratio,
                                   log_reward)
