"""``torch.library`` schemas and fake kernels shared by every compiled backend (namespace ``fkc``).

Each compiled backend ``B`` (``triton``, ``ext`` for the C++/CUDA library) gets three ops with the
same schemas, so the Python-side definitions and fake (meta) kernels exist even when no native
library was built, and ``torch.compile``/CUDA graphs see one opaque call per op:

* ``fkc::fkc_step_B(...) -> ()`` writes ``x_out`` and ``w_out`` (they may alias ``x`` and ``w``);
  its arguments are the fields of ``StepTensors`` then ``StepScalars``, and its schema is
  generated from them (``fkc_kernels.ops._step_args``).
* ``fkc::select_particles_B(w, k, n_random, seeds) -> Tensor`` (int64 ``(k,)``).
* ``fkc::systematic_resample_B(logw, u) -> Tensor`` (int64 ``(N,)``).
* ``fkc::gmm_step_B(...) -> ()``: the mixture step (``fkc_kernels.ops._gmm_args``), in place
  like ``fkc_step_B``; a backend without a fused kernel for it leaves it unimplemented.

Scalars are ``float`` (double on the C++ side); backends do their math in float32. Clips that
are off arrive as ``inf``.
"""

from __future__ import annotations

import torch

from ._gmm_args import GMM_SCHEMA
from ._step_args import STEP_SCHEMA

SELECT_SCHEMA = "(Tensor w, int k, int n_random, Tensor seeds) -> Tensor"
RESAMPLE_SCHEMA = "(Tensor logw, Tensor u) -> Tensor"

_DEFINED: set[str] = set()


def _fake_step(*args) -> None:
    return None  # writes its outputs in place: nothing to allocate


def _fake_select(w, k, n_random, seeds):
    return w.new_empty((k,), dtype=torch.int64)


def _fake_resample(logw, u):
    return logw.new_empty(logw.shape, dtype=torch.int64)


def define_backend_ops(suffix: str) -> dict[str, str]:
    """Define ``fkc::{fkc_step,select_particles,systematic_resample,gmm_step}_{suffix}`` with
    fake kernels.

    Idempotent. Returns the qualified op names by op (``"fkc_step" -> "fkc::fkc_step_triton"``).
    Implementations are registered by the backend (``torch.library.impl`` or C++
    ``TORCH_LIBRARY_IMPL(fkc, CPU/CUDA, m)``).
    """
    names = {op: f"fkc::{op}_{suffix}" for op in ("fkc_step", "select_particles",
                                                   "systematic_resample", "gmm_step")}
    if suffix in _DEFINED:
        return names
    for op, schema, fake in (("fkc_step", STEP_SCHEMA, _fake_step),
                             ("select_particles", SELECT_SCHEMA, _fake_select),
                             ("systematic_resample", RESAMPLE_SCHEMA, _fake_resample),
                             ("gmm_step", GMM_SCHEMA, _fake_step)):
        torch.library.define(names[op], schema)
        torch.library.register_fake(names[op])(fake)
    _DEFINED.add(suffix)
    return names
