"""Public ops: validation, backend dispatch and the noise draw, over every backend."""

from ._backends import available_backends
from .fkc_step import fkc_step, fkc_step_
from .noise import draw_philox_seeds
from .resample import effective_sample_size, systematic_resample
from .selection import epsilon_greedy_split, select_particles

__all__ = [
    "available_backends",
    "draw_philox_seeds",
    "effective_sample_size",
    "epsilon_greedy_split",
    "fkc_step",
    "fkc_step_",
    "select_particles",
    "systematic_resample",
]
