"""The FKC sampler over particles sharded across ranks."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.distributed as dist

from ..ops import fkc_step_
from ..reference.philox import philox_normal
from ..sampler import FKCSampler, SampleResult
from .communication import (
    agreed_philox_seeds,
    comm_device,
    shard_offsets,
    shard_sizes,
    world_and_rank,
)
from .fetch import fetch_particles
from .systematic_resample import effective_sample_size, systematic_resample


@dataclass
class ShardedSampleResult(SampleResult):
    """:class:`SampleResult` of one rank's shard.

    Attributes:
        x, w: this rank's particles ``(n_r, *shape)`` and log-weights ``(n_r,)``.
        ess: *global* ESS after each step, float32 ``(K,)`` (the same on every rank).
        resampled: bool ``(K,)``, the same on every rank.
        offset: global index of this rank's first particle.
        n_global: N, the particles on all ranks.
    """

    offset: int = 0
    n_global: int = 0


class ShardedFKCSampler(FKCSampler):
    """:class:`FKCSampler` over particles sharded across the ranks of ``group``.

    Same arguments as :class:`FKCSampler`, plus ``group``. :meth:`sample` is collective: every
    rank calls it with the same arguments and gets its shard of the global ``n_particles``
    (:func:`shard_sizes`). ``score_fn`` and ``reward_fn`` see only the local shard, so each rank
    evaluates the models on its own particles. What is global: the noise (the contract's
    ``normal(S, O, e)`` at the particle's global element ``e``, with ``(S, O)`` agreed per step),
    the starting particles (Philox normals of the global element), the ESS and the systematic
    resampling. The run therefore does not depend on the number of ranks (up to float rounding
    of the ESS and the cumulative weights), and is the single-process algorithm in distribution.

    Per step it exchanges 16 B per rank for ``(S, O)`` and 32 B per rank for the ESS; a
    resampling step adds :func:`systematic_resample` and :func:`fetch_particles`. The noise is
    generated explicitly per shard and passed to the step as ``noise=`` (one extra ``N×D``
    tensor per step, in exchange for rank-count-independent noise).
    """

    def __init__(self, *args, group: dist.ProcessGroup | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.group = group

    @torch.no_grad()
    def sample(
        self,
        n_particles: int,
        shape: tuple[int, ...] | int,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> ShardedSampleResult:
        """Draw the global ``n_particles``; returns this rank's shard.

        Args:
            n_particles: N over all ranks, ``>= world_size`` (every rank gets at least one).
            shape: per-particle shape.
            generator: every rank draws from it; group rank 0's draws are used.
            device: this rank's device (its GPU under NCCL).
            dtype: particle dtype.

        Returns:
            :class:`ShardedSampleResult`.
        """
        world, rank = world_and_rank(self.group)
        if isinstance(n_particles, bool) or not isinstance(n_particles, int) \
                or n_particles < world:
            raise ValueError(f"n_particles: expected an int >= world_size={world}, "
                             f"got {n_particles!r}")
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        if device is None:
            device = generator.device if generator is not None else comm_device(self.group)
        device = torch.device(device)
        sizes = shard_sizes(n_particles, world)
        n_local, offset = sizes[rank], shard_offsets(sizes)[rank]
        d = math.prod(shape)

        def global_normals() -> torch.Tensor:
            s, o = agreed_philox_seeds(generator, device, world, self.group)
            z = philox_normal(s, o, n_local * d, device=device, start=offset * d)
            return z.view(n_local, *shape)

        x = (global_normals() * self.schedule.prior_std).to(dtype)
        w = torch.zeros(n_local, dtype=torch.float32, device=device)
        ess_hist, res_hist = [], []
        for i in range(self.n_steps):
            c = self.coefficients(i)
            s = self.score_fn(x, c.tau).to(x.dtype)
            r, grad = self._reward(x, s, c)
            noise = global_normals().to(x.dtype)
            fkc_step_(x, w, s, grad, r, h=c.h, g=c.g, lam=self.tilt.lam(c.t),
                      dlam=self.tilt.dlam(c.t), f_coef=c.f_coef, noise=noise,
                      dw_clip=self.dw_clip, w_clip=self.w_clip, backend=self.backend)
            ess = effective_sample_size(w, group=self.group)
            ess_hist.append(ess)
            # the decision is a host bool computed from the same gathered data on every rank,
            # so all ranks take the same branch (and the same collectives)
            do = self.resample == "always" or (
                self.resample == "ess" and bool(ess < self.ess_threshold * n_particles))
            if do:
                anc = systematic_resample(w, generator=generator, group=self.group)
                x = fetch_particles(x, anc, group=self.group)
                w.zero_()
            res_hist.append(torch.tensor(do, device=device))
        return ShardedSampleResult(x=x, w=w, ess=torch.stack(ess_hist),
                                   resampled=torch.stack(res_hist), offset=offset,
                                   n_global=n_particles)

