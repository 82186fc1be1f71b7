"""Pure-PyTorch reference backend: device agnostic, float64-capable, the definition of correct."""

from .fkc_step import fkc_step
from .gmm_step import GaussianBumps, GaussianMixture, bump_reward, gmm_step, mixture_score
from .philox import philox_normal
from .select_particles import select_particles
from .systematic_resample import effective_sample_size, systematic_resample

__all__ = [
    "GaussianBumps",
    "GaussianMixture",
    "bump_reward",
    "gmm_step",
    "mixture_score",
    "effective_sample_size",
    "fkc_step",
    "philox_normal",
    "select_particles",
    "systematic_resample",
]
