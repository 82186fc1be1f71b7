"""Triton backend: fused FKC step, one-pass selection and systematic resampling.

Each op is registered as ``torch.ops.fkc.<op>_triton`` (schemas and fake kernels from
``fkc_kernels.ops._schemas``) with CPU and CUDA implementations, so ``torch.compile`` sees one
opaque call per op (eager calls of the two per-step ops skip the dispatcher and call the same
launcher). CUDA tensors run compiled kernels; CPU tensors run only under
``TRITON_INTERPRET=1`` (set before this module is imported), which is how CI tests the kernels.
Importing raises when triton is missing; the backend registry catches that.
"""

from __future__ import annotations

import os

import torch
import triton  # noqa: F401  (fail here, clearly, when triton is missing)

from ..ops._gmm_args import GmmScalars, GmmTensors, flat_gmm_args
from ..ops._schemas import define_backend_ops
from ..ops._step_args import StepScalars, StepTensors, flat_step_args, split_step_args
from .fkc_step import fkc_step as _fkc_step
from .gmm_loop import gmm_loop as _gmm_loop
from .gmm_step import MAX_D as _GMM_MAX_D
from .gmm_step import gmm_step as _gmm_step
from .gmm_step import launch as _gmm_launch
from .noise import philox_normal as _philox_normal
from .select_particles import select_particles as _select_particles
from .systematic_resample import systematic_resample as _systematic_resample

OPS = define_backend_ops("triton")
# the noise op is eager-only (the sharded sampler's draw before a step): defined here, not with
# the three ops every compiled backend shares
NOISE_OP = "fkc::philox_normal_triton"
torch.library.define(NOISE_OP, "(Tensor seeds, int numel, int start=0) -> Tensor")
torch.library.register_fake(NOISE_OP)(
    lambda seeds, numel, start=0: seeds.new_empty((numel,), dtype=torch.float32))
_INTERPRET = os.environ.get("TRITON_INTERPRET", "0") == "1"


def _step_impl(*args) -> None:
    _fkc_step(*split_step_args(args))


for _device in ("CPU", "CUDA"):
    torch.library.impl(OPS["fkc_step"], _device)(_step_impl)
    torch.library.impl(OPS["select_particles"], _device)(_select_particles)
    torch.library.impl(OPS["systematic_resample"], _device)(_systematic_resample)
    torch.library.impl(NOISE_OP, _device)(_philox_normal)
    torch.library.impl(OPS["gmm_step"], _device)(_gmm_step)


class TritonBackend:
    """The backend object of ``fkc_kernels.ops._backends`` (interface documented there)."""

    name = "triton"

    def unavailable_reason(self, device: torch.device | None = None) -> str | None:
        """``None`` when Triton can run on ``device`` (any device when ``None``), else why not."""
        interpret = os.environ.get("TRITON_INTERPRET", "0") == "1"
        if device is not None:
            device = torch.device(device)
            if device.type not in ("cpu", "cuda"):
                return f"the Triton backend does not run {device.type} tensors"
            if device.type == "cpu" and not interpret:
                return "the Triton backend runs CPU tensors only under TRITON_INTERPRET=1"
        if interpret != _INTERPRET:
            # @triton.jit reads the variable when the kernels are defined, at import
            return ("TRITON_INTERPRET changed after the Triton kernels were imported; set it "
                    "before importing fkc_kernels")
        if device is None:
            if interpret or torch.cuda.is_available():
                return None
            return ("no CUDA device is visible, and the Triton backend runs CPU tensors only "
                    "under TRITON_INTERPRET=1")
        if device.type == "cuda" and interpret:
            return "TRITON_INTERPRET=1 is set, so the Triton backend runs CPU tensors only"
        return None

    def fkc_step(self, tensors: StepTensors, scalars: StepScalars) -> None:
        if torch.compiler.is_compiling():
            torch.ops.fkc.fkc_step_triton(*flat_step_args(tensors, scalars))
        else:
            # eager: the launcher itself, without boxing ~30 arguments through the dispatcher
            # and back into Python (8 us a call on a 2-core box); the op's implementation is
            # this same launcher
            _fkc_step(tensors, scalars)

    def select_particles(self, w: torch.Tensor, k: int, n_random: int,
                         seeds: torch.Tensor) -> torch.Tensor:
        return torch.ops.fkc.select_particles_triton(w, k, n_random, seeds)

    def systematic_resample(self, logw: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        return torch.ops.fkc.systematic_resample_triton(logw, u)

    def noise_normals(self, seeds: torch.Tensor, numel: int, start: int) -> torch.Tensor:
        return torch.ops.fkc.philox_normal_triton(seeds, numel, start)

    def gmm_fused(self, d: int, n_mix: int, n_bumps: int) -> bool:
        """Whether the kernel takes the model: rows of at most 1024 (any number of components)."""
        return d <= _GMM_MAX_D

    def gmm_step(self, tensors: GmmTensors, scalars: GmmScalars) -> None:
        if torch.compiler.is_compiling():
            torch.ops.fkc.gmm_step_triton(*flat_gmm_args(tensors, scalars))
        else:  # eager: the launcher itself, as fkc_step
            _gmm_launch(tensors, scalars)

    def gmm_loop(self, tensors: GmmTensors, coefs: torch.Tensor, seeds: torch.Tensor,
                 ratio: bool, log_reward: bool) -> None:
        """K mixture steps in one launch after one for their component tables
        (fkc_kernels/triton/gmm_loop.py), eager only."""
        _gmm_loop(tensors, coefs, seeds, ratio=ratio, log_reward=log_reward)


BACKEND = TritonBackend()
