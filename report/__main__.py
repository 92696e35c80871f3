import os

# Keep TensorFlow's C++ start-up messages off the user's terminal: the log level
# must be set before TensorFlow loads, and a few lines (the CUDA probe) ignore it,
# so the native stderr is muted while Keras imports. Python errors still surface.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from labnn.quiet import native_stderr_muted  # noqa: E402

with native_stderr_muted():
    import keras  # noqa: F401

from report.cli import main  # noqa: E402

raise SystemExit(main())
