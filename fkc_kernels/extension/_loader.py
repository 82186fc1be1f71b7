"""Find, or build just in time, and load the native library behind ``fkc::*_ext`` ops.

Order (like xformers/_cpp_lib.py): the library ``setup.py`` built (``fkc_kernels/_C*.so``, with
``_C_build.json`` beside it saying which torch/CUDA/Python it was built for); else a build just in
time with ``torch.utils.cpp_extension.load`` (ninja, ``MAX_JOBS`` honoured, cached under
``$FKC_BUILD_DIR`` or torch's extension cache in one directory per environment and build
flags, :func:`jit_build_dir`; CPU sources only unless CUDA is usable); else one
warning that names the versions and the cause, after which the backends report themselves
unavailable and dispatch falls back. Nothing here raises.

Environment: ``FKC_NO_JIT=1`` skips the just-in-time build; ``FKC_DISABLE_EXT=1`` skips the
library altogether (to test the fallback).
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import json
import os
import platform
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..ops._schemas import define_backend_ops
from . import _build_config as cfg

_PKG_DIR = Path(__file__).resolve().parent.parent  # fkc_kernels/
_REPO_ROOT = _PKG_DIR.parent  # where csrc/ lives in a source checkout or editable install


@dataclass
class LoadResult:
    ok: bool
    how: str = ""  # "prebuilt" or "jit"
    path: str | None = None
    reason: str | None = None  # why it is not loaded
    notes: list[str] = field(default_factory=list)


_RESULT: LoadResult | None = None


def _running_versions() -> str:
    return (f"torch {torch.__version__}, CUDA {torch.version.cuda}, "
            f"Python {platform.python_version()}")


def _prebuilt() -> tuple[Path | None, str | None]:
    """Path of a loadable prebuilt library, or (None, why not)."""
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        path = _PKG_DIR / f"_C{suffix}"
        if path.exists():
            break
    else:
        return None, "no prebuilt fkc_kernels/_C library (pip install -e . builds it)"
    info_path = _PKG_DIR / cfg.BUILD_INFO_FILE
    try:
        info = json.loads(info_path.read_text())
    except (OSError, ValueError):
        info = {}
    built = info.get("torch"), info.get("python")
    here = torch.__version__, platform.python_version()
    # a library built against another torch can crash on load (C++ ABI): check first
    if built != here:
        return None, (
            f"the prebuilt {path.name} was built for torch {built[0]}, CUDA {info.get('cuda')}, "
            f"Python {built[1]}; this is {_running_versions()} (rebuild: pip install -e .)"
        )
    # in a source checkout, a library built from other C++ sources (a pull, a branch switch)
    # may define other op schemas and abort the process on load: rebuild instead
    here_sources = cfg.sources_digest(_REPO_ROOT)
    if here_sources is not None and info.get("sources") != here_sources:
        return None, (
            f"the prebuilt {path.name} was built from other C++ sources than csrc/ holds now "
            f"(rebuild: pip install -e .)"
        )
    return path, None


def _cuda_buildable() -> bool:
    if not torch.cuda.is_available() or torch.version.cuda is None:
        return False
    from torch.utils.cpp_extension import CUDA_HOME

    return CUDA_HOME is not None


def jit_build_key(with_cuda: bool) -> str:
    """What a just-in-time build depends on, hashed: this environment (``sys.prefix``), the torch,
    CUDA and Python versions, the compiler flags and the content of every C++/CUDA source and
    header. Each key gets its own build directory, so two virtual environments (whose flags and
    torch differ) never rebuild over each other, and an edited source never reuses a stale
    build."""
    digest = hashlib.sha256()
    for part in (sys.prefix, torch.__version__, str(torch.version.cuda),
                 platform.python_version(), repr(cfg.cxx_flags(with_cuda)),
                 repr(cfg.nvcc_flags() if with_cuda else []), repr(cfg.ld_flags())):
        digest.update(part.encode() + b"\0")
    digest.update(str(cfg.sources_digest(_REPO_ROOT)).encode())
    return digest.hexdigest()[:16]


def jit_build_dir(with_cuda: bool) -> Path:
    """Where the just-in-time build of this environment lives: under ``$FKC_BUILD_DIR``, else
    torch's extension cache (``$TORCH_EXTENSIONS_DIR``, else ``~/.cache/torch_extensions``), one
    directory per :func:`jit_build_key`."""
    root = os.environ.get("FKC_BUILD_DIR")
    if not root:
        cache = os.environ.get("TORCH_EXTENSIONS_DIR") or os.path.join(
            os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "torch_extensions")
        root = os.path.join(cache, "fkc_kernels")
    kind = "cuda" if with_cuda else "cpu"
    return Path(root) / f"{kind}-{jit_build_key(with_cuda)}"


def _jit_build(with_cuda: bool) -> str:
    """Build (or reuse this environment's cached build) with ninja and load it; returns the
    library's name."""
    from torch.utils import cpp_extension

    csrc = _REPO_ROOT / "csrc"
    sources = cfg.CPU_SOURCES + (cfg.CUDA_SOURCES if with_cuda else [])
    name = "fkc_kernels_C_cuda" if with_cuda else "fkc_kernels_C_cpu"
    build_dir = jit_build_dir(with_cuda)
    build_dir.mkdir(parents=True, exist_ok=True)
    library = build_dir / (name + (".pyd" if sys.platform == "win32" else ".so"))
    if not library.exists():  # what torch's load names the library it builds
        print(f"fkc_kernels: building the C++{'/CUDA' if with_cuda else ''} extension just in "
              f"time into {build_dir} (once for this environment; "
              f"MAX_JOBS={os.environ.get('MAX_JOBS', 'auto')})...", file=sys.stderr)
    cpp_extension.load(
        name=name,
        sources=[str(_REPO_ROOT / s) for s in sources],
        extra_cflags=cfg.cxx_flags(with_cuda),
        extra_cuda_cflags=cfg.nvcc_flags(),
        extra_ldflags=cfg.ld_flags(),
        extra_include_paths=[str(csrc)],
        build_directory=str(build_dir),
        with_cuda=with_cuda,
        is_python_module=False,
        verbose=os.environ.get("FKC_VERBOSE_BUILD") == "1",
    )
    return name


def _jit(notes: list[str]) -> tuple[str | None, str | None]:
    """Build just in time; returns (name, None) or (None, why not). A failed CUDA build is
    retried CPU-only (the CPU backend still works where nvcc is missing or broken)."""
    if os.environ.get("FKC_NO_JIT") == "1":
        return None, "the just-in-time build is off (FKC_NO_JIT=1)"
    csrc = _REPO_ROOT / "csrc"
    if not all((_REPO_ROOT / src).exists() for src in cfg.CPU_SOURCES):
        return None, f"no C++ sources at {csrc} to build just in time (not a source checkout)"
    if _cuda_buildable():
        try:
            return _jit_build(with_cuda=True), None
        except Exception as exc:
            notes.append(f"the CUDA just-in-time build failed ({type(exc).__name__}: {exc}); "
                         "retrying CPU-only")
    try:
        return _jit_build(with_cuda=False), None
    except Exception as exc:  # compiler missing, compile error, ...
        return None, f"the just-in-time build failed ({type(exc).__name__}: {exc})"


def load() -> LoadResult:
    """Load the library once (idempotent); never raises."""
    global _RESULT
    if _RESULT is not None:
        return _RESULT
    define_backend_ops("ext")  # schemas first: the library only adds kernels to them
    if os.environ.get("FKC_DISABLE_EXT") == "1":
        _RESULT = LoadResult(False, reason="the C++ extension is disabled (FKC_DISABLE_EXT=1)")
        return _RESULT
    notes: list[str] = []
    path, why = _prebuilt()
    if path is not None:
        try:
            torch.ops.load_library(str(path))
            _RESULT = LoadResult(True, "prebuilt", str(path))
            return _RESULT
        except Exception as exc:
            why = f"loading {path.name} failed ({type(exc).__name__}: {exc})"
    notes.append(why)
    try:
        path_or_name, why = _jit(notes)
    except Exception as exc:  # belt and braces: loading must never raise
        path_or_name, why = None, f"the just-in-time build failed ({type(exc).__name__}: {exc})"
    if path_or_name is not None:
        _RESULT = LoadResult(True, "jit", path_or_name, notes=notes)
        return _RESULT
    notes.append(why)
    reason = "; ".join(notes)
    _RESULT = LoadResult(False, reason=reason, notes=notes)  # decided before anyone is warned
    try:
        warnings.warn(
            f"fkc_kernels: the C++/CUDA extension is unavailable ({reason}). Running "
            f"{_running_versions()}. Ops fall back to other backends.",
            RuntimeWarning,
            stacklevel=2,
        )
    except Warning:
        pass  # warnings made errors (-W error) must not stop the fallback; the reason stays
        # in unavailable_reason() and in the error of a backend asked for by name
    return _RESULT


def has_kernel(op: str, dispatch_key: str) -> bool:
    """Whether ``fkc::<op>`` has a kernel for ``dispatch_key`` ("CPU"/"CUDA") registered."""
    return torch._C._dispatch_has_kernel_for_dispatch_key(f"fkc::{op}", dispatch_key)
