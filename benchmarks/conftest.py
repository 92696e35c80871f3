"""Shared fixtures for the training-throughput benchmarks.

Set LABNN_BENCH_SAMPLES to shrink every slice (the test suite's smoke run does).
"""

import os
import platform
import time
from pathlib import Path

import keras
import numpy as np
import pytest

from labnn.data import Split, holdout, load_mnist, preprocess, subset
from labnn.machine import cpu_name

REPO = Path(__file__).resolve().parents[1]
PEAK_SIZE = 2048  # square float32 matmul used to measure this machine's peak


def data_dir() -> Path:
    return Path(os.environ.get("LABNN_DATA_DIR") or REPO.parent / "shared" / "data" / "mnist")


def samples(default: int) -> int:
    """The slice size of a benchmark: big enough that a round takes about a second."""
    return int(os.environ.get("LABNN_BENCH_SAMPLES", default))


@pytest.fixture(scope="session")
def mnist():
    return load_mnist(data_dir())


def split(mnist, n: int, *, flatten: bool = False, autoencoder: bool = False) -> Split:
    prepared = preprocess(subset(mnist, n_train=n + 64, n_test=64), flatten=flatten)
    data = holdout(prepared, validation_size=64)
    if autoencoder:  # reconstruct the (here clean) input; noise costs nothing in training
        return Split(data.x_train, data.x_train, data.x_val, data.x_val)
    return data


def gpu_names() -> list[str]:
    """The GPUs the current Keras backend can use (empty when none)."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return [d.device_kind for d in jax.devices() if d.platform == "gpu"]
    if backend == "torch":
        import torch

        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        return [torch.cuda.get_device_name(i) for i in range(count)]
    if backend == "tensorflow":
        import tensorflow as tf

        return [d.name for d in tf.config.list_physical_devices("GPU")]
    return []


@pytest.fixture(params=["cpu", "gpu"])
def device(request):
    """Each benchmark runs on the CPU, and on a GPU when the backend sees one."""
    if request.param == "gpu":
        names = gpu_names()
        if not names:
            pytest.skip(f"no GPU visible to the {keras.backend.backend()} backend")
        with keras.device("gpu:0"):
            yield {"kind": "gpu", "name": names[0]}
        return
    # "cpu", not "cpu:0": Keras 3.15's torch backend moves each new variable with
    # .to("cpu:0"), a copy that is no longer a leaf tensor, and then trains nothing
    # ("No gradients provided for any variable").
    with keras.device("cpu"):
        yield {"kind": "cpu", "name": f"{cpu_name()} ({os.cpu_count()} threads)"}


_PEAK: dict[str, float] = {}


def matmul_peak(kind: str) -> float:
    """float32 matmul GFLOP/s of this device through keras.ops, measured once per run."""
    if kind not in _PEAK:
        rng = np.random.default_rng(0)
        a = keras.ops.convert_to_tensor(rng.random((PEAK_SIZE, PEAK_SIZE), dtype=np.float32))
        b = keras.ops.convert_to_tensor(rng.random((PEAK_SIZE, PEAK_SIZE), dtype=np.float32))
        # Read back the product's sum, not the product: on a GPU, copying 16 MB to the
        # host took longer than the product itself (a 2.2 TFLOP/s "peak" on an H100).
        keras.ops.convert_to_numpy(keras.ops.sum(keras.ops.matmul(a, b)))  # warm-up
        best = float("inf")
        for _ in range(5):
            start = time.perf_counter()
            keras.ops.convert_to_numpy(keras.ops.sum(keras.ops.matmul(a, b)))  # work done
            best = min(best, time.perf_counter() - start)
        _PEAK[kind] = 2 * PEAK_SIZE**3 / best / 1e9
    return _PEAK[kind]


def backend_version() -> str:
    import importlib

    backend = keras.backend.backend()
    return getattr(importlib.import_module(backend), "__version__", "unknown")


def machine() -> str:
    return f"{platform.node()} {platform.machine()}"
