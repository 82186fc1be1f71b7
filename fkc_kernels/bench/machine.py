"""What a benchmark ran on: the machine (CPU model, cores, vector ISA, GPU) and the versions."""

from __future__ import annotations

import os
import platform
from importlib import metadata

import torch


def _cpuinfo() -> tuple[str, set[str]]:
    """CPU model name and feature flags from /proc/cpuinfo (Linux), else what platform says."""
    model, flags = "", set()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name" and not model:
                    model = value.strip()
                elif key == "flags" and not flags:
                    flags = set(value.split())
                if model and flags:
                    break
    except OSError:
        pass
    return model or platform.processor() or platform.machine(), flags


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def cpu_noise_isa() -> str | None:
    """The vector path the C++ CPU backend draws its noise with here (None when not built)."""
    from ..ops import unavailable_reason

    if unavailable_reason("cpu", torch.device("cpu")) is not None:
        return None
    return str(torch.ops.fkc.cpu_noise_isa())


def machine_info(device: torch.device) -> dict:
    """CPU model, logical cores, torch threads, AVX-512/AVX2 support, and the GPU of
    ``device`` (None on the CPU)."""
    model, flags = _cpuinfo()
    gpu = None
    if torch.device(device).type == "cuda":
        p = torch.cuda.get_device_properties(torch.device(device))
        gpu = {"name": p.name, "memory_gib": round(p.total_memory / 2**30, 1),
               "sms": p.multi_processor_count, "cuda": torch.version.cuda}
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "avx512": "avx512f" in flags,
        "avx2": "avx2" in flags,
        "cpu_noise_isa": cpu_noise_isa(),
        "gpu": gpu,
        "os": f"{platform.system()} {platform.release()}",
    }


def versions() -> dict:
    """Python, torch, triton (None when not installed) and fkc-kernels versions."""
    from .. import __version__

    return {"python": platform.python_version(), "torch": torch.__version__,
            "triton": _version("triton"), "fkc_kernels": __version__}
