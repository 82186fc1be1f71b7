"""Host time of one ``fkc_step_`` call on the Triton backend, without the GPU.

    TRITON_INTERPRET=1 python bench/triton_host_time.py

The kernel launches are replaced by stubs, so what is timed is everything a call does on the
host except Triton's own launcher: validation, dispatch, the seed draw, the launcher's
arithmetic. The ``cpu`` backend (when built) is timed in the same run as a reference. Medians
of five timings of 2000 calls on 4x4 CPU tensors, one thread.
"""

from __future__ import annotations

import os
import sys
import time

if os.environ.get("TRITON_INTERPRET") != "1":
    sys.exit("set TRITON_INTERPRET=1 (the Triton backend then takes CPU tensors)")

import torch  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import fkc_kernels as fk  # noqa: E402
import fkc_kernels.triton.fkc_step as triton_step  # noqa: E402
from fkc_kernels.ops import unavailable_reason  # noqa: E402


class _StubLaunch:
    def __getitem__(self, grid):
        return lambda *args, **kwargs: None


def host_us(backend: str, calls: int = 2000, reps: int = 5) -> float:
    """Median microseconds of one call (of ``reps`` timings of ``calls`` calls)."""
    x, s, gr = (torch.randn(4, 4) for _ in range(3))
    w, r = torch.zeros(4), torch.randn(4)
    coefs = dict(h=0.01, g=1.0, lam=1.0, dlam=0.5)
    for _ in range(300):
        fk.fkc_step_(x, w, s, gr, r, backend=backend, **coefs)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(calls):
            fk.fkc_step_(x, w, s, gr, r, backend=backend, **coefs)
        times.append((time.perf_counter() - t0) / calls * 1e6)
    return sorted(times)[reps // 2]


def main() -> None:
    torch.set_num_threads(1)
    triton_step._fkc_step_kernel = _StubLaunch()
    triton_step._finish_w_kernel = _StubLaunch()
    for backend in ("triton", "cpu"):
        if unavailable_reason(backend, torch.device("cpu")) is None:
            print(f"{backend}: {host_us(backend):.1f} us a call")


if __name__ == "__main__":
    main()
