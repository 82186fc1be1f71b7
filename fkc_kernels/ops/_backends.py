"""Backend registry and dispatch (docs/design.md, "Dispatch").

A backend is an object with ``name``, ``unavailable_reason(device) -> str | None`` and the op
methods below. Tensors reach it validated, 2-D ``(N, D)`` with unit inner stride, on one device:

* ``fkc_step(tensors: StepTensors, scalars: StepScalars) -> None`` (the two bundles of
  ``fkc_kernels.ops._step_args``, which say what each field holds): writes ``tensors.x_out`` (x's
  dtype) and ``tensors.w_out`` (float32); either may alias its input. ``extra_dw``, ``f`` and
  ``noise`` may be ``None``; ``seeds`` is the int64 ``(2,)`` tensor ``[S, O]`` of the noise
  contract. Clips that are off come as ``inf``.
* ``select_particles(w, k, n_random, seeds) -> LongTensor[k]``.
* ``systematic_resample(logw, u) -> LongTensor[N]`` with ``u`` a float64 ``(1,)`` uniform.
* ``noise_normals(seeds, numel, start) -> FloatTensor[numel]``: the noise contract's normals of
  flat elements ``start .. start+numel-1`` on seeds' device, bit for bit what this backend's
  ``fkc_step`` draws in-kernel for them.
* optional ``gmm_step(tensors: GmmTensors, scalars: GmmScalars) -> None`` with
  ``gmm_fused(d, n_mix, n_bumps) -> bool``, whether it takes that model
  (``fkc_kernels.ops._gmm_args``): the fused mixture step. Without it (or for a model it does not
  take) ``ops.gmm_step`` composes the reference's score with the backend's ``fkc_step``.
* optional ``gmm_loop(tensors: GmmTensors, coefs, seeds, ratio, log_reward) -> None``: K mixture
  steps in place in one launch, for models ``gmm_fused`` takes (``coefs`` float32 ``(K, 16)``,
  ``seeds`` int64 ``(K, 2)``; ``fkc_kernels.ops.gmm_loop``). Without it ``gmm_loop_`` runs
  ``gmm_step`` K times.

Backends other than the reference are imported lazily, so importing ``fkc_kernels`` never fails
because one of them cannot load.
"""

from __future__ import annotations

import importlib
from typing import Any

import torch

BACKEND_NAMES = ("reference", "triton", "cpu", "cuda")
# module that defines each backend object as ``BACKEND`` (imported on first use)
_BACKEND_MODULES = {
    "reference": "fkc_kernels.ops._reference_backend",
    "triton": "fkc_kernels.triton",
    "cpu": "fkc_kernels.extension.cpu_backend",
    "cuda": "fkc_kernels.extension.cuda_backend",
}
_LOADED: dict[str, Any] = {}
_LOAD_ERRORS: dict[str, str] = {}


def get_backend_object(name: str) -> Any | None:
    """The backend object for ``name``, or ``None`` when its module cannot be imported."""
    if name in _LOADED:
        return _LOADED[name]
    if name in _LOAD_ERRORS:
        return None
    try:
        module = importlib.import_module(_BACKEND_MODULES[name])
        _LOADED[name] = module.BACKEND
        return module.BACKEND
    except Exception as exc:  # a missing optional backend must never break import
        _LOAD_ERRORS[name] = f"{type(exc).__name__}: {exc}"
        return None


def unavailable_reason(name: str, device: torch.device | None = None) -> str | None:
    """Why backend ``name`` cannot run (on ``device`` when given); ``None`` when it can."""
    obj = get_backend_object(name)
    if obj is None:
        return f"it failed to load ({_LOAD_ERRORS.get(name, 'unknown error')})"
    return obj.unavailable_reason(device)


def available_backends() -> list[str]:
    """Names of the backends that can run here, on some device, in preference order."""
    return [n for n in BACKEND_NAMES if unavailable_reason(n) is None]


_HOW_TO_GET = {
    "triton": "install triton and use CUDA tensors, or set TRITON_INTERPRET=1 before importing "
    "fkc_kernels to run Triton kernels on the CPU",
    "cpu": "build the C++ extension: pip install -e . (needs a C++ compiler and ninja)",
    "cuda": "build the CUDA extension: FKC_FORCE_CUDA=1 pip install -e . with CUDA_HOME set, "
    "and use CUDA tensors",
    "reference": "",
}


@torch.compiler.assume_constant_result
def _resolve_name(backend: str, device_type: str) -> str:
    """Name of the backend that serves ``backend`` for tensors on ``device_type``.

    Depends only on its arguments and what is installed, so ``torch.compile`` runs it once while
    tracing and keeps the answer as a constant: the lazy imports above never enter a graph.
    """
    device = torch.device(device_type)
    if backend == "auto":
        order = ("cuda", "triton", "reference") if device.type == "cuda" else ("cpu", "reference")
        for name in order:
            if unavailable_reason(name, device) is None:
                return name
        return "reference"
    if backend not in BACKEND_NAMES:
        raise ValueError(
            f"backend: expected 'auto' or one of {list(BACKEND_NAMES)}, got {backend!r}"
        )
    reason = unavailable_reason(backend, device)
    if reason is not None:
        raise ValueError(
            f"backend={backend!r} is not available for {device.type} tensors: {reason}. "
            f"To get it: {_HOW_TO_GET[backend]}. Available here: {available_backends()}"
        )
    return backend


def resolve_backend(backend: str, device: torch.device) -> Any:
    """Backend object for a request (``"auto"`` or a name) and the tensors' device.

    ``"auto"``: CUDA tensors -> cuda, else triton, else reference; CPU tensors -> cpu, else
    reference. A named backend that cannot run raises ``ValueError`` saying why and how to get it.
    """
    return _LOADED[_resolve_name(backend, device.type)]
