"""Build script: metadata lives in pyproject.toml; this file adds the optional C++/CUDA extension.

Why the extension is optional here: under pip's default build isolation torch is not importable
while setup.py runs (pyproject's [build-system] does not list torch, on purpose: that would
download and install a second torch, possibly another build than the one in the environment,
into every isolated build). Then this installs pure Python and the loader
(fkc_kernels/extension/_loader.py) builds the same sources just in time on first use. To build
at install time instead, install torch first and run
``pip install --no-build-isolation -e ".[dev]"``.

Environment: ``FKC_FORCE_CUDA=1`` builds the CUDA kernels even without a visible GPU (CUDA_HOME
must point at a toolkit; ``TORCH_CUDA_ARCH_LIST`` picks the architectures); ``MAX_JOBS`` caps
parallel compile jobs (ninja); ``FKC_NO_EXT=1`` skips the extension; ``FKC_REQUIRE_EXT=1`` turns
a failed extension build into a failed install (CI) instead of a warning.
"""

import importlib.util
import json
import os
import platform
import sys
from pathlib import Path

from setuptools import setup

ROOT = Path(__file__).resolve().parent


def _build_config():
    # by path: importing fkc_kernels would import torch (and may not be possible yet)
    path = ROOT / "fkc_kernels" / "extension" / "_build_config.py"
    spec = importlib.util.spec_from_file_location("_fkc_build_config", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _make_build_ext(base, info: dict, info_file: str, required: bool):
    """A BuildExtension subclass that also writes ``info`` (what the library was built for) to
    ``info_file`` next to the library, so the loader can refuse a stale build instead of
    crashing on an ABI mismatch; a failed build warns and installs pure Python unless
    ``required``."""

    class BuildExt(base):
        def build_extension(self, extension):
            try:
                super().build_extension(extension)
            except Exception as exc:  # ninja failures surface as RuntimeError, not CompileError
                if required:
                    raise
                print(f"fkc-kernels: WARNING: building {extension.name} failed ({exc}); "
                      "installing pure Python (the loader retries just in time)", file=sys.stderr)
                return
            text = json.dumps(info, indent=1) + "\n"
            outs = [Path(self.get_ext_fullpath(extension.name)).parent / info_file]
            if self.inplace or getattr(self, "editable_mode", False):
                # editable installs copy only the library into the source tree: put it there too
                outs.append(ROOT / "fkc_kernels" / info_file)
            for out in outs:
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_text(text)

    return BuildExt


def _extension_kwargs():
    if os.environ.get("FKC_NO_EXT") == "1":
        return {}
    try:
        import torch
        from torch.utils.cpp_extension import (
            CUDA_HOME,
            BuildExtension,
            CppExtension,
            CUDAExtension,
        )
    except ImportError as exc:
        print(f"fkc-kernels: torch is not importable at build time ({exc}); installing pure "
              "Python. The C++ extension builds just in time on first use, or now with "
              "`pip install --no-build-isolation -e .`", file=sys.stderr)
        return {}
    cfg = _build_config()
    force_cuda = os.environ.get("FKC_FORCE_CUDA") == "1"
    with_cuda = torch.version.cuda is not None and CUDA_HOME is not None and (
        force_cuda or torch.cuda.is_available())
    if force_cuda and not with_cuda:
        raise RuntimeError(f"FKC_FORCE_CUDA=1 but torch.version.cuda={torch.version.cuda} and "
                           f"CUDA_HOME={CUDA_HOME}: cannot build the CUDA kernels")
    required = os.environ.get("FKC_REQUIRE_EXT") == "1"
    common = dict(
        include_dirs=[str(ROOT / "csrc")],
        extra_link_args=cfg.ld_flags(),
        optional=not required,  # a failed build warns and installs pure Python
    )
    if with_cuda:
        ext = CUDAExtension(
            cfg.EXT_NAME, cfg.CPU_SOURCES + cfg.CUDA_SOURCES,
            extra_compile_args={"cxx": cfg.cxx_flags(True), "nvcc": cfg.nvcc_flags()}, **common)
    else:
        ext = CppExtension(cfg.EXT_NAME, cfg.CPU_SOURCES,
                           extra_compile_args={"cxx": cfg.cxx_flags(False)}, **common)
    info = {"torch": torch.__version__, "cuda": torch.version.cuda if with_cuda else None,
            "python": platform.python_version(), "with_cuda": with_cuda,
            "sources": cfg.sources_digest(ROOT)}
    build_ext = _make_build_ext(BuildExtension, info, cfg.BUILD_INFO_FILE, required)
    return {"ext_modules": [ext], "cmdclass": {"build_ext": build_ext.with_options(use_ninja=True)}}


setup(**_extension_kwargs())
