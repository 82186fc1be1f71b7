"""Where the one-launch Triton selection goes wrong on a GPU, part by part.

    python bench/probe_triton_select.py            # on the GPU machine
    TRITON_INTERPRET=1 python bench/probe_triton_select.py --dry-run

One program runs the kernel's own parts on one block of weights and each part is compared with
a host computation: the int64 keys (``_desc_key``), the radix select's result (``_kth_prefix``:
prefix, last shift and the count taken from the last bucket, against the same passes done in
Python), and the survivors ``_keep_smallest`` writes (against a stable sort). On an H200 (triton
3.6, 2026-12-04) the keys and a histogram of them were right and the survivors wrong. The IR
showed why: the radix select returned the first pass's shift whatever the pass it stopped at (a
variable Triton did not carry through the loop; fixed, see the end of ``_kth_prefix``). The
next GPU run checks the fix here.
"""

from __future__ import annotations

import argparse
import os
import sys

import torch
import triton
import triton.language as tl

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from fkc_kernels.triton import select_particles as sel  # noqa: E402

_U64 = (1 << 64) - 1


@triton.jit
def _probe(w_ptr, N, K, key_out, res_ptr, dst_key, dst_idx, BLOCK: tl.constexpr,
           KP: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    ok = offs < N
    key = sel._desc_key(tl.load(w_ptr + offs, mask=ok, other=0.0).to(tl.float64))
    tl.store(key_out + offs, key, mask=ok)
    need = tl.minimum(tl.sum(ok.to(tl.int32), 0), K)
    thr, shift, n_eq = sel._kth_prefix(key, ok, need)
    tl.store(res_ptr + 0, thr)
    tl.store(res_ptr + 1, shift.to(tl.int64))
    tl.store(res_ptr + 2, n_eq.to(tl.int64))
    sel._keep_smallest(key, offs.to(tl.int64), ok, K, dst_key, dst_idx, KP)


def host_keys(w: torch.Tensor) -> torch.Tensor:
    """``_desc_key`` on the host: int64 keys ascending in descending float64 ``w``."""
    w = w.double().clone()
    w[w == 0] = 0.0
    bits = w.view(torch.int64)
    out = ~torch.where(bits < 0, bits ^ 0x7FFFFFFFFFFFFFFF, bits)
    out[w != w] = 0x7FFFFFFFFFFFFFFF
    return out


def host_kth_prefix(keys: list[int], need: int) -> tuple[int, int, int]:
    """The passes of ``_kth_prefix`` in Python integers: ``(prefix, last shift, n_eq)``."""
    u = [(k & _U64) ^ (1 << 63) for k in keys]
    prefix, shift, last = 0, 56, 56
    while shift >= 0:
        high = min(shift + 8, 63)
        active = [x for x in u if shift == 56 or (x >> high) == (prefix >> high)]
        hist = [0] * 256
        for x in active:
            hist[(x >> shift) & 255] += 1
        bucket, below = 0, 0  # the bins wholly before the need-th key, and their count
        while bucket < 256 and below + hist[bucket] < need:
            below += hist[bucket]
            bucket += 1
        need -= below
        prefix |= bucket << shift
        last = shift
        shift -= 8
        if hist[bucket] == need:
            break
    thr = prefix ^ (1 << 63)
    return (thr - (1 << 64) if thr >= 1 << 63 else thr), last, need


def probe(dev: torch.device, n: int, k: int, block: int, warps: int) -> str:
    """One block of ``n`` normal weights, ``k`` kept: a line saying which parts agree."""
    w = torch.randn(n, generator=torch.Generator().manual_seed(n * 7 + k)).to(dev)
    keys = torch.zeros(n, dtype=torch.int64, device=dev)
    res = torch.zeros(3, dtype=torch.int64, device=dev)
    dst_key = torch.zeros(k, dtype=torch.int64, device=dev)
    dst_idx = torch.zeros(k, dtype=torch.int64, device=dev)
    _probe[(1,)](w, n, k, keys, res, dst_key, dst_idx, BLOCK=block,
                 KP=triton.next_power_of_2(k), num_warps=warps)
    want_keys = host_keys(w.cpu())
    want = host_kth_prefix(want_keys.tolist(), min(n, k))
    got = tuple(res.cpu().tolist())
    kept = set(dst_idx.cpu().tolist())
    want_kept = set(want_keys.argsort(stable=True)[:k].tolist())
    return (f"N={n} k={k} BLOCK={block} warps={warps}: keys "
            f"{'ok' if torch.equal(keys.cpu(), want_keys) else 'WRONG'}; radix (prefix, shift, "
            f"n_eq) {'ok' if got == want else f'WRONG: got {got}, want {want}'}; survivors "
            f"{'ok' if kept == want_kept else f'WRONG ({len(kept & want_kept)}/{k})'}")


CASES = [(1000, 11, 1024, 8), (1000, 11, 1024, 1), (1000, 16, 1024, 8), (4096, 64, 4096, 8),
         (4096, 64, 4096, 4), (300, 8, 1024, 8)]


def main(argv: list[str] | None = None) -> list[str]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="CPU tensors (TRITON_INTERPRET=1)")
    args = parser.parse_args(argv)
    dev = torch.device("cpu" if args.dry_run else "cuda")
    cases = CASES[-1:] if args.dry_run else CASES
    lines = [probe(dev, *case) for case in cases]
    for line in lines:
        print(line, flush=True)
    return lines


if __name__ == "__main__":
    main()
