"""Keeping TensorFlow's native start-up lines off the user's terminal."""

import contextlib
import os


@contextlib.contextmanager
def native_stderr_muted():
    """Mute file descriptor 2 while the backend loads: TensorFlow's C++ start-up
    lines (the CUDA probe) ignore TF_CPP_MIN_LOG_LEVEL. Python errors still propagate."""
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
