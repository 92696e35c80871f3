"""What the engine needs to know of TensorFlow itself: whether its oneDNN kernels are on.

Read from the process's environment and CPU, not from TensorFlow's private modules:
TensorFlow reads TF_ENABLE_ONEDNN_OPTS once, as it loads, and without it turns oneDNN
on by default on x86 Linux CPUs with the features below (TensorFlow 2.9 release
notes; port.cc's IsMklEnabled). tests/test_engine.py checks the rule against
TensorFlow's own answer.
"""

from __future__ import annotations

import os
import platform
import sys

import keras  # loads TensorFlow on its backend: the setting below is the one it read

from labnn.machine import cpu_flags

ONEDNN_VARIABLE = "TF_ENABLE_ONEDNN_OPTS"
ONEDNN_SETTING = os.environ.get(ONEDNN_VARIABLE)  # as TensorFlow read it, at its load

# CPU features for which TensorFlow turns oneDNN on by default on x86 Linux.
ONEDNN_DEFAULT_FEATURES = ("avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile", "amx_int8",
                           "amx_bf16")  # fmt: skip


def onednn_on() -> bool | None:
    """Whether TensorFlow runs its oneDNN kernels in this process; None on other backends."""
    if keras.backend.backend() != "tensorflow":
        return None
    return onednn_with(ONEDNN_SETTING)


def onednn_with(setting: str | None) -> bool:
    """Whether a process on this machine that loads TensorFlow with TF_ENABLE_ONEDNN_OPTS
    set to `setting` (None: unset) runs its oneDNN kernels."""
    if setting is not None:
        return setting.strip().lower() in ("1", "true")
    return onednn_by_default(cpu_flags(), system=sys.platform, machine=platform.machine())


def onednn_by_default(flags: set[str], *, system: str, machine: str) -> bool:
    """Whether TensorFlow turns oneDNN on when TF_ENABLE_ONEDNN_OPTS is unset, on a CPU
    with these feature `flags` (/proc/cpuinfo's names)."""
    x86_linux = system == "linux" and machine in ("x86_64", "AMD64")
    return x86_linux and any(flag in flags for flag in ONEDNN_DEFAULT_FEATURES)


def onednn_for_workers() -> bool:
    """Whether workers should load TensorFlow with oneDNN for convolutional networks:
    this process runs TensorFlow without it, and no one set TF_ENABLE_ONEDNN_OPTS
    (a value set is a choice the workers inherit)."""
    return os.environ.get(ONEDNN_VARIABLE) is None and onednn_on() is False


def intra_op_threads() -> int | None:
    """The threads TensorFlow splits an op across in this process (a Dask worker sets
    them to its own count); None on other backends. Recorded with each run: on the
    compiled loops, float sums in another order change the last bits of a history
    (measured in issue 26: 1e-7 relative between 2 threads and a 1-thread worker)."""
    if keras.backend.backend() != "tensorflow":
        return None
    import tensorflow as tf

    default = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return tf.config.threading.get_intra_op_parallelism_threads() or default
