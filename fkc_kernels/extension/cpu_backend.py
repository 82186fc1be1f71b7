"""The ``"cpu"`` backend: the C++ OpenMP kernels of csrc/cpu/ (docs/design.md, "Dispatch")."""

from __future__ import annotations

from ._common import ExtBackend


class CPUBackend(ExtBackend):
    name = "cpu"
    dispatch_key = "CPU"


BACKEND = CPUBackend()
