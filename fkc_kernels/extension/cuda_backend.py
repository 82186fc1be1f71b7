"""The ``"cuda"`` backend: the CUDA kernels of csrc/cuda/ (docs/design.md, "Dispatch")."""

from __future__ import annotations

import torch

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


BACKEND = CUDABackend()
