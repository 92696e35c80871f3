"""Shared fixtures: the real MNIST from ../shared/data/mnist (or LABNN_DATA_DIR)."""

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's C++ banner out of test logs

REPO = Path(__file__).resolve().parents[1]


def real_data_dir() -> Path:
    folder = Path(os.environ.get("LABNN_DATA_DIR") or REPO.parent / "shared" / "data" / "mnist")
    if not folder.is_dir():
        pytest.exit(
            f"real MNIST not found at {folder}: set LABNN_DATA_DIR to the folder holding the "
            "four IDX files (../shared/data/mnist)",
            returncode=4,
        )
    return folder


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return real_data_dir()


@pytest.fixture(scope="session")
def mnist(data_dir):
    from labnn.data import load_mnist

    return load_mnist(data_dir)


@pytest.fixture(scope="session")
def small(mnist):
    """A small fixed slice of the real data: 512 training and 256 test images."""
    from labnn.data import subset

    return subset(mnist, n_train=512, n_test=256)


@pytest.fixture(scope="session")
def quick_store(tmp_path_factory):
    """One result store for the quick profile, shared by the experiment and report tests
    so that CI trains each quick run once."""
    from labnn.store import Store

    return Store(tmp_path_factory.mktemp("quick-store"))
