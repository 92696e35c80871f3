"""The path `tf-stacked`, for the plain-SGD MLPs (Hinton's and the notebook's) on
TensorFlow (`labnn.engine.dispatch`): one XLA-compiled graph loops over a whole epoch,
and runs that share a seed (so their initial weights and batch order) and differ only
in their L2 factor train together.

Why: at batch 128 a 784-500-300-10 step is too small for Keras's `fit` to keep two
cores busy; most of the step goes to per-op work around the matrix products.
Stacking R runs makes the first layer one wide product (128 x 784 by 784 x R*500),
the other layers batched products, and XLA fuses the elementwise work in between.
No weight is shared and the loss is the sum of the runs' losses, so each run gets
exactly its own gradient: a stacked run is the run trained alone (tested).

Which runs train together is the caller's choice (`labnn.runs.groups`).
"""

from __future__ import annotations

import time

import keras
import numpy as np

from labnn.data import Split
from labnn.engine.batches import epoch_order
from labnn.engine.tf_loop import resident, row_sums_of_squares
from labnn.training import ProgressFn, TrainResult, stack_results


def batches(order: np.ndarray, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """`order` as (steps, batch_size) indices, the last batch padded, and a mask of
    the real ones: the padded rows carry no weight, so the last step's gradient is
    the mean over its real examples, as in `fit`. One step shape for XLA; the MLPs
    here have no statistics over the batch (`labnn.engine.batches.full_batches`)."""
    steps = -(-len(order) // batch_size)
    index = np.zeros(steps * batch_size, np.int32)
    mask = np.zeros(steps * batch_size, np.float32)
    index[: len(order)], mask[: len(order)] = order, 1.0
    return index.reshape(steps, batch_size), mask.reshape(steps, batch_size)


def train_stack(
    models: list[keras.Model],
    data: Split,
    *,
    epochs: int,
    batch_size: int,
    seed: int,
    initial_epoch: int = 0,
    progress: ProgressFn | None = None,
    label: str = "",
) -> list[TrainResult]:
    """Train `models` (plain-SGD MLPs of one architecture and seed, built and compiled)
    together on `data`, in place, from epoch `initial_epoch` (models trained that far
    with this seed) to `epochs`; one TrainResult per model, of these epochs.

    Each model's history has Keras's meaning: per epoch, the mean over batches of
    its loss (cross-entropy plus its own L2 penalty) and accuracy, and both on the
    validation data after the epoch. Times are each model's share of the stack's.
    """
    stack = _Stack.of(models)
    x, y = resident(data.x_train.reshape(len(data.x_train), -1)), resident(data.y_train)
    n, count = len(data.x_train), len(models)
    history = {k: [[] for _ in models] for k in ("loss", "accuracy", "val_loss", "val_accuracy")}
    seconds, start = [], time.perf_counter()
    for epoch in range(initial_epoch, epochs):
        index, mask = batches(epoch_order(seed, epoch, n), batch_size)
        began = time.perf_counter()
        loss_sum, hits = (v.numpy() for v in stack.epoch(x, y, index, mask))
        seconds.append(time.perf_counter() - began)
        _append(history, "loss", loss_sum / n)
        _append(history, "accuracy", hits / n)
        if len(data.x_val):
            val_loss, val_accuracy = stack.evaluate(data.x_val, data.y_val)
            _append(history, "val_loss", val_loss)
            _append(history, "val_accuracy", val_accuracy)
        if progress is not None:
            means = {k: float(np.mean([h[-1] for h in v])) for k, v in history.items() if v[0]}
            progress(label, epoch + 1, epochs, means, time.perf_counter() - start)
    stack.write_back(models)
    histories = [{k: [float(v) for v in values[r]] for k, values in history.items() if values[r]}
                 for r in range(count)]  # fmt: skip
    return stack_results(histories, seconds, time.perf_counter() - start, n)


def _append(history: dict, name: str, values):
    for r, value in enumerate(values):
        history[name][r].append(float(value))


class _Stack:
    """R MLPs' weights stacked as tensors: the first layer's kernels side by side
    (inputs, R * units), the other layers' (R, inputs, units)."""

    def __init__(self, weights: list[list[np.ndarray]], l2: np.ndarray, learning_rate):
        import tensorflow as tf

        self.count = len(weights)
        first = np.concatenate([w[0] for w in weights], axis=1)
        first_bias = np.concatenate([w[1] for w in weights])
        layers = range(1, len(weights[0]) // 2)
        kernels = [np.stack([w[2 * i] for w in weights]) for i in layers]
        biases = [np.stack([w[2 * i + 1] for w in weights])[:, None] for i in layers]
        self.weights = tuple(tf.constant(a) for a in (first, first_bias, *kernels, *biases))
        self.l2 = tf.constant(l2, tf.float32)
        self.learning_rate = tf.constant(learning_rate, tf.float32)

    @classmethod
    def of(cls, models: list[keras.Model]) -> _Stack:
        l2, rates = [], set()
        for model in models:
            dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
            factors = {_l2(layer) for layer in dense[:-1]}
            if len(factors) != 1 or _l2(dense[-1]) or len(model.layers) != len(dense) + 1:
                raise ValueError(f"{model.name}: not a plain MLP with one L2 factor on its "
                                 "hidden kernels; it trains on another path "
                                 "(labnn.engine.choose)")  # fmt: skip
            l2.append(factors.pop())
            rates.add(float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)))
        if len(rates) != 1:
            raise ValueError(f"stacked runs need one learning rate, got {sorted(rates)}")
        weights = [model.get_weights() for model in models]
        return cls(weights, np.array(l2, np.float32), rates.pop())

    def epoch(self, x, y, index: np.ndarray, mask: np.ndarray):
        """One epoch of SGD over the batches `index`: per model, the sum of its batch
        losses times batch sizes, and its hits."""
        self.weights, loss_sum, hits = _compiled()["epoch"](
            self.weights, self.l2, self.learning_rate, x, y, index, mask
        )
        return loss_sum, hits

    def evaluate(self, x: np.ndarray, y: np.ndarray, chunk: int = 1000):
        """Per model (loss, accuracy) on (x, one-hot y), as Keras's `evaluate` reports."""
        x = x.reshape(len(x), -1).astype(np.float32)
        losses, hits = np.zeros(self.count), np.zeros(self.count)
        for begin in range(0, len(x), chunk):
            part = slice(begin, begin + chunk)
            rows = len(x[part])
            loss, right = _compiled()["losses"](
                self.weights, self.l2, x[part], y[part].astype(np.float32),
                np.ones(rows, np.float32),
            )  # fmt: skip
            losses += loss.numpy() * rows
            hits += right.numpy()
        return losses / len(x), hits / len(x)

    def write_back(self, models: list[keras.Model]):
        first, first_bias, *rest = (w.numpy() for w in self.weights)
        kernels, biases = rest[: len(rest) // 2], rest[len(rest) // 2 :]
        first = np.split(first, self.count, axis=1)
        first_bias = np.split(first_bias, self.count)
        for r, model in enumerate(models):
            layers = [a for k, b in zip(kernels, biases, strict=True) for a in (k[r], b[r, 0])]
            model.set_weights([first[r], first_bias[r], *layers])


# Compiled once per process and input shapes: the weights are arguments, not
# captured variables, so every stack of the same shape reuses the compiled loop.
_COMPILED: dict = {}


def _compiled() -> dict:
    if not _COMPILED:
        import tensorflow as tf

        _COMPILED["epoch"] = tf.function(_epoch, jit_compile=True)
        _COMPILED["losses"] = tf.function(_losses_and_hits, jit_compile=True)
    return _COMPILED


def _logits(weights, count: int):
    import tensorflow as tf

    first, first_bias, *rest = weights
    kernels, biases = rest[: len(rest) // 2], rest[len(rest) // 2 :]

    def forward(x):
        h = tf.nn.relu(tf.matmul(x, first) + first_bias)
        h = tf.transpose(tf.reshape(h, [-1, count, first.shape[1] // count]), [1, 0, 2])
        for i, (kernel, bias) in enumerate(zip(kernels, biases, strict=True)):
            h = tf.matmul(h, kernel) + bias
            if i < len(kernels) - 1:
                h = tf.nn.relu(h)
        return h  # (R, batch, classes)

    return forward


def _penalty(weights, l2):
    """Each model's L2 term: its factor times the squares of its hidden kernels,
    summed row by row as products (`row_sums_of_squares` says why)."""
    import tensorflow as tf

    first, _, *rest = weights
    count = l2.shape[0]
    rows = row_sums_of_squares(tf.reshape(first, [-1, first.shape[1] // count]))
    squares = tf.reduce_sum(tf.reshape(rows, [-1, count]), axis=0)  # (inputs, R) summed
    for kernel in rest[: len(rest) // 2 - 1]:
        rows = row_sums_of_squares(tf.reshape(kernel, [-1, kernel.shape[2]]))
        squares += tf.reduce_sum(tf.reshape(rows, [count, -1]), axis=1)  # (R, inputs) summed
    return l2 * squares


def _losses_and_hits(weights, l2, x, y, mask):
    """Per model: mean cross-entropy + L2 term, and the correctly classified count."""
    cross, right = _cross_entropy_and_hits(weights, l2.shape[0], x, y, mask)
    return cross + _penalty(weights, l2), right


def _cross_entropy_and_hits(weights, count: int, x, y, mask):
    """Per model: mean cross-entropy over the real rows of the batch, and hits."""
    import tensorflow as tf

    logits = _logits(weights, count)(x)
    labels = tf.broadcast_to(y, tf.shape(logits))
    cross = tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    right = tf.equal(tf.argmax(logits, axis=-1), tf.argmax(y, axis=-1))
    return (
        tf.reduce_sum(cross * mask, axis=1) / tf.reduce_sum(mask),
        tf.reduce_sum(tf.cast(right, tf.float32) * mask, axis=1),
    )


def _decay(weights, l2) -> list:
    """Per weight tensor, the gradient of the L2 terms per unit of weight (2 x factor,
    shaped to broadcast over the tensor), or None where it has no L2 term."""
    import tensorflow as tf

    first, _, *rest = weights
    count, kernels = l2.shape[0], len(rest) // 2
    hidden = [(2 * l2)[:, None, None]] * (kernels - 1)
    return [tf.repeat(2 * l2, first.shape[1] // count), None, *hidden] + [None] * (kernels + 1)


def _epoch(weights, l2, learning_rate, x, y, index, mask):
    """All steps of one epoch of SGD: (weights, sum of batch losses x batch sizes, hits).

    The L2 terms enter the gradient as weight decay and the reported loss as the
    penalty of the step's weights, summed when the step before produced them: XLA can
    then update the weights in place instead of copying them at every step (they are
    read by nothing after their update; measured 5 % of a stack of five's samples)."""
    import tensorflow as tf

    decay = _decay(weights, l2)

    def step(i, weights, penalty, loss_sum, hits):
        rows = index[i]
        with tf.GradientTape() as tape:
            tape.watch(weights)
            cross, right = _cross_entropy_and_hits(
                weights, l2.shape[0], tf.gather(x, rows), tf.gather(y, rows), mask[i]
            )
            total = tf.reduce_sum(cross)  # each model's gradient is its own loss's
        grads = tape.gradient(total, weights)
        weights = tuple(
            w - learning_rate * (g if d is None else g + d * w)
            for w, g, d in zip(weights, grads, decay, strict=True)
        )
        losses = (cross + penalty) * tf.reduce_sum(mask[i])
        return i + 1, weights, _penalty(weights, l2), loss_sum + losses, hits + right

    zeros = tf.zeros_like(l2)
    _, weights, _, loss_sum, hits = tf.while_loop(
        lambda i, *_: i < tf.shape(index)[0],
        step,
        (tf.constant(0), weights, _penalty(weights, l2), zeros, zeros),
    )
    return weights, loss_sum, hits


def _l2(layer) -> float:
    regularizer = layer.kernel_regularizer
    return float(regularizer.l2) if regularizer is not None else 0.0
