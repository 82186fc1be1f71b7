"""The FKC sampler loop: K fused steps from N(0, prior) at tau = 1 to data at tau = 0.

It calls the public ops only, so it runs on whichever backend dispatch picks.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from .ops import effective_sample_size, fkc_step_, systematic_resample
from .ops.noise import draw_philox_seeds
from .reference.philox import philox_normal
from .schedules import LinearTilt, StepCoefficients, _Schedule

ScoreFn = Callable[[torch.Tensor, float], torch.Tensor]
RewardFn = Callable[[torch.Tensor], "torch.Tensor | tuple[torch.Tensor, torch.Tensor]"]


@dataclass
class SampleResult:
    """What :meth:`FKCSampler.sample` returns.

    Attributes:
        x: final particles ``(N, *shape)``.
        w: final log-weights ``(N,)`` float32.
        ess: effective sample size after each step (before any resampling), float32 ``(K,)``.
        resampled: bool ``(K,)``, whether the particles were resampled after each step.
    """

    x: torch.Tensor
    w: torch.Tensor
    ess: torch.Tensor
    resampled: torch.Tensor = field(default_factory=lambda: torch.zeros(0, dtype=torch.bool))


def reward_and_grad(reward_fn: RewardFn, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(r, ∇r)`` at ``x``: from ``reward_fn`` when it returns a pair, else by autograd."""
    with torch.enable_grad():
        xg = x.detach().requires_grad_(True)
        out = reward_fn(xg)
        if isinstance(out, tuple):
            r, grad = out
            return r.detach().float().reshape(-1), grad.detach().to(x.dtype)
        if not isinstance(out, torch.Tensor) or out.shape != (x.shape[0],):
            raise ValueError(
                f"reward_fn: expected a tensor of shape ({x.shape[0]},) or a pair (r, grad_r), "
                f"got {type(out).__name__} {tuple(getattr(out, 'shape', ()))}"
            )
        (grad,) = torch.autograd.grad(out.sum(), xg)
    return out.detach().float(), grad.detach().to(x.dtype)


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
        weights: ``"seed"`` (clipped weights that only rank particles) or ``"smc"`` (exact
            unclipped log importance weights).
        resample: ``None``, ``"ess"`` (when ESS < ``ess_threshold``·N) or ``"always"``;
            systematic, and log-weights reset to 0. Needs ``weights="smc"``.
        reward_at: ``"x"`` (r and ∇r at the noisy particle) or ``"x0_hat"`` (at the denoised
            estimate ``x̂0 = (x + σ²s)/α``, gradient ``∇r(x̂0)/α``). With ``"x0_hat"`` the reward
            is time dependent and the ``λ·∂r_t/∂t`` weight term is omitted.
        dw_clip, w_clip: clips used with ``weights="seed"`` (defaults: docs/design.md,
            "One step").
        backend: backend for the fused ops.
    """

    def __init__(
        self,
        score_fn: ScoreFn,
        reward_fn: RewardFn,
        schedule: _Schedule,
        tilt: LinearTilt,
        n_steps: int,
        weights: str = "seed",
        resample: str | None = None,
        ess_threshold: float = 0.5,
        reward_at: str = "x",
        backend: str = "auto",
        dw_clip: float | None = 0.1,
        w_clip: tuple[float, float] | None = (0.1, 10.0),
    ) -> None:
        if isinstance(n_steps, bool) or not isinstance(n_steps, int) or n_steps < 1:
            raise ValueError(f"n_steps: expected an int >= 1, got {n_steps!r}")
        if weights not in ("seed", "smc"):
            raise ValueError(f"weights: expected 'seed' or 'smc', got {weights!r}")
        if resample not in (None, "ess", "always"):
            raise ValueError(f"resample: expected None, 'ess' or 'always', got {resample!r}")
        if resample is not None and weights != "smc":
            raise ValueError(f"resample={resample!r} needs weights='smc', got weights={weights!r}")
        if not 0.0 < ess_threshold <= 1.0:
            raise ValueError(f"ess_threshold: expected a fraction in (0, 1], got {ess_threshold}")
        if reward_at not in ("x", "x0_hat"):
            raise ValueError(f"reward_at: expected 'x' or 'x0_hat', got {reward_at!r}")
        self.score_fn, self.reward_fn = score_fn, reward_fn
        self.schedule, self.tilt, self.n_steps = schedule, tilt, n_steps
        self.weights, self.resample, self.ess_threshold = weights, resample, ess_threshold
        self.reward_at, self.backend = reward_at, backend
        self.dw_clip = dw_clip if weights == "seed" else None
        self.w_clip = w_clip if weights == "seed" else None

    def coefficients(self, i: int) -> StepCoefficients:
        return self.schedule.at_step(i, self.n_steps)

    def _reward(self, x: torch.Tensor, s: torch.Tensor, c: StepCoefficients):
        if self.reward_at == "x":
            return reward_and_grad(self.reward_fn, x)
        x0_hat = (x + (c.sigma * c.sigma) * s) / c.alpha
        r, grad = reward_and_grad(self.reward_fn, x0_hat)
        return r, grad / c.alpha

    def step(self, x: torch.Tensor, w: torch.Tensor, i: int,
             generator: torch.Generator | None = None) -> None:
        """Advance particles ``x`` and log-weights ``w`` in place by step ``i``."""
        c = self.coefficients(i)
        s = self.score_fn(x, c.tau).to(x.dtype)
        r, grad = self._reward(x, s, c)
        fkc_step_(x, w, s, grad, r, h=c.h, g=c.g, lam=self.tilt.lam(c.t), dlam=self.tilt.dlam(c.t),
                  f_coef=c.f_coef, dw_clip=self.dw_clip, w_clip=self.w_clip,
                  backend=self.backend, **self.step_noise(x, generator))

    # Hooks of :meth:`sample`. The sharded sampler (fkc_kernels.distributed) overrides exactly
    # these four, so one loop serves one process and many ranks, draw for draw.

    def initial_particles(self, n_particles: int, shape: tuple[int, ...],
                          generator: torch.Generator | None, device: torch.device,
                          dtype: torch.dtype) -> torch.Tensor:
        """Starting particles ``(N, *shape)`` in ``dtype``: ``prior_std · normal(S, O, e)``.

        ``normal(S, O, e)`` is the noise contract's normal of flat element ``e`` with ``(S, O)``
        drawn from ``generator``, so a shard of the block can be drawn alone (by global ``e``).
        """
        seeds = draw_philox_seeds(generator, device)
        z = philox_normal(seeds[0], seeds[1], n_particles * math.prod(shape), device=device)
        return (z.view(n_particles, *shape) * self.schedule.prior_std).to(dtype)

    def step_noise(self, x: torch.Tensor,
                   generator: torch.Generator | None) -> dict[str, object]:
        """Keyword arguments that give :func:`fkc_step_` its noise for one step.

        Here ``{"generator": generator}``: the kernel draws ``(S, O)`` and the contract's normals
        in place. An override may pass ``{"noise": z}`` with ``z`` of ``x``'s shape instead.
        """
        return {"generator": generator}

    def effective_sample_size(self, w: torch.Tensor) -> torch.Tensor:
        """ESS of the log-weights ``w`` (0-d float32), the quantity the ``"ess"`` rule tests."""
        return effective_sample_size(w)

    def resample_particles(
        self, x: torch.Tensor, w: torch.Tensor, ess: torch.Tensor, n_particles: int,
        generator: torch.Generator | None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Systematic resampling after a step when the rule says so.

        Resamples when ``resample == "always"`` or (``"ess"``) when ``ess < ess_threshold · N``
        (``N = n_particles``), then sets the log-weights to 0. With resampling on, one uniform is
        drawn from ``generator`` at every step, whether it resamples or not.

        Returns:
            ``(x, w, resampled)``: the particles and log-weights (updated in place here) and a
            0-d bool tensor (no host sync on the single-process path).
        """
        if self.resample is None:
            return x, w, torch.zeros((), dtype=torch.bool, device=w.device)
        idx = systematic_resample(w, generator=generator, backend=self.backend)
        if self.resample == "always":
            do = torch.ones((), dtype=torch.bool, device=w.device)
        else:
            do = ess < self.ess_threshold * n_particles
        # no host sync: the resampled and the kept particles are chosen on the device
        keep = torch.arange(w.shape[0], device=w.device)
        idx = torch.where(do, idx, keep)
        x.copy_(x[idx])
        w.copy_(torch.where(do, torch.zeros_like(w), w))
        return x, w, do

    @torch.no_grad()
    def sample(
        self,
        n_particles: int,
        shape: tuple[int, ...] | int,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> SampleResult:
        """Draw ``n_particles`` particles of per-particle ``shape`` with FKC guidance.

        Returns:
            :class:`SampleResult` with ``x`` ``(N, *shape)`` in ``dtype`` and ``w`` ``(N,)``.

        Raises:
            FloatingPointError: a step made a particle non-finite or the log-weights unusable
                (NaN, ``+inf``, or all ``-inf``), naming the step: never a silently finite result.
        """
        if isinstance(n_particles, bool) or not isinstance(n_particles, int) or n_particles < 1:
            raise ValueError(f"n_particles: expected an int >= 1, got {n_particles!r}")
        shape = _check_shape(shape)
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(f"generator: expected a torch.Generator or None, got "
                            f"{type(generator).__name__} {generator!r}")
        if device is None:
            device = generator.device if generator is not None else torch.device("cpu")
        device = torch.device(device)
        x = self.initial_particles(n_particles, shape, generator, device, dtype)
        w = torch.zeros(x.shape[0], dtype=torch.float32, device=device)
        ess_hist, res_hist = [], []
        for i in range(self.n_steps):
            self.step(x, w, i, generator)
            _check_finite_step(x, w, i, self.n_steps)
            try:
                ess = self.effective_sample_size(w)
            except ValueError as exc:  # e.g. every log-weight -inf: no particle left
                raise FloatingPointError(f"FKCSampler: step {i} of {self.n_steps}: {exc}") \
                    from exc
            ess_hist.append(ess)
            x, w, did = self.resample_particles(x, w, ess, n_particles, generator)
            res_hist.append(did)
        return SampleResult(x=x, w=w, ess=torch.stack(ess_hist), resampled=torch.stack(res_hist))
