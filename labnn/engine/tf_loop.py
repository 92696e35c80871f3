"""The paths `tf-xla-loop` and `tf-graph-loop` (`labnn.engine.dispatch` says which model
takes which): on TensorFlow, one compiled graph loops over a whole epoch.

Why: Keras's `fit`, even with a whole epoch per call, feeds every step through a
tf.data iterator and its data adapter. Here the training data stays resident as one
tensor, each step gathers its batch by index inside the graph, and the Keras model,
its regularization losses and its optimizer (momentum, learning-rate schedules) are
called as they are: the same step as `fit`'s, without the feeding (tested against it).

Dense-only networks compile the loop with XLA (`xla=True`); networks with dropout or
convolutions run it as a plain TensorFlow graph, because XLA's random numbers and convolutions on
CPU are slower than TensorFlow's own (measured on 2 cores: the CNN 0.09x `fit` under
XLA, 1.2x as a graph; a dropout MLP 0.2x and 1.8x; the autoencoder 4.2x and 2.1x).
In a graph, batch normalization of images runs as TensorFlow's fused kernel
(`fused_batch_norm`), as tf.keras 2 ran it; Keras 3 spells it out in a dozen ops.
"""

from __future__ import annotations

import time
import weakref

import keras
import numpy as np

from labnn.data import ALIGNMENT, Split
from labnn.engine.batches import epoch_order, full_batches
from labnn.training import ProgressFn, TrainResult, throughput
from labnn.training import predict as predict_with_keras

# The compiled functions of each model, by what they do and whether under XLA: traced
# once per model and input shapes. Weak keys, so a model's functions go with it (they
# hold the model only weakly, see `_EpochLoop`).
_COMPILED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _compiled(model: keras.Model, what: str, xla: bool, make):
    """The compiled function `what` of `model`, made by `make()` on first use."""
    functions = _COMPILED.setdefault(model, {})
    if (what, xla) not in functions:
        functions[what, xla] = make()
    return functions[what, xla]


def resident(array: np.ndarray):
    """`array` as the float32 tensor an epoch loop reads, without a copy where it can.

    Why: `tf.constant` copies, at about 1 GB/s here (80 ms for the Hinton MLP
    benchmark's 94 MB, 9 % of its one-epoch round), in every training call. DLPack
    hands TensorFlow numpy's memory instead, where TensorFlow's kernels can read it:
    aligned (`labnn.data.scale_pixels` allocates so) and writable; nothing writes
    these arrays while a loop reads them. Other arrays, and all on a GPU (the data
    belongs in its memory), are copied.
    """
    import tensorflow as tf

    array = np.ascontiguousarray(array, dtype=np.float32)
    shareable = array.flags.writeable and array.ctypes.data % ALIGNMENT == 0
    if shareable and not tf.config.list_logical_devices("GPU"):
        return tf.experimental.dlpack.from_dlpack(array.__dlpack__())
    return tf.constant(array)


def convolutional(model: keras.Model) -> bool:
    """Whether `model` has convolutions (they train faster with oneDNN,
    `labnn.engine.tf_backend.onednn_on`)."""
    return any(isinstance(layer, keras.layers.Conv2D) for layer in _layers(model))


def fusable(layer) -> bool:
    """Whether `fused_batch_norm` can stand in for `layer` in training: Keras's own
    BatchNormalization over the last axis, scaled and centred, without renorm, and
    with an epsilon the fused kernel accepts (it refuses those under 1.001e-5)."""
    return (
        type(layer) is keras.layers.BatchNormalization
        and layer.axis in (-1, 3)
        and layer.scale
        and layer.center
        and layer.trainable
        and not (layer.renorm or layer.synchronized)
        and layer.epsilon >= 1.001e-5
    )


