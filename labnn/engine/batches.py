"""The batch order every compiled path trains on, whatever the backend: a run has the
same batches on TensorFlow's loops and JAX's scan, so its paths can be compared."""

from __future__ import annotations

import numpy as np


def epoch_order(seed: int, epoch: int, n: int) -> np.ndarray:
    """The order of the training examples in `epoch` of a run seeded `seed`: a new
    permutation every epoch (Keras 3.15's `fit` on TensorFlow repeats its first one)."""
    return np.random.default_rng([seed, epoch]).permutation(n)


def full_batches(order: np.ndarray, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """`order` as (steps, batch_size) indices of its full batches, and the rest: the
    last, smaller batch (empty where there is none), trained as `fit` trains it.
    Padded to full size (as `labnn.engine.tf_stacked.batches` does), its padding rows would
    enter batch norm's statistics."""
    full = len(order) // batch_size * batch_size
    order = order.astype(np.int32)
    return order[:full].reshape(-1, batch_size), order[full:]
