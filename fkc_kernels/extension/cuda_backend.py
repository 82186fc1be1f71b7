"""The ``"cuda"`` backend: the CUDA kernels of csrc/cuda/ (docs/design.md, "Dispatch")."""

from __future__ import annotations

import torch

from ..ops._gmm_args import GmmScalars, GmmTensors, flat_gmm_args
from ._common import ExtBackend


class CUDABackend(ExtBackend):
    name = "cuda"
    dispatch_key = "CUDA"

    def unavailable_reason(self, device: torch.device | None = None) -> str | None:
        if not torch.cuda.is_available():
            return "no CUDA device is visible (torch.cuda.is_available() is False)"
        return super().unavailable_reason(device)

    def _no_kernel_reason(self) -> str:
        return ("the loaded C++ extension was built without CUDA kernels (rebuild with CUDA "
                "usable or FKC_FORCE_CUDA=1 and CUDA_HOME set)")

    def gmm_fused(self, d: int, n_mix: int, n_bumps: int) -> bool:
        """Whether the kernel takes the model: csrc/cuda/gmm_step_cuda.h, rows of at most
        kGmmMaxD = 512 and per-block tables of at most kGmmMaxTableFloats = 8192 floats."""
        return d <= 512 and (n_mix + n_bumps) * (2 * d + 1) <= 8192

    def gmm_step(self, tensors: GmmTensors, scalars: GmmScalars) -> None:
        """The fused mixture step (csrc/cuda/gmm_step_cuda.cu), where ``gmm_fused``."""
        torch.ops.fkc.gmm_step_ext(*flat_gmm_args(tensors, scalars))

    def gmm_loop(self, tensors: GmmTensors, coefs: torch.Tensor, seeds: torch.Tensor,
                 ratio: bool, log_reward: bool) -> None:
        """K mixture steps in one launch (csrc/cuda/gmm_loop_cuda.cu), where ``gmm_fused``."""
        t = tensors
        torch.ops.fkc.gmm_loop_ext(t.x, t.w, t.means, t.variances, t.log_weights, t.centers,
                                   t.reward_variances, t.log_coefs, coefs, seeds, ratio,
                                   log_reward)


BACKEND = CUDABackend()