def fused_batch_norm(layer, images):
    """`layer` (`fusable`) on a training batch of `images` (N, H, W, C), through
    TensorFlow's fused kernel: the layer's own normalization and moving statistics,
    in one kernel and one gradient kernel instead of Keras's dozen element-wise ops
    and reductions (the CNN's loop measured 1.45x faster on Zen 4 with oneDNN)."""
    import tensorflow as tf

    # tf.nn has no fused batch norm in TensorFlow 2 (2.21 checked): compat.v1's is the
    # public way to the kernel (FusedBatchNormV3, with its registered gradient).
    normalized, mean, variance = tf.compat.v1.nn.fused_batch_norm(
        images, layer.gamma, layer.beta, epsilon=layer.epsilon, is_training=True
    )
    n = tf.cast(tf.size(images) // tf.shape(images)[-1], variance.dtype)
    variance *= (n - 1.0) / n  # the kernel's is unbiased; Keras averages the biased one
    for moving, batch in ((layer.moving_mean, mean), (layer.moving_variance, variance)):
        moving.assign(moving * layer.momentum + batch * (1.0 - layer.momentum))
    return normalized


def normalized_inference(layer, images):
    """`layer` (`fusable`) on `images` (N, H, W, C) at inference, through the fused
    kernel with the layer's moving statistics: the CNN predicted 10,000 test images
    1.4-1.7x faster than through Keras's ops (Zen 4, oneDNN; outputs 2e-7 apart)."""
    import tensorflow as tf

    normalized, _, _ = tf.compat.v1.nn.fused_batch_norm(
        images, layer.gamma, layer.beta, mean=layer.moving_mean,
        variance=layer.moving_variance, epsilon=layer.epsilon, is_training=False,
    )  # fmt: skip
    return normalized


def fuses_batch_norm(model: keras.Model, *, xla: bool) -> bool:
    """Whether `model` runs its batch norm through the fused kernel: in a plain graph
    (XLA fuses Keras's ops itself), layer by layer, so in Sequential models only."""
    return not xla and isinstance(model, keras.Sequential) and any(map(fusable, model.layers))


def forward(model: keras.Model, x, *, training: bool, xla: bool):
    """`model` on `x`, its batch norm of images through the fused kernel where
    `fuses_batch_norm`: in training on the batch's statistics (and moving them), at
    inference on the moving ones."""
    if not fuses_batch_norm(model, xla=xla):
        return model(x, training=training)
    normalize = fused_batch_norm if training else normalized_inference
    for layer in model.layers:
        fuse = fusable(layer) and len(x.shape) == 4
        x = normalize(layer, x) if fuse else layer(x, training=training)
    return x


def predict(model: keras.Model, x: np.ndarray, *, xla: bool, chunk: int = 1000) -> np.ndarray:
    """`model`'s outputs for `x`, as Keras's `predict` gives them, in compiled chunks
    (`forward`, under XLA where `xla`); traced once per model and chunk shape."""
    if not len(x):
        return predict_with_keras(model, x, batch_size=chunk)
    outputs = _compiled(model, "predict", xla, lambda: _predict_function(model, xla))
    x = np.asarray(x, np.float32)
    return np.concatenate([outputs(x[i : i + chunk]).numpy() for i in range(0, len(x), chunk)])


def _predict_function(model: keras.Model, xla: bool):
    import tensorflow as tf

    held = weakref.ref(model)  # the cache's value must not keep its key alive
    return tf.function(lambda rows: forward(held(), rows, training=False, xla=xla),
                       jit_compile=xla)  # fmt: skip


def train_compiled(
    model: keras.Model,
    data: Split,
    *,
    xla: bool,
    epochs: int,
    batch_size: int,
    seed: int,
    initial_epoch: int = 0,
    progress: ProgressFn | None = None,
    label: str = "",
) -> TrainResult:
    """Train `model` (built and compiled) on `data` from epoch `initial_epoch` (trained
    that far with this seed) to `epochs`, in place; the result is of these epochs.

    The history has Keras's meaning: per epoch, the mean over batches of the loss
    (regularization included) and, where the model was compiled with it, of the
    accuracy; both on the validation data after the epoch.
    """
    keras.utils.set_random_seed(seed)  # dropout masks, as in `fit`
    loop = _EpochLoop(model, xla=xla)
    x, y = resident(data.x_train), resident(data.y_train)
    n = len(data.x_train)
    history: dict[str, list[float]] = {}
    seconds, start = [], time.perf_counter()
    for epoch in range(initial_epoch, epochs):
        index, tail = full_batches(epoch_order(seed, epoch, n), batch_size)
        began = time.perf_counter()
        loss_sum, hits = (float(v) for v in loop.epoch(x, y, index, tail))
        seconds.append(time.perf_counter() - began)
        logs = {"loss": loss_sum / n} | ({"accuracy": hits / n} if loop.accuracy else {})
        if len(data.x_val):
            val_loss, val_accuracy = loop.evaluate(data.x_val, data.y_val)
            logs |= {"val_loss": val_loss} | (
                {"val_accuracy": val_accuracy} if loop.accuracy else {}
            )
        for name, value in logs.items():
            history.setdefault(name, []).append(value)
        if progress is not None:
            progress(label, epoch + 1, epochs, logs, time.perf_counter() - start)
    return TrainResult(
        history=history,
        epoch_seconds=seconds,
        wall_time_s=time.perf_counter() - start,
        samples_per_second=throughput(n, seconds),
    )


class _EpochLoop:
    """All SGD steps of an epoch in one call, through the model's own layers, losses
    and optimizer. Traced once per model and input shapes (`_compiled`), holding the
    model weakly: the cache's value must not keep its key alive."""

    def __init__(self, model: keras.Model, *, xla: bool):
        config = model.get_compile_config() or {}
        if not config or model.optimizer is None:
            raise ValueError(f"{model.name}: compile the model before training it")
        self._model, self.loss = weakref.ref(model), keras.losses.get(config["loss"])
        self.accuracy = "accuracy" in (config.get("metrics") or [])
        self.xla = xla
        self.epoch, self._compiled_scores = _compiled(model, "loop", xla, self._functions)

    @property
    def model(self) -> keras.Model:
        return self._model()

    def _functions(self):
        import tensorflow as tf

        return (tf.function(self._epoch, jit_compile=self.xla),
                tf.function(self._scores, jit_compile=self.xla))  # fmt: skip

    def evaluate(self, x: np.ndarray, y: np.ndarray, chunk: int = 1000) -> tuple[float, float]:
        """(loss, accuracy) on (x, y), as Keras's `evaluate` reports them, in compiled
        chunks (`evaluate` spends a quarter second building its input pipeline)."""
        loss_sum = hits = 0.0
        for begin in range(0, len(x), chunk):
            part = slice(begin, begin + chunk)
            loss, right = self._compiled_scores(x[part], y[part])
            loss_sum += float(loss) * len(x[part])
            hits += float(right)
        return loss_sum / len(x), hits / len(x)

    def _scores(self, x, y):
        """(mean loss with the L2 penalties, hits) of the model on one chunk."""
        import tensorflow as tf

        predicted = forward(self.model, x, training=False, xla=self.xla)
        loss = tf.reduce_mean(self.loss(y, predicted))
        return loss + self._penalty(), self._hits(predicted, y)

    def _penalty(self):
        """The model's regularization losses (its L2 penalties), 0 without any. Under
        XLA, Keras's L2 terms sum their squares as products (`row_sums_of_squares`);
        other kinds of loss, and every loss in a plain graph, are Keras's own terms
        (there TensorFlow's reduction is the faster: dropout runs took 8 % longer
        with the products in a full build)."""
        import tensorflow as tf

        terms = self.model.losses
        l2 = _l2_kernels(self.model) if self.xla else []
        if l2 and len(l2) == len(terms):  # only L2 terms: sum them as products
            terms = [factor * sum_of_squares(kernel) for factor, kernel in l2]
        return tf.add_n(terms) if terms else tf.constant(0.0)

    def _hits(self, predicted, y):
        """Correctly classified examples; 0 where the model reports no accuracy
        (the autoencoder: no argmax over 784 outputs in every step)."""
        import tensorflow as tf

        if not self.accuracy:
            return tf.constant(0.0)
        right = tf.cast(tf.equal(tf.argmax(predicted, -1), tf.argmax(y, -1)), tf.float32)
        return tf.reduce_sum(right)

    def _epoch(self, x, y, index, tail):
        """(sum of batch losses x batch sizes, hits) over the batches `index`, then over
        the smaller batch `tail` where there is one (`full_batches`)."""
        import tensorflow as tf

        def step(rows, loss_sum, hits):
            x_batch, y_batch = tf.gather(x, rows), tf.gather(y, rows)
            variables = self.model.trainable_variables
            with tf.GradientTape() as tape:
                predicted = forward(self.model, x_batch, training=True, xla=self.xla)
                loss = tf.reduce_mean(self.loss(y_batch, predicted)) + self._penalty()
            self.model.optimizer.apply(tape.gradient(loss, variables), variables)
            size = tf.cast(tf.shape(rows)[0], loss.dtype)
            return loss_sum + loss * size, hits + self._hits(predicted, y_batch)

        zero = tf.constant(0.0)
        _, loss_sum, hits = tf.while_loop(
            lambda i, *_: i < tf.shape(index)[0],
            lambda i, *sums: (i + 1, *step(index[i], *sums)),
            (tf.constant(0), zero, zero),
        )
        if tail.shape[0]:  # static: each input shape has a trace of its own
            loss_sum, hits = step(tail, loss_sum, hits)
        return loss_sum, hits


def sum_of_squares(kernel):
    """The sum of a kernel's squared entries (see `row_sums_of_squares`)."""
    import tensorflow as tf

    return tf.reduce_sum(row_sums_of_squares(tf.reshape(kernel, [-1, kernel.shape[-1]])))


def row_sums_of_squares(matrix):
    """Each row's sum of squares, as a product with a column of ones: as a reduction,
    XLA on CPU runs it as a scalar reduce-window loop over a squared copy (a tenth of
    a Hinton MLP's step in perf samples, 5x slower than this product when timed alone)."""
    import tensorflow as tf

    return tf.matmul(tf.square(matrix), tf.ones([matrix.shape[-1], 1]))[:, 0]


def _l2_kernels(model: keras.Model) -> list:
    """(factor, kernel) of every layer whose kernel has Keras's L2 regularizer."""
    return [
        (float(layer.kernel_regularizer.l2), layer.kernel)
        for layer in _layers(model)
        if type(getattr(layer, "kernel_regularizer", None)) is keras.regularizers.L2
    ]


def _layers(model: keras.Model) -> list:
    """Every layer of `model`, those of nested models (the autoencoder's halves) included."""
    flat = []
    for layer in model.layers:
        flat.extend(_layers(layer) if isinstance(layer, keras.Model) else [layer])
    return flat
