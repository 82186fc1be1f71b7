"""Public ops: validation, backend dispatch and the noise draw, over every backend."""

from ._backends import BACKEND_NAMES, available_backends, get_backend_object, unavailable_reason
from .fkc_step import fkc_step, fkc_step_
from .gmm_loop import gmm_loop_
from .gmm_step import gaussian_bumps, gaussian_mixture, gmm_step, gmm_step_
from .noise import draw_philox_seeds, noise_normals
from .select_particles import epsilon_greedy_split, select_particles
from .systematic_resample import effective_sample_size, systematic_resample

__all__ = [
    "BACKEND_NAMES",
    "available_backends",
    "draw_philox_seeds",
    "effective_sample_size",
    "epsilon_greedy_split",
    "fkc_step",
    "fkc_step_",
    "gaussian_bumps",
    "gaussian_mixture",
    "gmm_loop_",
    "gmm_step",
    "gmm_step_",
    "get_backend_object",
    "noise_normals",
    "select_particles",
    "systematic_resample",
    "unavailable_reason",
]
