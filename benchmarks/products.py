"""The ceiling of the stacked path: an epoch of an MLP's SGD steps cut down to its
matrix products and the update they feed.

Why: on a CPU the stacked loop's speed is bounded by how fast XLA runs these
products. This loop does the same products on the same shapes (the first layer
one wide product over the R runs, the others batched, no input gradient for the
first layer) and the batch gathers, but no bias, activation, softmax, loss, L2
term or bookkeeping: the rate the stacked loop would reach if everything but
its products were free. TensorFlow with XLA only, like the path `tf-stacked`.
"""

from __future__ import annotations

import keras
import numpy as np

from labnn.data import Split

# Small enough that the linear network this loop trains stays finite.
LEARNING_RATE = 1e-3


class ProductsEpoch:
    """One epoch of the products of `models`' SGD steps over `data` per call, on their
    kernels stacked as `tf-stacked` stacks them (the first side by side, the
    others (R, inputs, units)), in the batch order of its first epoch."""

    def __init__(self, models: list[keras.Model], data: Split, batch_size: int):
        import tensorflow as tf

        kernels = [model.get_weights()[0::2] for model in models]  # no biases here
        first = np.concatenate([k[0] for k in kernels], axis=1)  # (inputs, R * units)
        rest = [np.stack([k[i] for k in kernels]) for i in range(1, len(kernels[0]))]
        self.weights = tuple(tf.constant(w) for w in (first, *rest))
        self.x = tf.constant(data.x_train.reshape(len(data.x_train), -1))
        self.y = tf.constant(data.y_train)
        self.index = tf.constant(padded_batches(len(data.x_train), batch_size))
        self.loop = tf.function(_epoch, jit_compile=True)

    def __call__(self) -> float:
        """Train one epoch; the sum of the last kernels, read back so the work is done."""
        self.weights = self.loop(self.weights, self.x, self.y, self.index)
        return float(np.sum(self.weights[-1].numpy()))


def padded_batches(n: int, batch_size: int) -> np.ndarray:
    """A seeded order of n examples as (steps, batch_size) indices, the last batch
    padded with example 0: one step shape for XLA, as the stacked path has."""
    order = np.random.default_rng([0, 0]).permutation(n).astype(np.int32)
    steps = -(-n // batch_size)
    index = np.zeros(steps * batch_size, np.int32)
    index[:n] = order
    return index.reshape(steps, batch_size)


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
