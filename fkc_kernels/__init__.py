"""fkc-kernels: fused kernels for reward-tilted Feynman-Kac Corrector diffusion sampling.

Public API (docs/design.md, "The public API"): the ops dispatch to the fastest available
backend and fall back to the pure-PyTorch reference, so importing never fails because a kernel
is missing.
"""

from .grid_schedules import EDMSchedule, FlowMatchingSchedule
from .guidance import cfg_log_weight_increment
from .ops import (
    available_backends,
    draw_philox_seeds,
    effective_sample_size,
    epsilon_greedy_split,
    fkc_step,
    fkc_step_,
    gaussian_bumps,
    gaussian_mixture,
    gmm_loop_,
    gmm_step,
    gmm_step_,
    select_particles,
    systematic_resample,
)
from .reference.philox import philox_normal
from .rewards import zero_reward
from .sampler import FKCSampler, SampleResult
from .schedules import (
    DiscreteVPSchedule,
    GridSchedule,
    LinearTilt,
    Schedule,
    StepCoefficients,
    VESchedule,
    VPSchedule,
    score_from_eps,
    score_from_flow,
    score_from_prediction,
    score_from_v,
    score_from_x0,
    tau_to_timestep,
    timestep_to_tau,
    x0_from_score,
)

__version__ = "0.1.0"

__all__ = [
    "DiscreteVPSchedule",
    "EDMSchedule",
    "FKCSampler",
    "FlowMatchingSchedule",
    "GridSchedule",
    "LinearTilt",
    "SampleResult",
    "Schedule",
    "StepCoefficients",
    "VESchedule",
    "VPSchedule",
    "available_backends",
    "draw_philox_seeds",
    "cfg_log_weight_increment",
    "effective_sample_size",
    "epsilon_greedy_split",
    "fkc_step",
    "fkc_step_",
    "gaussian_bumps",
    "gaussian_mixture",
    "gmm_loop_",
    "gmm_step",
    "gmm_step_",
    "philox_normal",
    "score_from_eps",
    "score_from_flow",
    "score_from_prediction",
    "score_from_v",
    "score_from_x0",
    "select_particles",
    "systematic_resample",
    "tau_to_timestep",
    "timestep_to_tau",
    "x0_from_score",
    "zero_reward",
]
