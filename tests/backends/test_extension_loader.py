"""The C++ extension's loader and dispatch: "auto" picks it for CPU tensors; with the library off,
import works, "auto" falls back and backend="cpu" says why; the just-in-time build directory is
one per environment and build flags, and the loader says it builds only when it does."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest
import torch

from fkc_kernels.extension import _loader


@pytest.mark.usefixtures("cpu_backend")
def test_auto_picks_cpu_for_cpu_tensors():
    from fkc_kernels.ops._backends import resolve_backend

    assert resolve_backend("auto", torch.device("cpu")).name == "cpu"


@pytest.mark.usefixtures("cpu_backend")
def test_fallback_when_the_extension_is_off():
    code = (
        "import torch, fkc_kernels as fk\n"
        "assert 'cpu' not in fk.available_backends(), fk.available_backends()\n"
        "x = torch.randn(3, 4)\n"
        "fk.fkc_step(x, torch.ones(3), x, x, torch.zeros(3), h=0.1, g=1.0, lam=0.0, dlam=0.0)\n"
        "try:\n"
        "    fk.fkc_step(x, torch.ones(3), x, x, torch.zeros(3), h=0.1, g=1.0, lam=0.0, dlam=0.0,"
        " backend='cpu')\n"
        "except ValueError as e:\n"
        "    assert 'FKC_DISABLE_EXT=1' in str(e), e\n"
        "else:\n"
        "    raise SystemExit('backend=cpu did not raise')\n"
    )
    env = dict(os.environ, FKC_DISABLE_EXT="1")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_jit_build_dir_is_one_per_environment_and_flags(monkeypatch, tmp_path):
    monkeypatch.setenv("FKC_BUILD_DIR", str(tmp_path))
    here = _loader.jit_build_dir(with_cuda=False)
    assert here.parent == tmp_path and here.name.startswith("cpu-")
    assert _loader.jit_build_dir(with_cuda=False) == here  # stable: a second import reuses it
    assert _loader.jit_build_dir(with_cuda=True).name.startswith("cuda-")
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "another-venv"))
    other_env = _loader.jit_build_dir(with_cuda=False)
    monkeypatch.undo()
    monkeypatch.setenv("FKC_BUILD_DIR", str(tmp_path))
    flags = _loader.cfg.cxx_flags(False) + ["-DFKC_SOMETHING_ELSE"]
    monkeypatch.setattr(_loader.cfg, "cxx_flags", lambda with_cuda: flags)
    other_flags = _loader.jit_build_dir(with_cuda=False)
    assert len({here, other_env, other_flags}) == 3
    monkeypatch.delenv("FKC_BUILD_DIR")
    monkeypatch.setenv("TORCH_EXTENSIONS_DIR", str(tmp_path / "torch-cache"))
    assert _loader.jit_build_dir(with_cuda=False).parent == tmp_path / "torch-cache" / "fkc_kernels"


def test_building_line_only_when_it_builds(monkeypatch, tmp_path, capsys):
    """The first just-in-time load builds and says so; the next finds the library and is quiet
    (torch's load is still called: it loads, and rebuilds only if its own check says so)."""
    from torch.utils import cpp_extension

    calls = []

    def fake_load(name, build_directory, **kwargs):
        calls.append(build_directory)
        (pathlib.Path(build_directory) / f"{name}.so").write_bytes(b"")

    monkeypatch.setenv("FKC_BUILD_DIR", str(tmp_path))
    monkeypatch.setattr(cpp_extension, "load", fake_load)
    _loader._jit_build(with_cuda=False)
    first = capsys.readouterr().err
    _loader._jit_build(with_cuda=False)
    second = capsys.readouterr().err
    assert "building the C++ extension just in time" in first
    assert str(_loader.jit_build_dir(with_cuda=False)) in first
    assert second == ""
    assert calls == [str(_loader.jit_build_dir(with_cuda=False))] * 2


def test_prebuilt_from_other_sources_is_not_loaded(monkeypatch, tmp_path):
    # a library built from other C++ sources may register other op schemas, and that aborts
    # the process on load: the loader must refuse it by its recorded sources digest instead
    pkg, repo = tmp_path / "fkc_kernels", tmp_path / "repo"
    pkg.mkdir()
    (repo / "csrc").mkdir(parents=True)
    (repo / "csrc" / "step.cpp").write_text("int step() { return 1; }\n")
    import importlib.machinery

    (pkg / f"_C{importlib.machinery.EXTENSION_SUFFIXES[0]}").write_bytes(b"not loaded")
    info = {"torch": torch.__version__, "python": _loader.platform.python_version(),
            "cuda": None, "with_cuda": False, "sources": _loader.cfg.sources_digest(repo)}
    (pkg / _loader.cfg.BUILD_INFO_FILE).write_text(__import__("json").dumps(info))
    monkeypatch.setattr(_loader, "_PKG_DIR", pkg)
    monkeypatch.setattr(_loader, "_REPO_ROOT", repo)
    path, why = _loader._prebuilt()
    assert why is None and path is not None
    (repo / "csrc" / "step.cpp").write_text("int step() { return 2; }\n")
    path, why = _loader._prebuilt()
    assert path is None and "built from other C++ sources" in why
