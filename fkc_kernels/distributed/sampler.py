"""The FKC sampler over particles sharded across ranks."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.distributed as dist

from ..ops.noise import draw_uniform, noise_normals
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
        ancestors: int64 ``(K, n_r)``: the *global* index of each local slot's ancestor.
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
    of the ESS and the cumulative weights): with the same generator state it gives the rows of
    :class:`FKCSampler`'s particles that this rank owns. It reuses :class:`FKCSampler`'s loop and
    overrides only its hooks (start, step noise, ESS, resampling).

    Per step it exchanges 16 B per rank for ``(S, O)`` and 32 B per rank for the ESS; a
    resampling step adds :func:`systematic_resample` and :func:`fetch_particles`. The noise is
    generated explicitly per shard by the step's backend (:func:`~fkc_kernels.ops.noise_normals`,
    the bits that backend's kernel draws in-kernel) and passed to the step as ``noise=`` (one
    extra ``N×D`` tensor per step, in exchange for rank-count-independent noise).
    """

    def __init__(self, *args, group: dist.ProcessGroup | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.groups is not None:
            raise ValueError("groups: resampling within groups is not supported by "
                             "ShardedFKCSampler (use FKCSampler)")
        if self.reward_grad != "autograd":
            raise ValueError(f"reward_grad: {self.reward_grad!r} (potential only) is not "
                             f"supported by ShardedFKCSampler (use FKCSampler)")
        self.group = group

    def _global_normals(self, shape: tuple[int, ...], generator: torch.Generator | None,
                        device: torch.device, backend: str) -> torch.Tensor:
        """This rank's rows of the contract's ``normal(S, O, e)`` over the global block, with
        ``(S, O)`` drawn on every rank and taken from rank 0, drawn by ``backend``."""
        world, n_local, offset = self._layout
        s, o = agreed_philox_seeds(generator, device, world, self.group)
        d = math.prod(shape)
        seeds = torch.tensor([s, o], dtype=torch.int64, device=device)
        z = noise_normals(seeds, n_local * d, start=offset * d, backend=backend)
        return z.view(n_local, *shape)

    def initial_particles(self, n_particles, shape, generator, device, dtype) -> torch.Tensor:
        """This rank's shard of the single-process start (global Philox elements; the
        reference's normals, as :meth:`FKCSampler.initial_particles` draws them)."""
        z = self._global_normals(shape, generator, device, "reference")
        return (z * self.schedule.prior_std).to(dtype)

    def step_noise(self, x, generator) -> dict[str, object]:
        """The step's noise as an explicit tensor: the contract's normals of the global elements
        of this shard, drawn by the backend the step runs on, so they carry the bits the
        single-process kernel draws in-kernel for those elements (float32 particles; float16 and
        bfloat16 ones get the normals rounded to their dtype, where the kernel adds them in
        float32)."""
        z = self._global_normals(tuple(x.shape[1:]), generator, x.device, self.backend)
        return {"noise": z.to(x.dtype)}

    def effective_sample_size(self, w) -> torch.Tensor:
        """The global ESS (one small all_gather)."""
        return effective_sample_size(w, group=self.group)

    def resample_particles(self, x, w, ess, n_particles, generator):
        """The single-process rule on the global weights; resampled particles are fetched from
        the ranks that own their ancestors. Like the single-process sampler, one uniform is drawn
        at every step when resampling is on, so the generators stay in step."""
        _, n_local, offset = self._layout
        keep = torch.arange(offset, offset + n_local, device=w.device)
        if self.resample is None:
            return x, w, torch.zeros((), dtype=torch.bool, device=w.device), keep
        # a host bool computed from the same gathered data on every rank, so all ranks take the
        # same branch (and the same collectives)
        do = self.resample == "always" or bool(ess < self.ess_threshold * n_particles)
        if do:
            anc = systematic_resample(w, generator=generator, group=self.group)
            x = fetch_particles(x, anc, group=self.group)
            w = torch.zeros_like(w)
        else:
            anc = keep
            draw_uniform(generator, w.device)  # the draw the single-process sampler makes
        return x, w, torch.tensor(do, device=w.device), anc

    def take_rows(self, t, ancestors) -> torch.Tensor:
        """Rows at *global* ``ancestors``, fetched from the ranks that own them."""
        return fetch_particles(t, ancestors, group=self.group)

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
        if isinstance(generator, (list, tuple)):
            raise TypeError("generator: ShardedFKCSampler takes one torch.Generator (every rank "
                            "draws the global noise from it), got a list")
        if isinstance(n_particles, bool) or not isinstance(n_particles, int) \
                or n_particles < world:
            raise ValueError(f"n_particles: expected an int >= world_size={world}, "
                             f"got {n_particles!r}")
        if device is None:
            device = generator.device if generator is not None else comm_device(self.group)
        sizes = shard_sizes(n_particles, world)
        offset = shard_offsets(sizes)[rank]
        # the shard layout the hooks read during this call (the loop itself is FKCSampler's)
        self._layout = (world, sizes[rank], offset)
        res = super().sample(n_particles, shape, generator, device, dtype)
        return ShardedSampleResult(x=res.x, w=res.w, ess=res.ess, resampled=res.resampled,
                                   ancestors=res.ancestors,
                                   offset=offset, n_global=n_particles)
