"""The machine a result was computed on: recorded with every stored run and shown
in the report's appendix and the benchmarks (no Keras here)."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import numpy as np


def machine() -> dict:
    """Python, numpy and the CPU of this process's machine."""
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "machine": platform.machine(),
        "processor": cpu_name(),
        "cpu_count": os.cpu_count(),
        "cpu_features": cpu_features(),
    }


def cpu_name() -> str:
    """The CPU model from /proc/cpuinfo where there is one, else what platform says."""
    return _cpuinfo("model name") or platform.processor() or "unknown"


# The instruction sets that decide how fast training runs on a CPU (AVX-512 and bf16
# change TensorFlow's choice of kernels and the float32 matmul peak twofold).
SPEED_FEATURES = ("avx2", "fma", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16")


def cpu_features(cpuinfo: Path = Path("/proc/cpuinfo")) -> list[str]:
    """Which of SPEED_FEATURES this CPU has, from `cpuinfo` (empty where there is none)."""
    flags = cpu_flags(cpuinfo)
    return [name for name in SPEED_FEATURES if name in flags]


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str]:
    """Every feature flag of the first CPU in `cpuinfo` (empty where there is none)."""
    return set(_cpuinfo("flags", cpuinfo).split())


def _cpuinfo(field: str, cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """The value of `field` for the first CPU in `cpuinfo`; empty where there is none."""
    try:
        for line in cpuinfo.read_text().splitlines():
            if line.startswith(field):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""
