"""FKC as a diffusers scheduler.

``pipe.scheduler = FKCScheduler.from_scheduler(pipe.scheduler, reward_fn, lam_max=4.0)`` turns a
pipeline's batch into FKC particles: each ``step`` takes the pipeline's own stochastic step (or
a documented stand-in) as the base transition, adds the reward's guidance to its mean, weights by
the exact sequential-Monte-Carlo increment and resamples within groups.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import torch

# module-level names: diffusers' pipeline loader looks SchedulerMixin up in this module to pick
# from_pretrained as the loading method of a scheduler saved inside a pipeline
from diffusers import ConfigMixin, SchedulerMixin
from diffusers.configuration_utils import FrozenDict
from diffusers.utils import BaseOutput

from ..ops import effective_sample_size
from ..particles import (
    check_generator,
    first_generator,
    group_labels,
    per_particle_normal,
    resample_in_groups,
)
from ..rewards import RewardFn
from ..schedules import PREDICTION_TYPES, DiscreteVPSchedule, LinearTilt
from ..stepper import Move, ParticleStepper
from ._grid import schedule_from_scheduler
from ._prompts import PromptGroupsMixin
from ._state import ParticleRecordMixin
from .cfg_weight import CFGWeightMixin
from .proposals import BaseStep, choose_proposal, grid_base, native_base
from .sigma_sources import SigmaSchedule


@dataclass
class FKCSchedulerOutput(BaseOutput):
    """What :meth:`FKCScheduler.step` returns (a diffusers ``BaseOutput``: ``out.prev_sample``,
    ``out["prev_sample"]`` and ``out[0]`` all work).

    Attributes:
        prev_sample: the particles after the step (resampled when the step resampled).
        pred_original_sample: the denoised estimate ``x0_hat`` of the particles before the step.
        log_weights: float32 ``(N,)`` after the step.
        ancestors: long ``(N,)``: slot ``j`` now holds the descendant of particle
            ``ancestors[j]`` (the identity when nothing was resampled).
    """

    prev_sample: torch.Tensor
    pred_original_sample: torch.Tensor | None = None
    log_weights: torch.Tensor | None = None
    ancestors: torch.Tensor | None = None


class FKCScheduler(ParticleRecordMixin, PromptGroupsMixin, CFGWeightMixin, SchedulerMixin,
                   ConfigMixin):
    """A drop-in diffusers scheduler that samples with reward-tilted FKC.

    The pipeline's batch is the particle set. Each :meth:`step` (1) reads the reward at the
    particles' denoised estimate (``reward_at``), in chunks of ``reward_batch_size``, (2) takes
    the base transition ``proposal`` (default: the source scheduler's own stochastic step, or the
    DDPM posterior on the same grid for deterministic sources), (3) adds ``λ_t·g²·∇r`` to its
    mean and weights by the exact sequential-Monte-Carlo increment (the log-ratio of base to
    guided transition plus the potential difference), so the weighted particles target the
    source sampler's own output tilted by ``exp(λ(1)·r)``; (4) resamples within ``groups`` when
    a group's ESS falls below ``ess_threshold``. Log-weights, ESS and ancestors are kept on the
    scheduler and reset by :meth:`set_timesteps` (every pipeline call) or :meth:`reset`.

    Build it with :meth:`from_scheduler` from the pipeline's own scheduler. With the grid
    proposals (``"posterior"``, ``"euler_maruyama"``) it keeps VP latents
    (``init_noise_sigma = 1``, ``scale_model_input`` is the identity), so it also replaces
    Euler/LMS-style schedulers whose latents are scaled; with a native proposal the latents are
    the source's (Euler ancestral's are sigma-scaled).

    Args:
        schedule: the discrete VP schedule (:func:`schedule_from_scheduler`).
        reward_fn: ``reward_fn(x) -> r`` ``(n,)`` or ``(r, ∇r)`` on the pipeline's samples
            (latents for Stable Diffusion: decode inside, see :func:`decoded_reward`); ``None``
            samples the base model (plain Euler-Maruyama, log-weights 0).
        tilt: anything with ``lam(t)``, ``dlam(t)`` (default ``LinearTilt(lam_max)``).
        lam_max: shortcut for ``tilt=LinearTilt(lam_max)`` (default 1.0 with a reward).
        prediction_type: default the source scheduler's ``config.prediction_type``.
        weights: ``"smc"`` (default: exact sequential-Monte-Carlo weights, docs/design.md
            "Exact weights"), ``"fkc"`` (the seed's Algorithm 2 increment, unclipped) or
            ``"seed"`` (clipped ranking weights; ``dw_clip``/``w_clip`` apply). The last two
            take Euler-Maruyama steps.
        proposal: ``"auto"`` (default: the source's own step for DDPM, DDIM and Euler
            ancestral, else ``"posterior"``), ``"ddpm"``, ``"ddim"``, ``"euler_ancestral"``,
            ``"posterior"`` or ``"euler_maruyama"`` (:mod:`fkc_kernels.diffusers.proposals`).
        resample: ``"auto"`` (default: ``"ess"``; ``None`` with ``weights="seed"``), ``"ess"``,
            ``"always"`` or ``None`` (systematic, within groups, after a step).
        ess_threshold: a group resamples when its ESS < this fraction of its size.
        reward_at: ``"x0_hat"`` (default: the reward of the denoised estimate) or ``"x"``.
        reward_grad: ``"autograd"`` (guided proposal; a clear error if the reward has no
            gradient) or ``"none"``: potential only, the particles move by the base transition
            and resampling does the steering (Feynman-Kac steering).
        reward_batch_size: particles per reward call (bounded memory whatever N).
        groups: ``None`` (one group), an int ``G`` (contiguous blocks: one per prompt when a
            pipeline runs ``G`` prompts with ``num_images_per_prompt``; a ``G`` that does not
            divide the batch is an error), labels ``(N,)`` or ``"prompts"`` (one group per
            distinct prompt embedding, whatever the call's batch: :meth:`follow_prompts`).
        generator: used when the pipeline passes none (one generator or one per particle).
        backend: backend of the fused ops.
        config: the source scheduler's config (exposed as ``.config``).
        source: the source scheduler (a copy drives the native proposals).
    """

    order = 1
    config_name = "scheduler_config.json"
    # not config: objects, callables, the reward (re-attached with set_reward after loading)
    ignore_for_config = ["schedule", "reward_fn", "tilt", "generator", "config", "source"]
    _compatibles: list = []

    def __init__(
        self,
        schedule: DiscreteVPSchedule | None = None,
        reward_fn: RewardFn | None = None,
        *,
        tilt: Any = None,
        lam_max: float | None = None,
        prediction_type: str = "epsilon",
        weights: str = "smc",
        proposal: str = "auto",
        resample: str | None = "auto",
        ess_threshold: float = 0.5,
        reward_at: str = "x0_hat",
        reward_grad: str = "autograd",
        reward_batch_size: int | None = None,
        groups: int | torch.Tensor | None = None,
        generator: torch.Generator | list[torch.Generator] | None = None,
        backend: str = "auto",
        dw_clip: float | None = 0.1,
        w_clip: tuple[float, float] | None = (0.1, 10.0),
        config: Any = None,
        source: Any = None,
        source_class: str | None = None,
        source_config: dict | None = None,
    ) -> None:
        settings = {k: v for k, v in locals().items() if k in _CONFIG_KEYS}
        if schedule is None and source is None:
            source = _source_from_config(source_class, source_config)
        if schedule is None:
            schedule, config = schedule_from_scheduler(source), source.config
        tilt = _checked_arguments(schedule, prediction_type, reward_fn, tilt, lam_max, groups)
        self._lam_max = lam_max
        self.stepper = ParticleStepper(
            reward_fn, tilt, weights=weights, resample=resample, ess_threshold=ess_threshold,
            reward_at=reward_at, reward_grad=reward_grad, reward_batch_size=reward_batch_size,
            groups=None if isinstance(groups, str) else groups, backend=backend,
            dw_clip=dw_clip, w_clip=w_clip)
        self.proposal = choose_proposal(proposal, source, self.stepper.exact)
        self._source_scheduler = source
        # what save_pretrained writes and from_config rebuilds from (the reward and other
        # objects are not config); registered by hand: diffusers' decorator would misalign
        # positional arguments with the ignored ones
        settings["groups"] = groups if isinstance(groups, (int, str)) else None
        settings["w_clip"] = None if w_clip is None else list(w_clip)
        self.register_to_config(**settings)
        self._source = copy.deepcopy(source) if self.proposal in (
            "ddpm", "ddim", "euler_ancestral") else None
        self.schedule, self.reward_fn, self.tilt = schedule, reward_fn, tilt
        self.prediction_type, self.weights = prediction_type, weights
        self.resample, self.ess_threshold = self.stepper.resample, float(ess_threshold)
        self.reward_at, self.reward_grad = reward_at, reward_grad
        self.reward_batch_size = self.stepper.reward_batch_size
        self.groups, self.generator, self.backend = groups, generator, backend
        self._config = config
        self.init_noise_sigma = float(schedule.prior_std if self._source is None
                                      else self._source.init_noise_sigma)
        self._cfg_scale: float | None = None
        self._cfg_output: torch.Tensor | None = None
        self._init_record()

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_scheduler(cls, scheduler: Any, reward_fn: RewardFn | None = None,
                       **kwargs: Any) -> FKCScheduler:
        """Build from a pipeline's scheduler (anything with ``alphas_cumprod`` and
        ``set_timesteps``): its ``alphas_cumprod``, timestep spacing and ``prediction_type``.
        Keyword arguments are those of :class:`FKCScheduler`."""
        schedule = schedule_from_scheduler(scheduler)
        config = getattr(scheduler, "config", None)
        if "prediction_type" not in kwargs:
            pt = getattr(schedule, "prediction_type", None) or \
                getattr(config, "prediction_type", None) or "epsilon"
            if pt not in _prediction_types(schedule):
                raise ValueError(f"scheduler: prediction_type {pt!r} is not supported (expected "
                                 f"one of {PREDICTION_TYPES[:3]})")
            kwargs["prediction_type"] = pt
        source = getattr(scheduler, "_source_scheduler", scheduler)
        cfg = getattr(source, "config", None)
        saved = (type(source).__name__, dict(cfg)) if isinstance(cfg, dict) else (None, None)
        return cls(schedule, reward_fn, config=config, source=source, source_class=saved[0],
                   source_config=saved[1], **kwargs)

    def set_reward(self, reward_fn: RewardFn, tilt: Any = None) -> None:
        """Attach the reward (it is not config: a scheduler loaded with ``from_pretrained``
        or ``from_config`` has none). ``tilt`` default: ``LinearTilt(lam_max)`` as configured
        (1.0 when no ``lam_max`` was given)."""
        if not callable(reward_fn):
            raise TypeError(f"reward_fn: expected a callable, got {type(reward_fn).__name__}")
        if tilt is None:
            tilt = LinearTilt(1.0 if self._lam_max is None else self._lam_max)
        self.reward_fn = self.stepper.reward_fn = reward_fn
        self.tilt = self.stepper.tilt = tilt

    @property
    def config(self) -> Any:
        """The source scheduler's config (``num_train_timesteps``, ``prediction_type``, ...)
        with FKC's own registered settings on top (what ``save_pretrained`` writes)."""
        merged = dict(self._config) if isinstance(self._config, dict) else {}
        merged.update(getattr(self, "_internal_dict", {}))
        return FrozenDict(merged)

    def __len__(self) -> int:
        return self.schedule.num_train_timesteps

    @property
    def alphas_cumprod(self) -> torch.Tensor:
        """The source scheduler's ``alphas_cumprod`` (float64 ``(T,)``)."""
        return torch.tensor(self.schedule.alphas_cumprod, dtype=torch.float64)

    def set_timesteps(self, num_inference_steps: int | None = None,
                      device: str | torch.device | None = None,
                      timesteps: list[int] | None = None) -> None:
        """Choose the sampling grid (the source scheduler's spacing) and reset the particles.

        ``timesteps``: custom strictly decreasing timesteps instead of ``num_inference_steps``.
        """
        if timesteps is not None:
            if num_inference_steps is not None:
                raise ValueError("num_inference_steps, timesteps: give one of them, got both")
            fixed = self.schedule.with_timesteps(timesteps)
            ts = fixed.timesteps(len(timesteps))
            self._grid_schedule = fixed
        else:
            if num_inference_steps is None:
                raise ValueError("num_inference_steps: expected an int >= 1, got None")
            ts = self.schedule.timesteps(num_inference_steps)
            self._grid_schedule = self.schedule
        self.num_inference_steps = len(ts)
        integral = all(float(t).is_integer() for t in ts)
        self.timesteps = torch.tensor(ts, dtype=torch.long if integral else torch.float32,
                                      device=device)
        self._begin_index = None
        if self._source is not None:  # the native proposal steps the source in lockstep
            if timesteps is not None:
                self._source.set_timesteps(timesteps=list(timesteps), device=device)
            else:
                self._source.set_timesteps(num_inference_steps, device=device)
            self.init_noise_sigma = float(self._source.init_noise_sigma)
        self.reset()

    def scale_model_input(self, sample: torch.Tensor, timestep: Any = None) -> torch.Tensor:
        """The source's scaling with a native proposal (Euler ancestral's latents are
        sigma-scaled), else the identity (FKC's own particles are the VP latents)."""
        if self._source is not None:
            return self._source.scale_model_input(sample, timestep)
        if isinstance(self.schedule, SigmaSchedule):  # EDM's c_in
            return self.schedule.scale_model_input(sample, timestep)
        return sample

    def add_noise(self, original_samples: torch.Tensor, noise: torch.Tensor,
                  timesteps: torch.Tensor) -> torch.Tensor:
        """``alpha_t*x0 + sigma_t*noise`` at (per-sample) timesteps (img2img / SDEdit starts)."""
        ts = torch.as_tensor(timesteps).reshape(-1).tolist()
        if len(ts) == 1:
            ts = ts * original_samples.shape[0]
        coef = [(self.schedule.alpha(self.schedule.timestep_to_tau(t)),
                 self.schedule.sigma(self.schedule.timestep_to_tau(t))) for t in ts]
        shape = (-1,) + (1,) * (original_samples.dim() - 1)
        a = torch.tensor([c[0] for c in coef], dtype=torch.float32,
                         device=original_samples.device).reshape(shape)
        s = torch.tensor([c[1] for c in coef], dtype=torch.float32,
                         device=original_samples.device).reshape(shape)
        return (a * original_samples.float() + s * noise.float()).to(original_samples.dtype)

    def _index_of(self, timestep: Any) -> int:
        if self.num_inference_steps is None:
            raise RuntimeError("step: call set_timesteps(num_inference_steps) first")
        if self._step_index is not None:
            return self._step_index
        if self._begin_index is not None:
            return self._begin_index
        t = float(timestep.item() if isinstance(timestep, torch.Tensor) else timestep)
        diffs = (self.timesteps.double().cpu() - t).abs()
        i = int(torch.argmin(diffs))
        if float(diffs[i]) > 1e-3:
            raise ValueError(f"timestep: {t} is not one of this scheduler's timesteps "
                             f"{self.timesteps.tolist()[:5]}...")
        return i

    # ------------------------------------------------------------------ the step

    def _base_step(self, model_output, timestep, x, i, generator, variance_noise,
                   eta) -> BaseStep:
        """The step's base transition (:mod:`fkc_kernels.diffusers.proposals`)."""
        c = self._grid_schedule.at_step(i, self.num_inference_steps)
        noise = variance_noise
        if noise is None and isinstance(generator, list) and self._source is None:
            noise = per_particle_normal(tuple(x.shape), generator, x.device, x.dtype)
        if self._source is None:
            nxt = (self._grid_schedule.at_step(i + 1, self.num_inference_steps)
                   if i + 1 < self.num_inference_steps else None)
            x0 = self.schedule.x0_from_output(model_output.detach(), x, c.sigma) \
                if isinstance(self.schedule, SigmaSchedule) else None
            return grid_base(self.proposal, model_output.detach(), x, c, nxt,
                             self.prediction_type, noise, x0)
        mean, std, x0, noise = native_base(self.proposal, self._source, model_output.detach(),
                                           timestep, x, generator, noise, eta)
        alpha, sigma = (1.0, c.sigma / c.alpha) if self.proposal == "euler_ancestral" \
            else (c.alpha, c.sigma)
        move = Move(mean.to(x.dtype), torch.zeros_like(x), 1.0, std, 0.0)
        return BaseStep(move, x0.float(), noise, alpha, sigma)

    def step(
        self,
        model_output: torch.Tensor,
        timestep: int | float | torch.Tensor,
        sample: torch.Tensor,
        generator: torch.Generator | list[torch.Generator] | None = None,
        return_dict: bool = True,
        extra_dw: torch.Tensor | None = None,
        variance_noise: torch.Tensor | None = None,
        eta: float = 0.0,
        use_clipped_model_output: bool = False,
    ) -> FKCSchedulerOutput | tuple[torch.Tensor, torch.Tensor]:
        """One FKC step of the particles ``sample`` ``(N, ...)`` at ``timestep``.

        Args:
            model_output: the UNet's (CFG-combined) output for ``sample``.
            generator: noise and resampling source (``None``: the scheduler's own; a list gives
                particle ``i`` the noise of ``generator[i]``, diffusers' convention).
            extra_dw: optional float32 ``(N,)`` added to the log-weight increment (e.g.
                :func:`fkc_kernels.guidance.cfg_log_weight_increment`).
            variance_noise: the step's standard normal noise ``(N, ...)`` instead of drawing it
                (DDIM's name for it).
            eta: DDIM's eta for the ``"ddim"`` proposal (0, deterministic DDIM, takes 1).
            use_clipped_model_output: accepted for DDIM pipelines and ignored.
        """
        del use_clipped_model_output
        if self.reward_fn is None and self.tilt.lam(1.0) != 0.0:
            raise ValueError(f"reward_fn: this FKCScheduler has lam_max={self._lam_max} but no "
                             f"reward (not saved with the config); attach it with "
                             f"scheduler.set_reward(reward_fn)")
        i = self._index_of(timestep)
        n_steps, n = self.num_inference_steps, sample.shape[0]
        _check_step_inputs(model_output, sample, variance_noise)
        if self.log_weights is None or self.log_weights.shape[0] != n:
            self.log_weights = torch.zeros(n, dtype=torch.float32, device=sample.device)
            self.stepper.reset()
        w = self.log_weights
        if self._follows_prompts:
            self.stepper.groups = self._prompt_labels(n)
        generator = check_generator(generator if generator is not None else self.generator, n)
        base = self._base_step(model_output, timestep, sample.detach(), i, generator,
                               variance_noise, eta)
        at, scale = self.stepper.reward_point(sample.detach(),
                                              lambda: base.x0_hat.to(sample.dtype),
                                              base.alpha, base.sigma)
        self.stepper.step_(base.move, w, at, t=self._grid_schedule.at_step(i, n_steps).t,
                           grad_scale=scale, extra_dw=self._extra(extra_dw, n, i, sample.device),
                           noise=None if base.noise is None else base.noise.to(sample.device),
                           generator=None if isinstance(generator, list) else generator)
        x = base.move.x
        if i == n_steps - 1:
            self.stepper.finish_(x, w)
        ancestors = self._record_and_resample(x, w, first_generator(generator))
        self._step_index = i + 1
        x0_out = base.x0_hat.to(sample.dtype)
        if not return_dict:
            return (x, x0_out)
        return FKCSchedulerOutput(prev_sample=x, pred_original_sample=x0_out, log_weights=w,
                                  ancestors=ancestors)

    def _extra(self, extra_dw, n: int, i: int, device) -> torch.Tensor | None:
        """The caller's ``extra_dw`` plus the CFG weight of :meth:`add_cfg_weight`."""
        extra = None if extra_dw is None else extra_dw.detach().float().to(device)
        cfg = self._cfg_term(n, self._grid_schedule.at_step(i, self.num_inference_steps))
        if cfg is not None:
            extra = cfg.to(device) if extra is None else extra + cfg.to(device)
        return extra

    def _record_and_resample(self, x, w, generator) -> torch.Tensor:
        ess = effective_sample_size(w)
        self._ess.append(ess)
        _, ancestors, did = self.stepper.resample_(x, w, ess, generator, lazy=True)
        self.stepper.reindex(ancestors)
        self._ancestors.append(ancestors)
        self._resampled.append(did)
        return ancestors

    def resample_final(self, samples: torch.Tensor,
                       generator: torch.Generator | None = None) -> torch.Tensor:
        """Each group's final particles, resampled by the final log-weights.

        ``samples`` ``(N, ...)`` is anything per particle in the batch's order (the latents,
        or the pipeline's decoded ``images`` as a tensor); the result ``(N, ...)`` holds, per
        group (one prompt's ``num_images_per_prompt`` slots), an equally weighted draw from that
        group's weighted particles (systematic resampling), so it can be shown as is. Without
        resampling use ``softmax(log_weights)`` within each group as the weights.
        """
        w = self.log_weights
        if w is None:
            raise RuntimeError("resample_final: no weights yet; run the pipeline first")
        if samples.shape[0] != w.shape[0]:
            raise ValueError(f"samples: expected {w.shape[0]} rows (one per particle), got "
                             f"{samples.shape[0]}")
        groups = self.stepper.groups if self._follows_prompts else self.groups
        idx, _ = resample_in_groups(w, group_labels(groups, w.shape[0], w.device),
                                    mode="always", generator=generator, backend=self.backend)
        return samples[idx.to(samples.device)]

    def __repr__(self) -> str:
        return (f"FKCScheduler({self.schedule!r}, prediction_type={self.prediction_type!r}, "
                f"tilt={self.tilt!r}, weights={self.weights!r}, proposal={self.proposal!r}, "
                f"resample={self.resample!r}, "
                f"reward_at={self.reward_at!r}, reward_grad={self.reward_grad!r}, "
                f"groups={self.groups!r})")


def _check_step_inputs(model_output, sample, variance_noise) -> None:
    """``model_output`` matches ``sample`` (twice the channels with a learned variance)."""
    if model_output.shape[0] != sample.shape[0] or model_output.shape[2:] != sample.shape[2:]:
        raise ValueError(f"model_output: expected the shape of sample {tuple(sample.shape)},"
                         f" got {tuple(model_output.shape)}")
    if variance_noise is not None and variance_noise.shape != sample.shape:
        raise ValueError(f"variance_noise: expected shape {tuple(sample.shape)}, got "
                         f"{tuple(variance_noise.shape)}")


_CONFIG_KEYS = ("lam_max", "prediction_type", "weights", "proposal", "resample", "ess_threshold",
                "reward_at", "reward_grad", "reward_batch_size", "groups", "backend", "dw_clip",
                "w_clip", "source_class", "source_config")


def _checked_arguments(schedule, prediction_type: str, reward_fn, tilt, lam_max, groups):
    """The tilt after the checks of :class:`FKCScheduler`'s arguments (``LinearTilt(lam_max)``
    by default: 0 without a reward or ``lam_max``, 1 with a reward only)."""
    if isinstance(groups, str) and groups != "prompts":
        raise ValueError(f"groups: expected None, an int >= 1, labels (N,) or 'prompts', got "
                         f"{groups!r}")
    if not isinstance(schedule, (DiscreteVPSchedule, SigmaSchedule)):
        raise TypeError(f"schedule: expected a DiscreteVPSchedule, got {type(schedule).__name__}")
    if prediction_type not in _prediction_types(schedule):
        raise ValueError(f"prediction_type: expected one of {_prediction_types(schedule)}, got "
                         f"{prediction_type!r}")
    if reward_fn is not None and not callable(reward_fn):
        raise TypeError(f"reward_fn: expected a callable or None, got "
                        f"{type(reward_fn).__name__}")
    if tilt is not None and lam_max is not None:
        raise ValueError("tilt, lam_max: give one of them, got both")
    if tilt is not None:
        return tilt
    return LinearTilt(0.0 if reward_fn is None and lam_max is None
                      else (1.0 if lam_max is None else lam_max))


def _prediction_types(schedule) -> tuple:
    """Flow matching's velocity only on a flow source's own grid."""
    return PREDICTION_TYPES if isinstance(schedule, SigmaSchedule) else PREDICTION_TYPES[:3]


def _source_from_config(source_class: str | None, source_config: dict | None) -> Any:
    """The source scheduler a saved FKC config names (``from_config`` / ``from_pretrained``)."""
    import diffusers

    cls = getattr(diffusers, source_class, None) if isinstance(source_class, str) else None
    if cls is None or not isinstance(source_config, dict):
        raise ValueError(f"schedule: expected a DiscreteVPSchedule, or source_class and "
                         f"source_config naming a diffusers scheduler (from from_scheduler's "
                         f"saved config), got source_class={source_class!r}")
    return cls.from_config(source_config)
