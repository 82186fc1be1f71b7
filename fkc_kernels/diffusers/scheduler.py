"""FKC as a diffusers scheduler.

``pipe.scheduler = FKCScheduler.from_scheduler(pipe.scheduler, reward_fn, lam_max=4.0)`` turns a
pipeline's batch into FKC particles: each ``step`` converts the UNet's output to a score, takes
the reward (and its gradient) of the particles, runs the fused ``fkc_step_`` (guided
Euler-Maruyama move plus log-weight increment) and resamples within groups.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any

import torch

from ..guidance import cfg_log_weight_from_gap
from ..ops import effective_sample_size, fkc_step_
from ..particles import (
    check_generator,
    first_generator,
    group_labels,
    per_particle_normal,
    resample_in_groups,
)
from ..rewards import RewardFn, check_batch_size, reward_and_grad
from ..sampler import check_weighting_options
from ..schedules import (
    PREDICTION_TYPES,
    DiscreteVPSchedule,
    LinearTilt,
    score_from_prediction,
    x0_from_score,
)
from .score import output_to_score_slope


def _spaced_timesteps(config: Any, n: int, num_train: int) -> list[float]:
    """diffusers' ``timestep_spacing`` rules ("leading", "trailing", "linspace")."""
    spacing = getattr(config, "timestep_spacing", "leading") if config is not None else "leading"
    offset = int(getattr(config, "steps_offset", 0) or 0) if config is not None else 0
    if n > num_train:
        raise ValueError(f"num_inference_steps: expected <= num_train_timesteps={num_train}, "
                         f"got {n}")
    if spacing == "trailing":
        ratio = num_train / n
        return [float(round(num_train - i * ratio) - 1) for i in range(n)]
    if spacing == "linspace":
        return [float(round((num_train - 1) * (1 - i / max(n - 1, 1)))) for i in range(n)]
    ratio = num_train // n
    return [float(min((n - 1 - i) * ratio + offset, num_train - 1)) for i in range(n)]


def _unique_descending(values: list[float]) -> list[float]:
    out: list[float] = []
    for v in values:
        if not out or v < out[-1]:
            out.append(v)
    return out


def schedule_from_scheduler(scheduler: Any) -> DiscreteVPSchedule:
    """The :class:`~fkc_kernels.schedules.DiscreteVPSchedule` of a diffusers scheduler.

    Works for any scheduler exposing ``alphas_cumprod`` and ``set_timesteps``/``timesteps``
    (DDPM, DDIM, Euler, Euler ancestral, Heun, DPM-Solver, PNDM, LMS, DEIS, UniPC, ...). The
    schedule asks a copy of the scheduler for its timesteps, so any ``n_steps`` the scheduler
    accepts works, with its own spacing; repeated timesteps (PNDM's Runge-Kutta warm-up) are
    dropped, and where that leaves a count other than ``n_steps`` the scheduler's
    ``timestep_spacing`` rule is used instead. A zero-terminal-SNR schedule
    (``rescale_betas_zero_snr``) gets ``alphas_cumprod[T-1] = alphas_cumprod[T-2] / 2`` (the
    score is undefined at alpha = 0); its first Euler-Maruyama steps jump the SNR by orders of
    magnitude, so give such schedules more steps or custom ``timesteps`` starting lower.
    """
    if isinstance(scheduler, FKCScheduler):  # rebuilding an FKC scheduler with new settings
        return scheduler.schedule
    missing = [name for name in ("alphas_cumprod", "set_timesteps")
               if getattr(scheduler, name, None) is None]
    if missing:
        raise TypeError(
            f"scheduler: {type(scheduler).__name__} has no {' and no '.join(missing)}; FKC "
            f"needs a discrete variance-preserving scheduler exposing alphas_cumprod and "
            f"set_timesteps/timesteps (DDPM, DDIM, Euler, DPM-Solver, PNDM, LMS, DEIS, UniPC, "
            f"...). For EDM or flow-matching models build an EDMSchedule or a "
            f"FlowMatchingSchedule and use fkc_kernels.FKCSampler with UNetScore")
    alphas_cumprod = torch.as_tensor(scheduler.alphas_cumprod).detach().double().cpu().clone()
    if len(alphas_cumprod) > 1 and not (0 < alphas_cumprod[-1] < alphas_cumprod[-2]):
        # zero terminal SNR (rescale_betas_zero_snr): alphas_cumprod ends at 0, or at diffusers'
        # stand-in 2**-24 above the value before it; alpha = 0 has no score, so the last
        # timestep gets half the previous value (SNR ~1e-9: still pure noise in practice)
        alphas_cumprod[-1] = alphas_cumprod[-2] / 2
    num_train = int(len(alphas_cumprod))
    template = copy.deepcopy(scheduler)
    config = getattr(scheduler, "config", None)

    def timesteps_for(n: int) -> list[float]:
        try:
            template.set_timesteps(n)
            ts = template.timesteps
            ts = [float(t) for t in (ts.tolist() if hasattr(ts, "tolist") else ts)]
        except Exception as exc:  # a scheduler that rejects n: report its own words
            raise ValueError(f"n_steps: {type(scheduler).__name__}.set_timesteps({n}) failed: "
                             f"{exc}") from exc
        ts = _unique_descending(ts)
        if len(ts) != n:
            ts = _spaced_timesteps(config, n, num_train)
        return ts

    return DiscreteVPSchedule(alphas_cumprod, timesteps=timesteps_for)


