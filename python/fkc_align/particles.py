"""Where a round's particles live: in one process, or sharded over ``torch.distributed`` ranks.

The active loop and its pick rules are written once against :class:`Particles`; the two
implementations give the same answers for the same generator states (the sharded ones use the
exact global collectives of :mod:`fkc_kernels.distributed`), so a run asks the same questions on
one process and on ``W`` ranks.
"""

from __future__ import annotations

import torch

from fkc_kernels import FKCSampler, select_particles

# Clips of the log-weight that ranks particles for selection: none. Under the seed's clips "top
# by weight" is close to a random pick; unclipped, w is each path's FKC log importance weight,
# what Algorithm 1 ranks by (docs/design.md, "Selection weights", has the measurements).
SELECTION_DW_CLIP: float | None = None
SELECTION_W_CLIP: tuple[float, float] | None = None


class Particles:
    """One process: the particle block is local; every operation is the plain op."""

    world = 1
    rank = 0

    @property
    def is_main(self) -> bool:
        """Whether this process owns the store, asks the oracle and trains (rank 0)."""
        return self.rank == 0

    def make_sampler(self, *args, **kwargs) -> FKCSampler:
        """A sampler for this layout, with the selection clips (arguments of FKCSampler)."""
        return FKCSampler(*args, dw_clip=SELECTION_DW_CLIP, w_clip=SELECTION_W_CLIP,
                                  **kwargs)

    def top(self, scores: torch.Tensor, m: int, generator: torch.Generator) -> torch.Tensor:
        """Global indices ``(m,)`` of the ``m`` largest ``scores`` (descending, ties to the lower
        index, NaN lowest); draws one ``(S, O)`` from ``generator`` like every selection."""
        return select_particles(scores, m, 0, generator=generator)

    def pick(self, w: torch.Tensor, k: int, n_random: int,
             generator: torch.Generator) -> torch.Tensor:
        """``fkc_kernels.select_particles`` over the global block: ``(k,)`` global indices."""
        return select_particles(w, k, n_random, generator=generator)

    def fetch(self, x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """Global rows ``index`` ``(m, *S)``, on every rank."""
        return x[index]

    def broadcast_ints(self, values: list[int], device: torch.device) -> list[int]:
        """Rank 0's ``values`` on every rank."""
        return list(values)

    def broadcast_tensor(self, t: torch.Tensor | None, shape_dtype: tuple | None = None,
                         device: torch.device | None = None) -> torch.Tensor:
        """Rank 0's tensor on every rank (others pass None; its (shape, dtype) is sent first)."""
        assert t is not None
        return t

    def broadcast_module(self, module: torch.nn.Module) -> None:
        """Rank 0's parameters and buffers into every rank's ``module``."""


class ShardedParticles(Particles):
    """The particle block sharded over the ranks of ``group`` (contiguous, in rank order)."""

    def __init__(self, group=None) -> None:
        import torch.distributed as dist

        from fkc_kernels import distributed as fd

        self.dist, self.fd, self.group = dist, fd, group
        self.world, self.rank = fd.world_and_rank(group)

    def comm_device(self) -> torch.device:
        return self.fd.comm_device(self.group)

    def make_sampler(self, *args, **kwargs) -> FKCSampler:
        return self.fd.ShardedFKCSampler(*args, dw_clip=SELECTION_DW_CLIP,
                                         w_clip=SELECTION_W_CLIP, group=self.group, **kwargs)

    def top(self, scores, m, generator):
        return self.fd.select_particles(scores, m, 0, generator=generator, group=self.group)

    def pick(self, w, k, n_random, generator):
        return self.fd.select_particles(w, k, n_random, generator=generator, group=self.group)

    def fetch(self, x, index):
        return self.fd.fetch_particles(x, index, group=self.group)

    def _src(self) -> int:
        return self.dist.get_global_rank(self.group, 0) if self.group is not None else 0

    def broadcast_ints(self, values, device):
        t = torch.tensor(values, dtype=torch.int64, device=device)
        self.dist.broadcast(t, src=self._src(), group=self.group)
        return t.tolist()

    def broadcast_tensor(self, t, shape_dtype=None, device=None):
        # the shape goes first (its length is fixed by shape_dtype's rank), then the data
        ndim, dtype = shape_dtype
        shape = self.broadcast_ints(list(t.shape) if t is not None else [0] * ndim, device)
        if t is None:
            t = torch.empty(shape, dtype=dtype, device=device)
        t = t.to(device).contiguous()
        self.dist.broadcast(t, src=self._src(), group=self.group)
        return t

    def broadcast_module(self, module):
        self.fd.broadcast_module(module, src=0, group=self.group)
