"""Keeping TensorFlow's native start-up lines off the user's terminal, and nothing else."""

import contextlib
import os
import re
import threading

# What TensorFlow's C++ side prints as it loads on a CPU-only machine, whatever
# TF_CPP_MIN_LOG_LEVEL says (absl logs before its logging is initialised): the absl
# notice, informational lines (I...) and warnings (W...) from the start-up probes, and
# the CPU-feature note's second line. Errors (E...) and fatal lines (F...) pass.
START_UP_NOISE = re.compile(
    rb"WARNING: All log messages before absl::InitializeLog\(\) is called"
    rb"|[IW]\d{4} [\d:. ]+\d+ (port|cudart_stub|cpu_feature_guard|cuda_\w+|gpu_\w+)\.cc:\d+\]"
    rb"|To enable the following instructions: .* in other operations, rebuild TensorFlow"
)


@contextlib.contextmanager
def native_stderr_muted():
    """While the backend loads, pass file descriptor 2 through a filter that drops only
    TensorFlow's start-up lines (`START_UP_NOISE`: the CUDA probe's ignore
    TF_CPP_MIN_LOG_LEVEL); anything else written there, a native error or crash
    message among it, reaches the terminal as it comes. Python errors propagate."""
    saved = os.dup(2)
    read, write = os.pipe()
    os.dup2(write, 2)
    os.close(write)  # fd 2 holds the pipe's only write end: restoring it ends the filter
    forwarder = threading.Thread(target=_forward, args=(read, saved), daemon=True)
    forwarder.start()
    try:
        yield
    finally:
        os.dup2(saved, 2)
        forwarder.join(timeout=5)
        os.close(saved)


def _forward(read: int, terminal: int):
    with os.fdopen(read, "rb") as pipe:
        for line in pipe:
            if not START_UP_NOISE.match(line):
                os.write(terminal, line)
