"""The noise contract's normals of a range of flat elements, in Triton.

``philox_normal(seeds, numel, start)`` writes ``normal(S, O, e)`` for ``start <= e < start +
numel``. It draws them with ``_philox.normals_interleaved``, the device function the fused step
uses for 4-aligned rows (and ``normals_per_element``, its other path, does the same operations
lane by lane), so the values carry the bits the step adds for those elements. The sharded
sampler draws its shard's noise here when it runs on the Triton backend.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from ._host import cdiv
from ._philox import load_seeds, normals_interleaved

_BLOCK_G = 256  # Philox groups (4 elements each) per program


@triton.jit
def _philox_normal_kernel(seeds_ptr, out_ptr, start, numel, BLOCK_G: tl.constexpr):
    seed, offset = load_seeds(seeds_ptr)
    pid = tl.program_id(0).to(tl.int64)
    g_first = start // 4 + pid * BLOCK_G
    groups = g_first + tl.arange(0, BLOCK_G).to(tl.int64)
    z = normals_interleaved(seed, offset, groups[None, :], 1, BLOCK_G)
    # element 4 * g_first + j of the block is out[4 * g_first + j - start]
    idx = 4 * g_first - start + tl.arange(0, 4 * BLOCK_G).to(tl.int64)[None, :]
    tl.store(out_ptr + idx, z, mask=(idx >= 0) & (idx < numel))


def philox_normal(seeds: torch.Tensor, numel: int, start: int = 0) -> torch.Tensor:
    """float32 ``(numel,)`` on seeds' device: ``normal(S, O, start + i)`` for ``seeds = [S, O]``
    (int64 ``(2,)``, read in the kernel: no host sync)."""
    out = torch.empty(numel, dtype=torch.float32, device=seeds.device)
    if numel == 0:
        return out
    groups = (start + numel - 1) // 4 - start // 4 + 1
    grid = (cdiv(groups, _BLOCK_G),)
    _philox_normal_kernel[grid](seeds.contiguous(), out, start, numel, BLOCK_G=_BLOCK_G)
    return out
