"""Per-backend tolerances and op names of the op tests (imported by conftest.py and the tests).

Every table says why its numbers are what they are.
"""

from __future__ import annotations

import math

import torch

# the suffix of each backend's torch.library ops (fkc::<op>_<suffix>); the reference has none
OP_SUFFIX = {"cpu": "ext", "cuda": "ext", "triton": "triton"}
DEVICE = {"reference": "cpu", "cpu": "cpu", "triton": "cpu", "cuda": "cuda"}

# fkc_step x' against the reference, (rtol, atol) by particle dtype. The reference is the
# definition (0, 0). The kernels compute in float32 like the reference: the only differences
# are the order of the row sums and one rounding of x' to the storage dtype (one ulp of it).
STEP_X_TOL = {
    "reference": {torch.float32: (0, 0), torch.float16: (0, 0), torch.bfloat16: (0, 0)},
    "cpu": {torch.float32: (1e-5, 1e-5), torch.float16: (1e-3, 1e-5),
            torch.bfloat16: (8e-3, 1e-5)},
    "triton": {torch.float32: (1e-6, 2e-6), torch.float16: (1e-3, 1e-5),
               torch.bfloat16: (8e-3, 1e-5)},
    # nvcc contracts a*b+c into FMAs: a few ulp more than the host build
    "cuda": {torch.float32: (2e-5, 2e-5), torch.float16: (1e-3, 1e-5),
             torch.bfloat16: (8e-3, 1e-5)},
}
# in-kernel noise against the noise contract's float32 philox_normal, (rtol, atol): the integer
# part is exact; only the last bits of log/sin/cos may differ
NOISE_TOL = {"reference": (0, 0), "cpu": (4e-6, 2e-6), "triton": (0, 2e-6),
             "cuda": (4e-6, 2e-6)}
# selection and resampling are index-exact on every backend, except that CUDA sums the float64
# cumulative weights in another order: an offspring may move across an exact tie
RESAMPLE_MAX_MOVED = {"reference": 0, "cpu": 0, "triton": 0, "cuda": 1}


def step_w_tol(name: str, d: int) -> dict:
    """fkc_step w' against the reference: a row's d products summed in another order."""
    if name == "reference":
        return dict(rtol=0, atol=0)
    return dict(rtol=1e-5, atol=max(1e-5, 1e-6 * math.sqrt(d)))
