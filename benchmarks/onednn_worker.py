"""The CNN's benchmark rounds where the report trains it: in a Dask worker that loaded
TensorFlow with its oneDNN kernels (`labnn.scheduler.resolve` says why)."""

import os
from collections.abc import Iterator
from contextlib import contextmanager

from benchmarks.conftest import data_dir, split
from labnn import engine
from labnn.data import load_mnist

# TensorFlow reads it once, as it loads: in the worker's environment from its start.
ONEDNN = {"TF_ENABLE_ONEDNN_OPTS": "1"}

_ON_WORKER: dict = {}  # the worker's data and model, kept from round to round


def wanted(build, device_kind: str) -> bool:
    """Whether the report trains `build`'s model in a oneDNN worker here (on the CPU,
    on a fast path, with Dask installed, `labnn.engine.onednn_for_workers`)."""
    import importlib.util

    if device_kind != "cpu" or importlib.util.find_spec("distributed") is None:
        return False
    fast = engine.choose(build) is not engine.FIT
    return fast and engine.convolutional(build(seed=0)) and engine.onednn_for_workers()


@contextmanager
def onednn_worker() -> Iterator:
    """A client of one local worker with every core and oneDNN."""
    from distributed import Client, LocalCluster

    saved = {name: os.environ.get(name) for name in ONEDNN}
    os.environ.update(ONEDNN)  # set while the worker spawns, so it has it from its start
    try:
        cluster = LocalCluster(n_workers=1, threads_per_worker=os.cpu_count() or 1,
                               processes=True, host="127.0.0.1", dashboard_address=None,
                               env=ONEDNN)  # fmt: skip
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name)
            else:
                os.environ[name] = value
    with cluster, Client(cluster) as client:
        yield client


def train_epoch(build, n: int, batch_size: int) -> float:
    """On the worker: one epoch of `build`'s model (built once) over an n-image slice,
    on its path (`labnn.engine.choose`); the epoch's loss."""
    if "model" not in _ON_WORKER:
        _ON_WORKER["data"] = split(load_mnist(data_dir()), n)
        _ON_WORKER["model"] = build(seed=0)
    model, data = _ON_WORKER["model"], _ON_WORKER["data"]
    (result,) = engine.choose(build).train([model], data, epochs=1, batch_size=batch_size, seed=0)
    return result.history["loss"][-1]
