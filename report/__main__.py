import os

# Keep TensorFlow's C++ start-up banner off the user's terminal; set before Keras loads.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from report.cli import main  # noqa: E402

raise SystemExit(main())
