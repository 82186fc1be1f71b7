"""The FKC sampler loop: K fused steps from N(0, prior) at tau = 1 to data at tau = 0.

It calls the public ops only, so it runs on whichever backend dispatch picks.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from .ops import effective_sample_size
from .ops.noise import draw_philox_seeds
from .particles import check_generator, first_generator, per_particle_normal
from .reference.philox import philox_normal
from .rewards import RewardFn, check_batch_size
from .rewards import reward_and_grad as _batched_reward_and_grad
from .schedules import LinearTilt, Schedule, StepCoefficients, x0_from_score
from .stepper import Move, ParticleStepper, check_weighting_options

__all__ = ["FKCSampler", "SampleResult", "check_weighting_options", "reward_and_grad"]

ScoreFn = Callable[[torch.Tensor, float], torch.Tensor]
ExtraDwFn = Callable[[torch.Tensor, torch.Tensor, StepCoefficients], torch.Tensor]


@dataclass
class SampleResult:
    """What :meth:`FKCSampler.sample` returns.

    Attributes:
        x: final particles ``(N, *shape)``.
        w: final log-weights ``(N,)`` float32.
        ess: effective sample size after each step (before any resampling), float32 ``(K,)``.
        resampled: bool ``(K,)``, whether the particles (any group's, with ``groups``) were
            resampled after each step.
        ancestors: int64 ``(K, N)``: after step ``i``, slot ``j`` holds the offspring of the
            particle that was in slot ``ancestors[i, j]`` (the identity where nothing was
            resampled), so per-particle data (prompts, labels) can follow the particles:
            ``data = data[ancestors[i]]`` after each step.
    """

    x: torch.Tensor
    w: torch.Tensor
    ess: torch.Tensor
    resampled: torch.Tensor = field(default_factory=lambda: torch.zeros(0, dtype=torch.bool))
    ancestors: torch.Tensor = field(default_factory=lambda: torch.zeros((0, 0), dtype=torch.long))


def reward_and_grad(reward_fn: RewardFn, x: torch.Tensor,
                    batch_size: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(r, ∇r)`` at ``x``: from ``reward_fn`` when it returns a pair, else by autograd
    (``batch_size`` particles at a time; see :func:`fkc_kernels.rewards.reward_and_grad`)."""
    return _batched_reward_and_grad(reward_fn, x, batch_size=batch_size)


def _check_shape(shape: object) -> tuple[int, ...]:
    dims = (shape,) if isinstance(shape, int) else shape
    if not isinstance(dims, (tuple, list, torch.Size)) or not all(
            isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in dims):
        raise ValueError(f"shape: expected a per-particle shape, one int or a tuple of ints "
                         f">= 0, got {shape!r}")
    return tuple(dims)


def _check_finite_step(x: torch.Tensor, w: torch.Tensor, i: int, n_steps: int) -> None:
    """Surface a step that produced NaN/inf (one host sync) rather than carry it on: a later
    resample would hide it behind finite-looking particles. ``-inf`` log-weights are zero
    weights (the ESS hook refuses them only when no particle keeps a finite weight, which a
    sharded sampler can only tell across ranks), so only what is wrong locally is checked."""
    # NaN propagates through amax and maximum; -inf weights count as fine (zero weight)
    top = torch.nan_to_num(w, nan=math.inf, posinf=math.inf, neginf=0.0).amax()
    if x.numel():
        top = torch.maximum(top, x.abs().amax().float())
    if math.isfinite(float(top)):
        return
    raise FloatingPointError(
        f"FKCSampler: step {i} of {n_steps} produced non-finite values: x has "
        f"{int((~torch.isfinite(x)).sum())} non-finite entries; log-weights w have "
        f"{int(torch.isnan(w).sum())} NaN, {int(torch.isposinf(w).sum())} +inf, "
        f"{int(torch.isneginf(w).sum())} -inf of {w.numel()}. Check score_fn and reward_fn "
        f"for NaN/inf at this step (tau = 1 - {i}/{n_steps})"
    )


class FKCSampler:
    """Reward-tilted Feynman-Kac Corrector sampler (docs/design.md: "The math", "The public API").

    Args:
        score_fn: ``score_fn(x, tau) -> ∇log q_tau(x)`` with ``x`` ``(N, *S)``, ``tau`` a float.
        reward_fn: ``reward_fn(x) -> r`` ``(N,)`` (``∇r`` by autograd) or ``-> (r, ∇r)``.
        schedule: :class:`VPSchedule` or :class:`VESchedule` (anything with ``at_step``).
        tilt: :class:`LinearTilt` (anything with ``lam(t)``, ``dlam(t)``).
        n_steps: K, the number of steps (``h = 1/K``).
        weights: ``"smc"`` (default: exact sequential-Monte-Carlo log importance weights of the
            tilted target ``p_base(x_0)·exp(λ(1)·r(x_0))``, where ``p_base`` is this sampler's
            own output at ``λ = 0``; exact for either ``reward_at``, docs/design.md "Exact
            weights"), ``"fkc"`` (the seed's Algorithm 2 increment, unclipped: exact only in
            the continuous-time limit and only for ``reward_at="x"``) or ``"seed"`` (the FKC
            increment, clipped: the weights only rank particles).
        resample: ``"auto"`` (default: ``"ess"``, or ``None`` with ``weights="seed"``),
            ``"ess"`` (when ESS < ``ess_threshold``·N), ``"always"`` or ``None``; systematic,
            and log-weights reset to 0. Not with ``weights="seed"``.
        reward_at: ``"x0_hat"`` (default: r at the denoised estimate ``x̂0 = (x + σ²s)/α``,
            proposal gradient ``∇r(x̂0)/α``) or ``"x"`` (r and ∇r at the noisy particle).
        dw_clip, w_clip: clips used with ``weights="seed"`` (defaults: docs/design.md,
            "One step").
        backend: backend for the fused ops.
        score_batch_size: particles per ``score_fn`` call (``None``: all at once).
        reward_batch_size: particles per ``reward_fn`` call; the autograd graph of one chunk is
            alive at a time, so peak memory does not grow with N.
        groups: ``None`` (all particles one group), an int ``G`` (``G`` contiguous equal blocks)
            or int labels ``(N,)``: resampling (and the ``"ess"`` rule) works within each group,
            so a particle never replaces one of another group (one prompt's samples never
            replace another's).
        reward_grad: ``"autograd"`` (default: guided drift and FKC weights; a reward that gives
            no gradient is a clear error) or ``"none"``, the potential-only mode: no gradient is
            taken or needed, the particles move by the base model (the exact weights'
            proposal without guidance), so resampling does all the steering (Feynman-Kac
            steering). Exact as N grows, but needs many more particles
            than gradient guidance when the tilt is strong.
        extra_dw: optional ``extra_dw(x, score, coefficients) -> (N,)`` float32 added to each
            step's log-weight increment inside the fused kernel, e.g. FKC's
            classifier-free-guidance weight (:meth:`fkc_kernels.diffusers.UNetScore.cfg_extra_dw`
            or :func:`fkc_kernels.guidance.cfg_log_weight_increment`).
    """

    def __init__(
        self,
        score_fn: ScoreFn,
        reward_fn: RewardFn,
        schedule: Schedule,
        tilt: LinearTilt,
        n_steps: int,
        weights: str = "smc",
        resample: str | None = "auto",
        ess_threshold: float = 0.5,
        reward_at: str = "x0_hat",
        backend: str = "auto",
        dw_clip: float | None = 0.1,
        w_clip: tuple[float, float] | None = (0.1, 10.0),
        score_batch_size: int | None = None,
        reward_batch_size: int | None = None,
        groups: int | torch.Tensor | None = None,
        reward_grad: str = "autograd",
        extra_dw: ExtraDwFn | None = None,
    ) -> None:
        if isinstance(n_steps, bool) or not isinstance(n_steps, int) or n_steps < 1:
            raise ValueError(f"n_steps: expected an int >= 1, got {n_steps!r}")
        if extra_dw is not None and not callable(extra_dw):
            raise TypeError(f"extra_dw: expected a callable (x, score, coefficients) -> (N,), "
                            f"got {type(extra_dw).__name__}")
        self.stepper = ParticleStepper(
            reward_fn, tilt, weights=weights, resample=resample, ess_threshold=ess_threshold,
            reward_at=reward_at, reward_grad=reward_grad, reward_batch_size=reward_batch_size,
            groups=groups, backend=backend, dw_clip=dw_clip, w_clip=w_clip)
        self.score_batch_size = check_batch_size("score_batch_size", score_batch_size)
        self.groups, self.reward_grad, self.extra_dw = groups, reward_grad, extra_dw
        self.score_fn, self.reward_fn = score_fn, reward_fn
        self.schedule, self.tilt, self.n_steps = schedule, tilt, n_steps
        self.weights, self.resample = weights, self.stepper.resample
        self.ess_threshold = ess_threshold
        self.reward_at, self.backend = reward_at, backend
        self.reward_batch_size = self.stepper.reward_batch_size
        self.dw_clip, self.w_clip = self.stepper.dw_clip, self.stepper.w_clip

    def coefficients(self, i: int) -> StepCoefficients:
        return self.schedule.at_step(i, self.n_steps)

    def _score(self, x: torch.Tensor, tau: float) -> torch.Tensor:
        n, bs = x.shape[0], self.score_batch_size
        if bs is None or bs >= n:
            return self.score_fn(x, tau).to(x.dtype)
        return torch.cat([self.score_fn(x[i:i + bs], tau).to(x.dtype) for i in range(0, n, bs)])

    def step(self, x: torch.Tensor, w: torch.Tensor, i: int,
             generator: torch.Generator | list[torch.Generator] | None = None) -> None:
        """Advance particles ``x`` and log-weights ``w`` in place by step ``i`` (after the last
        step, ``w`` holds the final potential too)."""
        c = self.coefficients(i)
        s = self._score(x, c.tau)
        extra = None
        if self.extra_dw is not None:
            extra = self.extra_dw(x, s, c).to(device=x.device, dtype=torch.float32)
        # read before the move
        at, scale = self.stepper.reward_point(x, lambda: x0_from_score(s, x, c.alpha, c.sigma),
                                              c.alpha, c.sigma)
        self.stepper.step_(Move(x, s, c.h, c.g, c.f_coef), w, at, t=c.t, grad_scale=scale,
                           extra_dw=extra, **self.step_noise(x, generator))
        if i == self.n_steps - 1:
            # tau = 0: the final particles are their own x0_hat
            self.stepper.finish_(x, w)

    def noised(self, x0: torch.Tensor, start_step: int,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """``alpha*x0 + sigma*eps`` at the forward time of step ``start_step`` (SDEdit /
        img2img: pass the result as ``sample(latents=..., start_step=start_step)``)."""
        c = self.coefficients(start_step)
        eps = torch.randn(x0.shape, generator=generator, dtype=torch.float32,
                          device=generator.device if generator is not None else x0.device)
        return (c.alpha * x0.float() + c.sigma * eps.to(x0.device)).to(x0.dtype)

    # Hooks of :meth:`sample`. The sharded sampler (fkc_kernels.distributed) overrides exactly
    # these four, so one loop serves one process and many ranks, draw for draw.

    def initial_particles(self, n_particles: int, shape: tuple[int, ...],
                          generator: torch.Generator | None, device: torch.device,
                          dtype: torch.dtype) -> torch.Tensor:
        """Starting particles ``(N, *shape)`` in ``dtype``: ``prior_std · normal(S, O, e)``.

        ``normal(S, O, e)`` is the noise contract's normal of flat element ``e`` with ``(S, O)``
        drawn from ``generator``, so a shard of the block can be drawn alone (by global ``e``).
        """
        if isinstance(generator, list):  # one generator per particle: its own normals
            z = per_particle_normal((n_particles, *shape), generator, device)
            return (z * self.schedule.prior_std).to(dtype)
        seeds = draw_philox_seeds(generator, device)
        z = philox_normal(seeds[0], seeds[1], n_particles * math.prod(shape), device=device)
        return (z.view(n_particles, *shape) * self.schedule.prior_std).to(dtype)

    def step_noise(self, x: torch.Tensor,
                   generator: torch.Generator | None) -> dict[str, object]:
        """Keyword arguments that give :func:`fkc_step_` its noise for one step.

        Here ``{"generator": generator}``: the kernel draws ``(S, O)`` and the contract's normals
        in place. An override may pass ``{"noise": z}`` with ``z`` of ``x``'s shape instead (as
        this one does for a list of one generator per particle).
        """
        if isinstance(generator, list):
            return {"noise": per_particle_normal(tuple(x.shape), generator, x.device, x.dtype)}
        return {"generator": generator}

    def effective_sample_size(self, w: torch.Tensor) -> torch.Tensor:
        """ESS of the log-weights ``w`` (0-d float32), the quantity the ``"ess"`` rule tests."""
        return effective_sample_size(w)

    def resample_particles(
        self, x: torch.Tensor, w: torch.Tensor, ess: torch.Tensor, n_particles: int,
        generator: torch.Generator | None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Systematic resampling after a step when the rule says so.

        Resamples when ``resample == "always"`` or (``"ess"``) when ``ess < ess_threshold · N``
        (``N = n_particles``), then sets the log-weights to 0. With resampling on, one uniform is
        drawn from ``generator`` at every step, whether it resamples or not. With ``groups``,
        each group follows the rule on its own weights (one uniform per group).

        Returns:
            ``(x, w, resampled, ancestors)``: the particles and log-weights (updated in place
            here), a 0-d bool tensor (any group resampled; no host sync on the single-process
            path) and int64 ancestor indices ``(N,)`` (the identity when nothing resampled).
        """
        resampled, idx, _ = self.stepper.resample_(x, w, ess, generator)
        return x, w, resampled, idx

    def take_rows(self, t: torch.Tensor, ancestors: torch.Tensor) -> torch.Tensor:
        """Rows ``ancestors`` of a per-particle tensor (``t[ancestors]``): how carried state
        follows :meth:`resample_particles` (a sharded loop fetches rows across ranks)."""
        return t[ancestors]

    def _start(self, n_particles, shape, generator, device, dtype, latents):
        """The starting particles ``(N, *shape)``, the checked generator and ``N``."""
        if latents is not None:
            if not isinstance(latents, torch.Tensor) or latents.dim() < 1:
                raise ValueError(f"latents: expected a tensor (N, *shape), got "
                                 f"{type(latents).__name__}")
            want = (n_particles, None if shape is None else
                    ((shape,) if isinstance(shape, int) else tuple(shape)))
            if (want[0] is not None and want[0] != latents.shape[0]) or \
                    (want[1] is not None and want[1] != tuple(latents.shape[1:])):
                raise ValueError(f"latents: shape {tuple(latents.shape)} does not match "
                                 f"n_particles={n_particles}, shape={shape}")
            n_particles, shape = latents.shape[0], tuple(latents.shape[1:])
            if device is None:
                device = latents.device
        if isinstance(n_particles, bool) or not isinstance(n_particles, int) or n_particles < 1:
            raise ValueError(f"n_particles: expected an int >= 1, got {n_particles!r}")
        if shape is None:
            raise ValueError("shape: expected the per-particle shape (or latents), got None")
        shape = _check_shape(shape)
        generator = check_generator(generator, n_particles)
        if device is None:
            first = first_generator(generator)
            device = first.device if first is not None else torch.device("cpu")
        device = torch.device(device)
        if latents is not None:
            x = latents.detach().to(device=device, dtype=dtype).clone()
        else:
            x = self.initial_particles(n_particles, shape, generator, device, dtype)
        return x, generator, n_particles

    @torch.no_grad()
    def sample(
        self,
        n_particles: int | None = None,
        shape: tuple[int, ...] | int | None = None,
        generator: torch.Generator | list[torch.Generator] | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
        *,
        latents: torch.Tensor | None = None,
        start_step: int = 0,
    ) -> SampleResult:
        """Draw ``n_particles`` particles of per-particle ``shape`` with FKC guidance.

        Args:
            n_particles, shape: N and the per-particle shape (taken from ``latents`` when given).
            generator: one ``torch.Generator``, a list of N (particle ``i`` draws its start and
                step noise from ``generator[i]``, diffusers' convention; resampling uses the
                first) or ``None`` (the device's default generator).
            device, dtype: of the particles (default: the generator's device / ``latents``').
            latents: starting particles ``(N, *shape)`` instead of prior noise (not modified).
            start_step: the first step to take (``0 <= start_step < n_steps``): with
                ``latents = sampler.noised(x0, start_step)`` this is SDEdit / img2img.

        Returns:
            :class:`SampleResult` with ``x`` ``(N, *shape)`` in ``dtype`` and ``w`` ``(N,)``;
            its histories have ``n_steps - start_step`` rows.

        Raises:
            FloatingPointError: a step made a particle non-finite or the log-weights unusable
                (NaN, ``+inf``, or all ``-inf``), naming the step: never a silently finite result.
        """
        if isinstance(start_step, bool) or not isinstance(start_step, int) \
                or not 0 <= start_step < self.n_steps:
            raise ValueError(f"start_step: expected an int in [0, n_steps={self.n_steps}), got "
                             f"{start_step!r}")
        x, generator, n_particles = self._start(n_particles, shape, generator, device, dtype,
                                                latents)
        device = x.device
        w = torch.zeros(x.shape[0], dtype=torch.float32, device=device)
        self.stepper.reset()
        ess_hist, res_hist, anc_hist = [], [], []
        for i in range(start_step, self.n_steps):
            self.step(x, w, i, generator)
            _check_finite_step(x, w, i, self.n_steps)
            try:
                ess = self.effective_sample_size(w)
            except ValueError as exc:  # e.g. every log-weight -inf: no particle left
                raise FloatingPointError(f"FKCSampler: step {i} of {self.n_steps}: {exc}") \
                    from exc
            ess_hist.append(ess)
            x, w, did, anc = self.resample_particles(x, w, ess, n_particles,
                                                     first_generator(generator))
            self.stepper.reindex(anc, self.take_rows)
            res_hist.append(did)
            anc_hist.append(anc)
        return SampleResult(x=x, w=w, ess=torch.stack(ess_hist), resampled=torch.stack(res_hist),
                            ancestors=torch.stack(anc_hist))
