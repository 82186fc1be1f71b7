"""The ``backend`` fixture of the op tests: every op test runs once per backend.

``backend`` is the backend's name (a ``str``, so it can be passed as ``backend=`` to the public
ops) with the device its tensors live on, its backend object (the interface of
``fkc_kernels.ops._backends``) and its ``torch.ops.fkc`` ops. The C++ backends skip with the
reason when they cannot run (and fail under ``FKC_REQUIRE_EXT=1``, as in CI); Triton skips
unless it can run CPU tensors (``TRITON_INTERPRET=1``, set by tests/conftest.py); ``cuda`` is
marked ``cuda`` and runs on GPU machines.

Tolerances are per backend: the tables of _tolerances.py.
"""

from __future__ import annotations

import pytest
import torch
from _tolerances import DEVICE, OP_SUFFIX

from fkc_kernels.ops import get_backend_object, unavailable_reason


class Backend(str):
    """A backend name with what its tests need (see the module docstring)."""

    device: torch.device
    impl: object

    def op(self, op: str):
        """``torch.ops.fkc.<op>_<suffix>`` of a compiled backend."""
        return getattr(torch.ops.fkc, f"{op}_{OP_SUFFIX[self]}")

    @property
    def compiled(self) -> bool:
        return str(self) in OP_SUFFIX


def _make(request, name: str) -> Backend:
    device = torch.device(DEVICE[name])
    if name in ("cpu", "cuda"):
        request.getfixturevalue(f"{name}_backend")  # skip, or fail under FKC_REQUIRE_EXT=1
    else:
        reason = unavailable_reason(name, device)
        if reason is not None:
            pytest.skip(f"the {name!r} backend is unavailable: {reason}")
    b = Backend(name)
    b.device = device
    b.impl = get_backend_object(name)
    return b


@pytest.fixture(params=["reference", "cpu", "triton",
                        pytest.param("cuda", marks=pytest.mark.cuda)])
def backend(request) -> Backend:
    """Each backend in turn."""
    return _make(request, request.param)


@pytest.fixture(params=["cpu", "triton", pytest.param("cuda", marks=pytest.mark.cuda)])
def compiled_backend(request) -> Backend:
    """Each backend with ``torch.library`` ops (opcheck, ``torch.compile``)."""
    return _make(request, request.param)
