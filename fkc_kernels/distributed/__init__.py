"""Particles sharded over ``torch.distributed`` ranks: exact global selection and resampling.

Each rank holds a contiguous shard of the global particle block, in rank order: rank ``r`` owns
global indices ``offset_r .. offset_r + n_r - 1`` with ``offset_r = n_0 + ... + n_{r-1}``. Shard
sizes may differ (and may be 0). Everything here is built from ``torch.distributed``
collectives only (``all_gather_single``, ``all_to_all_single``, ``broadcast``), so it runs on
NCCL (tensors on the rank's GPU) and gloo (CPU tensors) alike, under ``torchrun``.

Randomness. Every function that draws from a ``generator`` draws on every rank (so equal
generator states stay equal) and then uses **group rank 0's draw** on all ranks: the ranks can
never disagree, whatever their generator states, and a run is reproducible from rank 0's seed.
The noise and the random selection keys of a particle are those of its *global* index under the
noise contract, so a sharded run reproduces the single-process one:

- :func:`select_particles` returns exactly ``fkc_kernels.select_particles(cat(w), k, n_random,
  generator=g)`` for ``g`` in rank 0's generator state.
- :func:`systematic_resample` returns this rank's slice of the single-process ancestor vector
  (equal up to float64 rounding of the cumulative weights at a boundary).
- :class:`ShardedFKCSampler` uses the noise ``normal(S, O, e)`` of global element ``e`` at every
  step and Philox normals of the global element for the start, so its particles do not depend on
  the number of ranks.

Errors. Each function first exchanges a small header (whether the local arguments are valid,
the shard size, rank 0's random draw) so that an invalid argument on one rank raises on *every*
rank instead of leaving the others blocked in a collective.

Communication per call, ``W`` ranks, ``k`` picked, ``n`` particles on this rank, row bytes
``B = D * itemsize``:

- ``select_particles``: one all_gather of 6 int64 (48 B) per rank, one all_gather of
  ``3*min(k - n_random, n_max) + 2*min(k, n_max)`` int64 (at most 40·k B) per rank:
  ``O(k·W)``, independent of N.
- ``effective_sample_size``: one all_gather of 4 int64 (32 B) per rank.
- ``systematic_resample``: one all_gather of 4 int64 per rank, one all_to_all of 8 B per offspring
  whose ancestor lives on another rank (the rest stay local).
- ``fetch_particles``: one all_gather of 4 int64 per rank, all_to_alls of ``W`` counts, of 8 B per
  requested row and of ``B`` per requested row.
"""

from .communication import comm_device, shard_offsets, shard_sizes, shard_slice, world_and_rank
from .fetch import broadcast_module, fetch_particles
from .sampler import ShardedFKCSampler, ShardedSampleResult
from .select_particles import select_particles
from .systematic_resample import effective_sample_size, systematic_resample

__all__ = [
    "ShardedFKCSampler",
    "ShardedSampleResult",
    "broadcast_module",
    "comm_device",
    "effective_sample_size",
    "fetch_particles",
    "select_particles",
    "shard_offsets",
    "shard_sizes",
    "shard_slice",
    "systematic_resample",
    "world_and_rank",
]
