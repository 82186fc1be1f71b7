"""Built-in tasks: what the active loop needs to know about a base model and a user.

A :class:`Task` bundles a score function (the base diffusion model), the particle shape, the
oracle (the true reward; in real use a person), an optional hit test and a reward-network
factory. Users build one for their own model with ``Task(...)``; the built-in ones are
:func:`digits`, :func:`digits_liked`, :func:`digits_unet` (:mod:`.digits`), :func:`gmm` and
:func:`rare_mode` (:mod:`.mixtures`), by name in :data:`TASKS`.

Modules: :mod:`.task` (the type), :mod:`.mixture` (the exact mixture score), :mod:`.digits_data`
(the digits, their classifier and features), :mod:`.unet_model` (the digits UNet) and
:mod:`.train_digits_unet` (its trainer, ``python -m fkc_align.tasks.train_digits_unet``).
"""

from __future__ import annotations

from collections.abc import Callable

from .digits import digits, digits_liked, digits_unet, plot_images
from .digits_data import (
    DIGITS_FEATURES,
    DIGITS_SMOOTHING_STD,
    digit_log_probs,
    digits_features,
    load_digits_data,
)
from .mixture import mixture_log_density, mixture_score
from .mixtures import gmm, rare_mode
from .task import HitFn, OracleFn, ScoreFn, Task

TASKS: dict[str, Callable[..., Task]] = {"digits": digits, "digits-unet": digits_unet,
                                         "gmm": gmm,
                                         "digits-liked": digits_liked, "rare-mode": rare_mode}

__all__ = [
    "DIGITS_FEATURES", "DIGITS_SMOOTHING_STD", "TASKS", "HitFn", "OracleFn", "ScoreFn", "Task",
    "digit_log_probs", "digits", "digits_features", "digits_liked", "digits_unet", "gmm",
    "load_digits_data", "mixture_log_density", "mixture_score", "plot_images", "rare_mode",
]