@dataclass
class FKCSchedulerOutput:
    """What :meth:`FKCScheduler.step` returns (indexable like a diffusers output).

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

    def __getitem__(self, i: int):
        return (self.prev_sample, self.pred_original_sample)[i]


class FKCScheduler:
    """A drop-in diffusers scheduler that samples with reward-tilted FKC.

    The pipeline's batch is the particle set. Each :meth:`step` (1) converts the model output
    to a score by ``prediction_type``, (2) evaluates the reward at the particles (``reward_at``)
    in chunks of ``reward_batch_size``, (3) calls the fused ``fkc_step_`` with the schedule's
    coefficients (Euler-Maruyama with the guided drift, log-weight increment), (4) resamples
    within ``groups`` when asked. Log-weights, ESS and ancestors are kept on the scheduler and
    reset by :meth:`set_timesteps` (every pipeline call) or :meth:`reset`.

    Build it with :meth:`from_scheduler` from the pipeline's own scheduler. It keeps VP
    latents (``init_noise_sigma = 1``, ``scale_model_input`` is the identity), so it also
    replaces Euler/LMS-style schedulers whose latents are scaled differently.

    Args:
        schedule: the discrete VP schedule (:func:`schedule_from_scheduler`).
        reward_fn: ``reward_fn(x) -> r`` ``(n,)`` or ``(r, ∇r)`` on the pipeline's samples
            (latents for Stable Diffusion: decode inside, see :func:`decoded_reward`); ``None``
            samples the base model (plain Euler-Maruyama, log-weights 0).
        tilt: anything with ``lam(t)``, ``dlam(t)`` (default ``LinearTilt(lam_max)``).
        lam_max: shortcut for ``tilt=LinearTilt(lam_max)`` (default 1.0 with a reward).
        prediction_type: default the source scheduler's ``config.prediction_type``.
        weights: ``"smc"`` (exact log importance weights) or ``"seed"`` (clipped ranking
            weights; ``dw_clip``/``w_clip`` apply).
        resample: ``None``, ``"ess"`` or ``"always"`` (systematic, within groups, after a step).
        ess_threshold: a group resamples when its ESS < this fraction of its size.
        reward_at: ``"x0_hat"`` (default: the reward of the denoised estimate, gradient
            ``∇r(x0_hat)/alpha``; the ``λ·∂r/∂t`` weight term is then omitted) or ``"x"``.
        reward_grad: ``"autograd"`` (guided drift, FKC weights; a clear error if the reward has
            no gradient) or ``"none"``: potential only (no gradient is taken): the particles
            move by the base model and each step adds ``λ(t_{i+1})r_{i+1} - λ(t_i)r_i`` to the
            log-weight, so the final weights are exact importance weights of
            ``q_0(x)·exp(λ(1)·r(x))`` with the base model as proposal and resampling does the
            steering (Feynman-Kac steering); one extra reward call after the last step.
        reward_batch_size: particles per reward call (bounded memory whatever N).
        groups: ``None`` (one group), an int ``G`` (contiguous blocks: one per prompt when a
            pipeline runs ``G`` prompts with ``num_images_per_prompt``) or labels ``(N,)``.
        generator: used when the pipeline passes none (one generator or one per particle).
        backend: backend of the fused ops.
        config: the source scheduler's config (exposed as ``.config``).
    """

    order = 1

    def __init__(
        self,
        schedule: DiscreteVPSchedule,
        reward_fn: RewardFn | None = None,
        *,
        tilt: Any = None,
        lam_max: float | None = None,
        prediction_type: str = "epsilon",
        weights: str = "smc",
        resample: str | None = None,
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
    ) -> None:
        if not isinstance(schedule, DiscreteVPSchedule):
            raise TypeError(f"schedule: expected a DiscreteVPSchedule, got "
                            f"{type(schedule).__name__}")
        if prediction_type not in PREDICTION_TYPES[:3]:
            raise ValueError(f"prediction_type: expected one of {PREDICTION_TYPES[:3]}, got "
                             f"{prediction_type!r}")
        check_weighting_options(weights, resample, ess_threshold, reward_at, reward_grad)
        if reward_fn is not None and not callable(reward_fn):
            raise TypeError(f"reward_fn: expected a callable or None, got "
                            f"{type(reward_fn).__name__}")
        if tilt is not None and lam_max is not None:
            raise ValueError("tilt, lam_max: give one of them, got both")
        if tilt is None:
            tilt = LinearTilt(0.0 if reward_fn is None else (1.0 if lam_max is None else lam_max))
        if groups is not None and not isinstance(groups, torch.Tensor) and (
                isinstance(groups, bool) or not isinstance(groups, int) or groups < 1):
            raise ValueError(f"groups: expected None, an int >= 1 or labels (N,), got {groups!r}")
        self.schedule, self.reward_fn, self.tilt = schedule, reward_fn, tilt
        self.prediction_type, self.weights = prediction_type, weights
        self.resample, self.ess_threshold = resample, float(ess_threshold)
        self.reward_at, self.reward_grad = reward_at, reward_grad
        self.reward_batch_size = check_batch_size("reward_batch_size", reward_batch_size)
        self.groups, self.generator, self.backend = groups, generator, backend
        self.dw_clip = dw_clip if weights == "seed" else None
        self.w_clip = w_clip if weights == "seed" else None
        self._config = config
        self.init_noise_sigma = float(schedule.prior_std)
        self.num_inference_steps: int | None = None
        self.timesteps = torch.zeros(0, dtype=torch.long)
        self._begin_index: int | None = None
        self._cfg_scale: float | None = None
        self._cfg_output: torch.Tensor | None = None
        self.reset()

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
            pt = getattr(config, "prediction_type", None) or "epsilon"
            if pt not in PREDICTION_TYPES[:3]:
                raise ValueError(f"scheduler: prediction_type {pt!r} is not supported (expected "
                                 f"one of {PREDICTION_TYPES[:3]})")
            kwargs["prediction_type"] = pt
        return cls(schedule, reward_fn, config=config, **kwargs)

    @property
    def config(self) -> Any:
        """The source scheduler's config (``num_train_timesteps``, ``prediction_type``, ...)."""
        return self._config

    def __len__(self) -> int:
        return self.schedule.num_train_timesteps

    @property
    def alphas_cumprod(self) -> torch.Tensor:
        """The source scheduler's ``alphas_cumprod`` (float64 ``(T,)``)."""
        return torch.tensor(self.schedule.alphas_cumprod, dtype=torch.float64)

    # ------------------------------------------------------------------ state

    def reset(self) -> None:
        """Forget the particles' log-weights, ancestry and step position."""
        self.log_weights: torch.Tensor | None = None
        self._ancestors: list[torch.Tensor] = []
        self._ess: list[torch.Tensor] = []
        self._resampled: list[torch.Tensor] = []
        self._potential: torch.Tensor | None = None
        self._step_index: int | None = None

    @property
    def ancestors(self) -> torch.Tensor:
        """long ``(steps taken, N)``: row ``i`` maps each slot to its parent before step ``i``'s
        resampling (the identity for steps that did not resample)."""
        if not self._ancestors:
            return torch.zeros((0, 0), dtype=torch.long)
        return torch.stack(self._ancestors)

    @property
    def ess(self) -> torch.Tensor:
        """float32 ``(steps taken,)``: ESS of all particles after each step, before resampling."""
        return torch.stack(self._ess) if self._ess else torch.zeros(0)

    @property
    def resampled(self) -> torch.Tensor:
        """bool ``(steps taken, N)``: whether each slot's group resampled after each step."""
        return torch.stack(self._resampled) if self._resampled else torch.zeros(0, dtype=bool)

    @property
    def step_index(self) -> int | None:
        return self._step_index

    @property
    def begin_index(self) -> int | None:
        return self._begin_index

    def set_begin_index(self, begin_index: int = 0) -> None:
        """Start at step ``begin_index`` (img2img pipelines call this)."""
        self._begin_index = int(begin_index)

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
        self.reset()

    def scale_model_input(self, sample: torch.Tensor, timestep: Any = None) -> torch.Tensor:
        """The identity: FKC particles are the VP latents the UNet takes."""
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

    # ------------------------------------------------------------------ CFG weight

    def add_cfg_weight(self, unet: Any, guidance_scale: float) -> Any:
        """Add FKC's classifier-free-guidance weight inside a pipeline that does CFG itself.

        A pipeline such as ``StableDiffusionPipeline`` runs the UNet on ``[uncond; cond]`` and
        hands the scheduler only the combined output. This registers a forward hook on
        ``unet`` that keeps the two halves of its last output; each :meth:`step` then adds
        ``h*(g²/2)*w*(w-1)*||s_c - s_u||²`` to the log-weights (see
        :mod:`fkc_kernels.guidance`), so with ``weights="smc"`` the particles target
        ``q_c^w q_u^(1-w)`` instead of following plain CFG. ``guidance_scale`` must be the
        pipeline call's. Returns the hook handle (``handle.remove()`` detaches it).
        """
        if not hasattr(unet, "register_forward_hook"):
            raise TypeError(f"unet: expected a torch.nn.Module, got {type(unet).__name__}")
        self._cfg_scale = float(guidance_scale)

        def keep_output(module, args, output):
            out = output[0] if isinstance(output, tuple) else getattr(output, "sample", output)
            self._cfg_output = out.detach()

        return unet.register_forward_hook(keep_output)

    def _cfg_term(self, n: int, c) -> torch.Tensor | None:
        out = self._cfg_output
        if self._cfg_scale is None or out is None:
            return None
        self._cfg_output = None
        if out.shape[0] != 2 * n:
            raise ValueError(f"add_cfg_weight: the UNet's last output has {out.shape[0]} rows, "
                             f"expected 2 x {n} particles ([uncond; cond]); is the pipeline "
                             f"running classifier-free guidance (guidance_scale > 1)?")
        u, cnd = out.float().chunk(2)
        slope = output_to_score_slope(self.prediction_type, c.alpha, c.sigma)
        gap = ((cnd - u).reshape(n, -1) ** 2).sum(1) * slope * slope
        return cfg_log_weight_from_gap(gap, self._cfg_scale, h=c.h, g=c.g)

    # ------------------------------------------------------------------ the step

    def _noise(self, generator, x: torch.Tensor) -> tuple[Any, torch.Tensor | None]:
        generator = check_generator(generator, x.shape[0])
        if isinstance(generator, list):
            noise = per_particle_normal(tuple(x.shape), generator, x.device, x.dtype)
            return generator, noise
        return generator, None

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
            eta, use_clipped_model_output: accepted for DDIM pipelines and ignored (FKC steps
                are stochastic Euler-Maruyama steps of the reverse SDE).
        """
        del eta, use_clipped_model_output
        i = self._index_of(timestep)
        n_steps = self.num_inference_steps
        c = self._grid_schedule.at_step(i, n_steps)
        if model_output.shape != sample.shape:
            raise ValueError(f"model_output: expected the shape of sample {tuple(sample.shape)},"
                             f" got {tuple(model_output.shape)}")
        n = sample.shape[0]
        if self.log_weights is None or self.log_weights.shape[0] != n:
            self.log_weights = torch.zeros(n, dtype=torch.float32, device=sample.device)
            self._potential = None
        w = self.log_weights
        x = sample.detach().clone()
        s = score_from_prediction(model_output.detach().float(), x.float(), c.alpha, c.sigma,
                                  self.prediction_type)
        x0_hat = x0_from_score(s, x.float(), c.alpha, c.sigma)
        generator = generator if generator is not None else self.generator
        generator, noise = self._noise(generator, x)
        if variance_noise is not None:
            if variance_noise.shape != x.shape:
                raise ValueError(f"variance_noise: expected shape {tuple(x.shape)}, got "
                                 f"{tuple(variance_noise.shape)}")
            noise = variance_noise.to(device=x.device, dtype=x.dtype)
        step_gen = None if isinstance(generator, list) else generator
        lam, dlam = self.tilt.lam(c.t), self.tilt.dlam(c.t)
        r, grad, extra = self._reward_terms(x, x0_hat, c, lam, extra_dw)
        cfg = self._cfg_term(n, c)
        if cfg is not None:
            extra = cfg.to(x.device) if extra is None else extra + cfg.to(x.device)
        fkc_step_(x, w, s.to(x.dtype), grad, r, h=c.h, g=c.g, lam=lam, dlam=dlam,
                  f_coef=c.f_coef, noise=noise, generator=step_gen, dw_clip=self.dw_clip,
                  w_clip=self.w_clip, backend=self.backend, extra_dw=extra)
        if self.reward_grad == "none" and self.reward_fn is not None and i == n_steps - 1:
            # the last potential: λ(1) r(x) at the final (clean) particles
            r_end, _ = reward_and_grad(self.reward_fn, x, batch_size=self.reward_batch_size,
                                       grad="none")
            w.add_(self.tilt.lam(1.0) * r_end.to(w.device) - self._potential)
        self._ess.append(effective_sample_size(w))
        ancestors = torch.arange(n, device=x.device)
        resampled = torch.zeros(n, dtype=torch.bool, device=x.device)
        if self.resample is not None:
            labels = group_labels(self.groups, n, x.device)
            ancestors, resampled = resample_in_groups(
                w, labels, mode=self.resample, ess_threshold=self.ess_threshold,
                generator=first_generator(generator), backend=self.backend)
            x = x[ancestors]
            w.copy_(torch.where(resampled, torch.zeros_like(w), w[ancestors]))
            if self._potential is not None:
                self._potential = self._potential[ancestors]
        self._ancestors.append(ancestors)
        self._resampled.append(resampled)
        self._step_index = i + 1
        x0_out = x0_hat.to(sample.dtype)
        if not return_dict:
            return (x, x0_out)
        return FKCSchedulerOutput(prev_sample=x, pred_original_sample=x0_out, log_weights=w,
                                  ancestors=ancestors)

    def _reward_terms(self, x, x0_hat, c, lam, extra_dw):
        """``(r, ∇r, extra_dw)`` for the kernel (``extra_dw`` may be None)."""
        n = x.shape[0]
        extra = None if extra_dw is None else extra_dw.detach().float().to(x.device)
        zeros_r = torch.zeros(n, dtype=torch.float32, device=x.device)
        if self.reward_fn is None:
            return zeros_r, torch.zeros_like(x), extra
        at = x if self.reward_at == "x" else x0_hat.to(x.dtype)
        if self.reward_grad == "none":
            r, _ = reward_and_grad(self.reward_fn, at, batch_size=self.reward_batch_size,
                                   grad="none")
            potential = lam * r.to(x.device)
            prev = self._potential if self._potential is not None else torch.zeros_like(potential)
            self._potential = potential
            inc = potential - prev
            return zeros_r, torch.zeros_like(x), inc if extra is None else inc + extra
        r, grad = reward_and_grad(self.reward_fn, at, batch_size=self.reward_batch_size)
        if self.reward_at == "x0_hat":
            grad = grad / c.alpha
        return r.to(x.device), grad.to(device=x.device, dtype=x.dtype), extra

    def __repr__(self) -> str:
        return (f"FKCScheduler({self.schedule!r}, prediction_type={self.prediction_type!r}, "
                f"tilt={self.tilt!r}, weights={self.weights!r}, resample={self.resample!r}, "
                f"reward_at={self.reward_at!r}, reward_grad={self.reward_grad!r}, "
                f"groups={self.groups!r})")


def decoded_reward(vae: Any, image_reward: RewardFn, *, scaling_factor: float | None = None,
                   shift_factor: float | None = None) -> RewardFn:
    """A latent-space reward: decode latents with the VAE, then score the images.

    ``image_reward(images) -> r`` ``(n,)`` gets images in [-1, 1] ``(n, 3, H, W)`` (the VAE's
    output); gradients flow back through the decoder, so combine with ``reward_batch_size`` to
    bound memory.
    """
    cfg = getattr(vae, "config", None)
    scale = scaling_factor if scaling_factor is not None else getattr(cfg, "scaling_factor", 1.0)
    shift = shift_factor if shift_factor is not None else (getattr(cfg, "shift_factor", None)
                                                           or 0.0)
    if not math.isfinite(scale) or scale == 0:
        raise ValueError(f"scaling_factor: expected a finite non-zero number, got {scale}")

    def reward(latents: torch.Tensor) -> torch.Tensor:
        z = latents / scale + shift
        dtype = getattr(vae, "dtype", z.dtype)
        images = vae.decode(z.to(dtype), return_dict=False)[0]
        return image_reward(images.float())

    return reward
