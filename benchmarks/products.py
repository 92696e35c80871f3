"""The ceiling of the stacked path: an epoch of an MLP's SGD steps cut down to its
matrix products and the update they feed.

Why: on a CPU the stacked loop's speed is bounded by how fast XLA runs these
products. This loop does the same products on the same shapes (the first layer
one wide product over the R runs, the others batched, no input gradient for the
first layer) and the batch gathers, but no bias, activation, softmax, loss, L2
term or bookkeeping: the rate the stacked loop would reach if everything but
its products were free. TensorFlow with XLA only, like `labnn.stacked`.
"""

from __future__ import annotations

import keras
import numpy as np

from labnn.compiled import epoch_order, resident
from labnn.data import Split
from labnn.stacked import _Stack, batches

# Small enough that the linear network this loop trains stays finite.
LEARNING_RATE = 1e-3


class ProductsEpoch:
    """One epoch of the products of `models`' SGD steps over `data` per call, on their
    kernels stacked as `labnn.stacked` stacks them (the first side by side, the
    others (R, inputs, units))."""

    def __init__(self, models: list[keras.Model], data: Split, batch_size: int):
        import tensorflow as tf

        first, _, *rest = _Stack.of(models).weights  # biases last: not used here
        self.weights = (first, *rest[: len(rest) // 2])
        self.x = resident(data.x_train.reshape(len(data.x_train), -1))
        self.y = resident(data.y_train)
        self.index, _ = batches(epoch_order(0, 0, len(data.x_train)), batch_size)
        self.loop = tf.function(_epoch, jit_compile=True)

    def __call__(self) -> float:
        """Train one epoch; the sum of the last kernels, read back so the work is done."""
        self.weights = self.loop(self.weights, self.x, self.y, self.index)
        return float(np.sum(self.weights[-1].numpy()))


def _epoch(weights, x, y, index):
    import tensorflow as tf

    count = weights[1].shape[0]

    def step(i, weights):
        first, *rest = weights
        x_batch, y_batch = tf.gather(x, index[i]), tf.gather(y, index[i])
        rows = tf.shape(x_batch)[0]
        h = tf.transpose(tf.reshape(x_batch @ first, [rows, count, -1]), [1, 0, 2])
        inputs = [h]
        for kernel in rest:
            inputs.append(inputs[-1] @ kernel)
        grad = (inputs.pop() - y_batch) / tf.cast(rows, tf.float32)  # (R, batch, classes)
        grads = []
        for kernel, h in zip(reversed(rest), reversed(inputs), strict=True):
            grads.append(tf.matmul(h, grad, transpose_a=True))
            grad = tf.matmul(grad, kernel, transpose_b=True)
        grad = tf.reshape(tf.transpose(grad, [1, 0, 2]), [rows, -1])
        grads.append(tf.matmul(x_batch, grad, transpose_a=True))
        updated = (w - LEARNING_RATE * g for w, g in zip(weights, reversed(grads), strict=True))
        return i + 1, tuple(updated)

    _, weights = tf.while_loop(
        lambda i, *_: i < tf.shape(index)[0], step, (tf.constant(0), tuple(weights))
    )
    return weights
