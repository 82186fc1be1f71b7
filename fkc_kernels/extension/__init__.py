"""The C++/CUDA backends (``"cpu"``, ``"cuda"``): loader and backend objects.

The native library (csrc/) registers kernels for ``fkc::{fkc_step,select_particles,
systematic_resample}_ext``, whose schemas come from :mod:`fkc_kernels.ops._schemas`. Importing
this package does not load it: :func:`load` does, on first use by a backend.
"""

from ._loader import LoadResult, load

__all__ = ["LoadResult", "load"]
