"""Sources and flags of the C++/CUDA library, shared by setup.py and the just-in-time loader.

Torch-free and import-free on purpose: setup.py loads this file by path before torch (or the
package) may be importable.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

# paths relative to the repository root. Per op: its torch-free kernels (csrc/cpu/<op>_cpu.cpp,
# csrc/cuda/<op>_cuda.cu) and its registration for each dispatch key
# (csrc/ops/<op>_register_cpu.cpp, csrc/ops/<op>_register_cuda.cpp: TORCH_LIBRARY_IMPL, and
# TORCH_LIBRARY_FRAGMENT for CPU-only helper ops). A new op adds its files here; file names must
# be unique across folders (the just-in-time build names object files after them).
CPU_SOURCES = [
    "csrc/cpu/fkc_step_cpu.cpp",
    "csrc/cpu/gmm_loop_cpu.cpp",
    "csrc/cpu/gmm_step_cpu.cpp",
    "csrc/cpu/noise_simd.cpp",
    "csrc/cpu/select_particles_cpu.cpp",
    "csrc/cpu/systematic_resample_cpu.cpp",
    "csrc/ops/fkc_step_register_cpu.cpp",
    "csrc/ops/gmm_loop_register_cpu.cpp",
    "csrc/ops/gmm_step_register_cpu.cpp",
    "csrc/ops/noise_register_cpu.cpp",
    "csrc/ops/select_particles_register_cpu.cpp",
    "csrc/ops/systematic_resample_register_cpu.cpp",
]
CUDA_SOURCES = [
    "csrc/cuda/fkc_step_cuda.cu",
    "csrc/cuda/gmm_loop_cuda.cu",
    "csrc/cuda/gmm_step_cuda.cu",
    "csrc/cuda/philox_normal_cuda.cu",
    "csrc/cuda/select_particles_cuda.cu",
    "csrc/cuda/systematic_resample_cuda.cu",
    "csrc/ops/fkc_step_register_cuda.cpp",
    "csrc/ops/gmm_loop_register_cuda.cpp",
    "csrc/ops/gmm_step_register_cuda.cpp",
    "csrc/ops/noise_register_cuda.cpp",
    "csrc/ops/select_particles_register_cuda.cpp",
    "csrc/ops/systematic_resample_register_cuda.cpp",
]
# the importable name of the prebuilt library and the metadata file written beside it
EXT_NAME = "fkc_kernels._C"
BUILD_INFO_FILE = "_C_build.json"


def cxx_flags(with_cuda: bool) -> list[str]:
    """Host compiler flags. -fno-math-errno and -fno-trapping-math let sqrt and the branch-free
    selects of the noise loop vectorize (neither changes a result: nothing reads errno or FP
    exception flags); -ffp-contract=off keeps a*b+c two roundings, as in the float32 reference,
    in the FMA-capable (AVX-512/AVX2+FMA) kernel clones; OpenMP makes at::parallel_for (an inline
    header template) run in parallel."""
    if sys.platform == "win32":
        flags = ["/O2", "/openmp", "/fp:precise"]
    else:
        flags = ["-O3", "-fno-math-errno", "-fno-trapping-math", "-ffp-contract=off", "-fopenmp"]
    if with_cuda:
        flags.append("-DFKC_WITH_CUDA")
    return flags


def ld_flags() -> list[str]:
    # libgomp.so.1 resolves to the copy torch already loaded (same soname): one OpenMP runtime
    return [] if sys.platform == "win32" else ["-fopenmp"]


def nvcc_flags() -> list[str]:
    # no --use_fast_math: the noise contract needs IEEE sqrt and division
    return ["-O3", "-DFKC_WITH_CUDA", "-lineinfo"]


def sources_digest(repo_root: Path) -> str | None:
    """A hash of every C++/CUDA source and header under ``repo_root/csrc`` (None without them).

    Written beside a prebuilt library and compared on load in a source checkout: a library built
    from other sources can register op schemas that no longer match the Python side, and that
    fails at load time in C++, where it cannot be caught."""
    csrc = Path(repo_root) / "csrc"
    if not csrc.is_dir():
        return None
    digest = hashlib.sha256()
    for path in sorted(p for p in csrc.rglob("*") if p.suffix in (".cpp", ".cu", ".h", ".cuh")):
        digest.update(str(path.relative_to(csrc)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]
