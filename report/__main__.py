import contextlib
import os

# Keep TensorFlow's C++ start-up messages off the user's terminal: the log level
# must be set before TensorFlow loads, and a few lines (the CUDA probe) ignore it,
# so the native stderr is muted while Keras imports. Python errors still surface.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@contextlib.contextmanager
def _native_stderr_muted():
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


with _native_stderr_muted():
    import keras  # noqa: F401

from report.cli import main  # noqa: E402

raise SystemExit(main())
