#!/usr/bin/env bash
# C++/CUDA build checks for CI (called by .ci/run):
#   1. configure and build the CMake CPU library (CMakeLists.txt) against the venv's libtorch;
#   2. compile-check every CUDA source with nvcc through torch's own include paths and flags
#      (sm_90 by default), plus bindings.cpp with the CUDA registrations enabled.
# Fails on any compile error. Runs from the repository root with the venv active (or PYTHON=...).
set -euo pipefail

cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python}"  # the active (CI) venv
JOBS="${MAX_JOBS:-2}"
BUILD="${FKC_CI_BUILD_DIR:-build/ci-ext}"
export CUDA_HOME="${CUDA_HOME:-/usr/local/cuda}"
export TORCH_CUDA_ARCH_LIST="${TORCH_CUDA_ARCH_LIST:-9.0}"

t0=$(date +%s)
echo "== CMake: CPU library =="
mkdir -p "$BUILD"
TORCH_PREFIX="$("$PYTHON" -c 'import torch.utils; print(torch.utils.cmake_prefix_path)')"
# a CUDA build of torch makes its CMake config look for a CUDA toolkit even for this CPU-only
# library (the CUDA sources are compile-checked with nvcc below)
cmake -S . -B "$BUILD/cmake" -DCMAKE_PREFIX_PATH="$TORCH_PREFIX" -DFKC_WITH_CUDA=OFF \
  -DCMAKE_BUILD_TYPE=Release -DCUDA_TOOLKIT_ROOT_DIR="$CUDA_HOME" -Wno-dev > "$BUILD/cmake.log" \
  || { cat "$BUILD/cmake.log"; exit 1; }
cmake --build "$BUILD/cmake" -j "$JOBS"
# smoke test: the CMake library registers working kernels for the Python-defined schemas
"$PYTHON" - "$BUILD/cmake/libfkc_kernels.so" <<'PY'
import sys

import torch

from fkc_kernels import reference
from fkc_kernels.ops._schemas import define_backend_ops

define_backend_ops("ext")
torch.ops.load_library(sys.argv[1])
w = torch.tensor([0.5, float("nan"), 2.0, 2.0, -1.0])
seeds = torch.tensor([11, 22])
got = torch.ops.fkc.select_particles_ext(w, 4, 2, seeds)
assert torch.equal(got, reference.select_particles(w, 4, 2, seeds)), got
print("CMake library loads and selects like the reference:", got.tolist())
PY
t1=$(date +%s)
echo "CMake CPU library built in $((t1 - t0)) s"

echo "== nvcc: compile-check CUDA sources (TORCH_CUDA_ARCH_LIST=$TORCH_CUDA_ARCH_LIST) =="
if [ ! -x "$CUDA_HOME/bin/nvcc" ]; then
  echo "no nvcc at $CUDA_HOME/bin/nvcc: skipping the CUDA compile check"
  exit 0
fi
"$PYTHON" - "$BUILD/nvcc" "$JOBS" <<'PY'
"""Compile (no link) each CUDA source and bindings.cpp with -DFKC_WITH_CUDA, with the include
paths, defines and -gencode flags torch.utils.cpp_extension would use."""
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

from torch.utils import cpp_extension as ce

sys.path.insert(0, "fkc_kernels/extension")
import _build_config as cfg  # noqa: E402

out_dir, jobs = sys.argv[1], int(sys.argv[2])
os.makedirs(out_dir, exist_ok=True)
cuda_home = os.environ["CUDA_HOME"]
incs = [f"-I{p}" for p in ["csrc", *ce.include_paths(device_type="cuda")]]
nvcc = [os.path.join(cuda_home, "bin", "nvcc"), "-std=c++20", *ce.COMMON_NVCC_FLAGS,
        *ce._get_cuda_arch_flags(), *cfg.nvcc_flags(), "-Xcompiler", "-fPIC", "-c"]
cxx = ["c++", "-std=c++20", "-fsyntax-only", *cfg.cxx_flags(True), "-fPIC"]
cmds = [[*nvcc, *incs, src, "-o", os.path.join(out_dir, os.path.basename(src) + ".o")]
        for src in cfg.CUDA_SOURCES]
cmds.append([*cxx, *incs, "csrc/bindings.cpp"])


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    return cmd[-3] if cmd[0] != "c++" else cmd[-1], r


with ThreadPoolExecutor(jobs) as pool:
    results = list(pool.map(run, cmds))
failed = False
for src, r in results:
    status = "ok" if r.returncode == 0 else "FAILED"
    print(f"  {status}: {src}")
    if r.returncode != 0 or "warning" in r.stderr:
        print(r.stderr)
    failed |= r.returncode != 0
sys.exit(1 if failed else 0)
PY
t2=$(date +%s)
echo "CUDA compile check done in $((t2 - t1)) s (total $((t2 - t0)) s)"
