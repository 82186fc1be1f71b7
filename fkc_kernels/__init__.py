"""fkc-kernels: fused kernels for reward-tilted Feynman-Kac Corrector diffusion sampling.

Public API (docs/design.md, "The public API"): the ops dispatch to the fastest available
backend and fall back to the pure-PyTorch reference, so importing never fails because a kernel
is missing.
"""

from .ops import (
    available_backends,
    draw_philox_seeds,
    effective_sample_size,
    epsilon_greedy_split,
    fkc_step,
    fkc_step_,
    select_particles,
    systematic_resample,
)
from .reference.philox import philox_normal
from .sampler import FKCSampler, SampleResult
from .schedules import LinearTilt, VESchedule, VPSchedule, score_from_eps, score_from_x0

__version__ = "0.1.0"

__all__ = [
    "FKCSampler",
    "LinearTilt",
    "SampleResult",
    "VESchedule",
    "VPSchedule",
    "available_backends",
    "draw_philox_seeds",
    "effective_sample_size",
    "epsilon_greedy_split",
    "fkc_step",
    "fkc_step_",
    "philox_normal",
    "score_from_eps",
    "score_from_x0",
    "select_particles",
    "systematic_resample",
]
