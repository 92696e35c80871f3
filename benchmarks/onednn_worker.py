"""The CNN's benchmark rounds where the report trains it: in a Dask worker that loaded
TensorFlow with its oneDNN kernels (`labnn.scheduler.resolve` says why)."""

from collections.abc import Iterator
from contextlib import contextmanager

from benchmarks.conftest import data_dir, split
from labnn.compiled import convolutional, enabled, onednn_for_workers, train_compiled
from labnn.data import load_mnist
from labnn.scheduler import ONEDNN, Scheduler

_ON_WORKER: dict = {}  # the worker's data and model, kept from round to round


def wanted(model, device_kind: str) -> bool:
    """Whether the report trains `model` in a oneDNN worker here (on the CPU, with
    Dask installed, `labnn.compiled.onednn_for_workers`)."""
    import importlib.util

    if device_kind != "cpu" or importlib.util.find_spec("distributed") is None:
        return False
    return enabled() and convolutional(model) and onednn_for_workers()


@contextmanager
def onednn_worker() -> Iterator:
    """A client of one local worker with every core and oneDNN."""
    from labnn.dask_runs import connect

    with connect(Scheduler("local", workers=1).with_env(**ONEDNN)) as client:
        yield client


def train_epoch(build, n: int, batch_size: int) -> float:
    """On the worker: one epoch of `build`'s model (built once) over an n-image slice,
    through the compiled loop; the epoch's loss."""
    if "model" not in _ON_WORKER:
        _ON_WORKER["data"] = split(load_mnist(data_dir()), n)
        _ON_WORKER["model"] = build(seed=0)
    model, data = _ON_WORKER["model"], _ON_WORKER["data"]
    return train_compiled(model, data, epochs=1, batch_size=batch_size, seed=0).history["loss"][-1]
