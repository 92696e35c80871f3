"""Seeded training with per-epoch history, timing, throughput and a progress line.

The only module that calls `fit`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import keras
import numpy as np

from labnn.data import Split


@dataclass
class TrainResult:
    """What one training run measured."""

    history: dict[str, list[float]]  # loss, accuracy, val_loss, val_accuracy per epoch
    epoch_seconds: list[float]  # training part of each epoch, validation excluded
    wall_time_s: float  # the whole call, validation included
    samples_per_second: float
    extra: dict = field(default_factory=dict)


# (label, epoch done, epochs, logs of that epoch, seconds since start)
ProgressFn = Callable[[str, int, int, dict, float], None]


def train(
    model: keras.Model,
    data: Split,
    *,
    epochs: int,
    batch_size: int,
    seed: int,
    initial_epoch: int = 0,
    progress: ProgressFn | None = None,
    label: str = "",
    steps_per_execution: int | None = None,
) -> TrainResult:
    """Train `model` on `data` from epoch `initial_epoch` to `epochs`, seeding shuffling
    and dropout with `seed` (a resumed run's shuffles start over from the seed: `fit`
    has no way to skip the epochs before).

    Returns the per-epoch history on training and validation data, the
    seconds per epoch, and samples per second, which leaves out the first
    epoch when there are more (it includes tracing and compiling the graph).
    `steps_per_execution` defaults to `epoch_steps_per_execution`.
    """
    keras.utils.set_random_seed(seed)
    model.steps_per_execution = steps_per_execution or epoch_steps_per_execution(
        len(data.x_train), batch_size
    )
    timer = _EpochTimer(label, epochs, progress)
    start = time.perf_counter()
    fitted = model.fit(
        data.x_train,
        data.y_train,
        epochs=epochs,
        initial_epoch=initial_epoch,
        batch_size=batch_size,
        validation_data=(data.x_val, data.y_val),
        shuffle=True,
        verbose=0,
        callbacks=[timer],
    )
    wall = time.perf_counter() - start
    history = {k: [float(v) for v in values] for k, values in fitted.history.items()}
    return TrainResult(
        history=history,
        epoch_seconds=timer.seconds,
        wall_time_s=wall,
        samples_per_second=throughput(len(data.x_train), timer.seconds),
    )


def epoch_steps_per_execution(n_samples: int, batch_size: int) -> int:
    """A whole epoch per call where the backend can loop in its graph.

    The small MLPs spend much of a step in Python and data-adapter overhead;
    running all steps of an epoch in one compiled call removes it (measured on
    2 cores, TensorFlow: notebook MLP 2.1x, Hinton MLP 1.4x, autoencoder 1.6x,
    CNN 1.1x) and gives bit-identical results. PyTorch's Keras trainer only
    runs one step per call.
    """
    if keras.backend.backend() == "torch":
        return 1
    return max(1, math.ceil(n_samples / batch_size))


def set_thread_pools(threads: int) -> bool:
    """Limit the backend's thread pools to `threads` (a Dask worker's share of the cores).

    Returns False when the backend was already running and kept its pools
    (TensorFlow fixes them at first use; JAX reads them only at import).
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
        except RuntimeError:  # "cannot be modified after initialization"
            return tf.config.threading.get_intra_op_parallelism_threads() == threads
        return True
    if backend == "torch":
        import torch

        torch.set_num_threads(threads)
        return True
    return False


def stack_results(histories: list[dict], seconds: list[float], wall: float, n_samples: int):
    """One TrainResult per run of a stack trained together on `n_samples` images: its own
    history, and its share of the stack's epoch times and wall time."""
    count = len(histories)
    share = [s / count for s in seconds]
    return [
        TrainResult(
            history=history,
            epoch_seconds=share,
            wall_time_s=wall / count,
            samples_per_second=throughput(n_samples, share),
            extra={"stack": {"size": count, "wall_time_s": wall}},
        )
        for history in histories
    ]


def throughput(n_samples: int, epoch_seconds: list[float]) -> float:
    """Samples per second, leaving out the first epoch (graph tracing) when there are more."""
    timed = epoch_seconds[1:] or epoch_seconds
    return n_samples * len(timed) / sum(timed)


def evaluate(model: keras.Model, x: np.ndarray, y: np.ndarray, *, batch_size=1000) -> dict:
    """Loss and accuracy of `model` on (x, one-hot y)."""
    loss, accuracy = model.evaluate(x, y, batch_size=batch_size, verbose=0)
    return {"loss": float(loss), "accuracy": float(accuracy)}


def predict(model: keras.Model, x: np.ndarray, *, batch_size=1000) -> np.ndarray:
    """Model outputs for x, as a numpy array."""
    return np.asarray(model.predict(x, batch_size=batch_size, verbose=0))


class _EpochTimer(keras.callbacks.Callback):
    def __init__(self, label: str, epochs: int, progress: ProgressFn | None):
        super().__init__()
        self.label, self.epochs, self.progress = label, epochs, progress
        self.seconds: list[float] = []
        self.start = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_start = self.last_batch_end = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.last_batch_end = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(self.last_batch_end - self.epoch_start)
        if self.progress is not None:
            elapsed = time.perf_counter() - self.start
            self.progress(self.label, epoch + 1, self.epochs, dict(logs or {}), elapsed)
