"""FKC inside diffusers pipelines (the optional ``[diffusers]`` extra).

    from fkc_kernels.diffusers import FKCScheduler
    pipe.scheduler = FKCScheduler.from_scheduler(pipe.scheduler, reward_fn, lam_max=4.0)
    images = pipe(batch_size=16).images
    pipe.scheduler.log_weights, pipe.scheduler.ancestors, pipe.scheduler.resample_final(x)

:class:`FKCScheduler` replaces any DDPM/DDIM-family scheduler (anything exposing
``alphas_cumprod`` and ``set_timesteps``); :class:`UNetScore` turns a UNet plus a schedule into
the ``score_fn(x, tau)`` of :class:`fkc_kernels.FKCSampler`. Importing ``fkc_kernels`` never
imports this package; this package imports diffusers (``FKCScheduler`` is a diffusers
``SchedulerMixin`` + ``ConfigMixin``, so pipelines save and load it).
"""

from ._grid import schedule_from_scheduler
from .scheduler import FKCScheduler, FKCSchedulerOutput
from .score import UNetScore
from .vae import decoded_reward

__all__ = [
    "FKCScheduler",
    "FKCSchedulerOutput",
    "UNetScore",
    "decoded_reward",
    "schedule_from_scheduler",
]
