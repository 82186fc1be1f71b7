"""The ``"cpu"`` backend: the C++ OpenMP kernels of csrc/cpu/ (DESIGN section 6)."""

from __future__ import annotations

from ._common import ExtBackend


class CPUBackend(ExtBackend):
    name = "cpu"
    dispatch_key = "CPU"


BACKEND = CPUBackend()
