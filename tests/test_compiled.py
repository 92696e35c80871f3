"""The compiled epoch loop is Keras's `fit`, fed the same batches, without the feeding."""

import keras
import numpy as np
import pytest

from labnn.data import Split, holdout, preprocess, subset
from labnn.engine import FIT, TF_GRAPH_LOOP, choose
from labnn.engine.batches import epoch_order, full_batches
from labnn.engine.tf_loop import (
    _COMPILED,
    _EpochLoop,
    fusable,
    fused_batch_norm,
    fuses_batch_norm,
    normalized_inference,
    predict,
    resident,
    sum_of_squares,
    train_compiled,
)
from labnn.models import build_autoencoder, build_cnn, build_hinton_variant

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="the compiled loop is TensorFlow's"
)
SEED = 3


@pytest.fixture(scope="module")
def split(mnist):
    # 600 training images at batch 128: the last batch has 88, so padding is exercised
    return holdout(preprocess(subset(mnist, n_train=700, n_test=10)), validation_size=100)


def fit_in_order(model, split, *, epochs, batch_size):
    """Plain Keras `fit`, fed the compiled loop's order one epoch at a time."""
    keras.utils.set_random_seed(SEED)
    history = {}
    for epoch in range(epochs):
        order = epoch_order(SEED, epoch, len(split.x_train))
        fitted = model.fit(split.x_train[order], split.y_train[order], batch_size=batch_size,
                           epochs=1, shuffle=False, verbose=0,
                           validation_data=(split.x_val, split.y_val))  # fmt: skip
        for name, values in fitted.history.items():
            history.setdefault(name, []).extend(values)
    return history


def autoencoder_split(split):
    clean, val = (a.reshape(len(a), -1) for a in (split.x_train, split.x_val))
    noisy = np.where(np.random.default_rng(0).random(clean.shape) < 0.1, 1.0, clean)
    return Split(noisy.astype(np.float32), clean, val, val)


# name -> (builder, batch size, compiled with XLA, relative tolerance of losses and weights)
CASES = {
    # XLA: momentum and a cosine schedule through the Keras optimizer, L2 in model.losses
    "momentum, cosine": (
        lambda: build_hinton_variant(momentum=0.9, decay_steps=10, seed=SEED),
        128,
        True,
        1e-4,
    ),  # fmt: skip
    "autoencoder": (lambda: build_autoencoder(seed=SEED), 64, True, 1e-4),
    # a plain graph: dropout masks from the layers' seed generators, batch norm's statistics
    "dropout": (lambda: build_hinton_variant(dropout=0.3, seed=SEED), 128, False, 1e-4),
    # Adam's first steps divide by tiny second moments and magnify the rounding of the
    # convolutions' sums: measured 1e-3 on losses, 1.2e-3 to 3.5e-3 on weights, with
    # or without dropout (a skipped batch or another dropout mask is 1e-1 off)
    "cnn": (lambda: build_cnn(decay_steps=10, seed=SEED), 128, False, 1e-2),
    # batch norm's statistics over the last, smaller batch: no padding rows in them
    # (padded: losses 4e-3 and 8e-3 off); in a graph through the fused kernel,
    # whose sums in another order put the weights 2e-4 off after two epochs
    "batch norm, graph": (lambda: _normalized(convolution=True), 128, False, 1e-3),
    "batch norm, xla": (lambda: _normalized(convolution=False), 128, True, 1e-4),
}


def _normalized(*, convolution: bool) -> keras.Model:
    """A small network with batch norm after its first layer, trained by plain SGD."""
    init = keras.initializers.GlorotUniform(seed=SEED)
    first = (
        [keras.layers.Reshape((28, 28, 1)), keras.layers.Conv2D(4, 3, kernel_initializer=init)]
        if convolution
        else [keras.layers.Flatten(), keras.layers.Dense(32, kernel_initializer=init)]
    )
    model = keras.Sequential([keras.Input((28, 28)), *first, keras.layers.BatchNormalization(),
                              keras.layers.Activation("relu"), keras.layers.Flatten(),
                              keras.layers.Dense(10, activation="softmax",
                                                 kernel_initializer=init)])  # fmt: skip
    model.compile(optimizer=keras.optimizers.SGD(0.02), loss="categorical_crossentropy",
                  metrics=["accuracy"])  # fmt: skip
    return model


@pytest.mark.parametrize("name", list(CASES))
def test_the_compiled_loop_is_fit_fed_the_same_batches(split, name):
    build, batch_size, xla, tolerance = CASES[name]
    data = autoencoder_split(split) if name == "autoencoder" else split
    model, reference = build(), build()
    result = train_compiled(model, data, xla=xla, epochs=2, batch_size=batch_size, seed=SEED)
    history = fit_in_order(reference, data, epochs=2, batch_size=batch_size)
    assert set(result.history) == set(history)
    for metric in ("loss", "val_loss"):
        np.testing.assert_allclose(result.history[metric], history[metric], rtol=tolerance,
                                   err_msg=f"{name} {metric}")  # fmt: skip
    # sums in another order may flip a near-tie: a couple of images at most
    for metric, images in (("accuracy", len(data.x_train)), ("val_accuracy", len(data.x_val))):
        if metric in history:
            np.testing.assert_allclose(result.history[metric], history[metric],
                                       atol=2.01 / images, err_msg=f"{name} {metric}")  # fmt: skip
    mine, theirs = (np.concatenate([w.ravel() for w in m.get_weights()])
                    for m in (model, reference))  # fmt: skip
    assert np.linalg.norm(mine - theirs) / np.linalg.norm(theirs) < tolerance


def test_full_batches_leave_the_rest_as_a_smaller_batch():
    index, tail = full_batches(np.arange(10)[::-1], 4)
    assert index.tolist() == [[9, 8, 7, 6], [5, 4, 3, 2]] and tail.tolist() == [1, 0]
    index, tail = full_batches(np.arange(8), 4)
    assert index.shape == (2, 4) and tail.shape == (0,)


def test_every_epoch_has_its_own_order():
    first, again = epoch_order(0, 0, 1000), epoch_order(0, 0, 1000)
    assert (first == again).all() and sorted(first) == list(range(1000))
    assert (first != epoch_order(0, 1, 1000)).any() and (first != epoch_order(1, 0, 1000)).any()


def test_the_training_data_is_shared_with_tensorflow_not_copied(mnist):
    x = preprocess(subset(mnist, n_train=300, n_test=10)).x_train[100:]  # aligned rows
    tensor = resident(x)
    assert tensor.dtype.name == "float32" and np.array_equal(tensor.numpy(), x)
    x[0, 0, 0] = 7.0  # the tensor reads numpy's memory: no copy per training call
    assert tensor.numpy()[0, 0, 0] == 7.0


@pytest.mark.parametrize("kind", ["misaligned", "read-only", "int64"])
def test_data_tensorflow_cannot_share_is_copied(mnist, kind):
    x = preprocess(subset(mnist, n_train=300, n_test=10)).x_train
    if kind == "misaligned":  # TensorFlow's gather aborts the process on such memory
        x = x.reshape(-1)[1:785].reshape(28, 28)
    elif kind == "read-only":  # as Dask may deserialize it: DLPack cannot share it
        x.flags.writeable = False
    else:
        x = np.arange(6).reshape(2, 3)
    tensor = resident(x)
    assert tensor.dtype.name == "float32" and np.array_equal(tensor.numpy(), x)
    if x.flags.writeable:
        x[0, 0] = 7.0
        assert tensor.numpy()[0, 0] != 7.0


def test_an_uncompiled_model_is_refused(split):
    model = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(),
                              keras.layers.Dense(10, activation="softmax")])  # fmt: skip
    with pytest.raises(ValueError, match="compile the model"):
        train_compiled(model, split, xla=True, epochs=1, batch_size=128, seed=0)


def test_the_switch_turns_the_fast_paths_off(monkeypatch):
    assert choose(build_cnn) is TF_GRAPH_LOOP
    monkeypatch.setenv("LABNN_FAST_PATH", "0")
    assert choose(build_cnn) is FIT


@pytest.mark.parametrize("shape", [(784, 500), (3, 3, 32, 64)])
def test_sum_of_squares_is_numpys(shape):
    kernel = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    expected = np.sum(kernel.astype(np.float64) ** 2)
    assert abs(float(sum_of_squares(kernel)) - expected) / expected < 1e-6


def _mlp(regularizers):
    dense = [keras.layers.Dense(20, kernel_regularizer=r,
                                kernel_initializer=keras.initializers.GlorotUniform(seed=i))
             for i, r in enumerate(regularizers)]  # fmt: skip
    model = keras.Sequential([keras.Input((784,)), *dense])
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    return model


@pytest.mark.parametrize(
    "regularizers",
    [
        [keras.regularizers.L2(1e-3), None, keras.regularizers.L2(2e-2)],  # the loop's sums
        [keras.regularizers.L2(1e-3), keras.regularizers.L1(1e-2)],  # Keras's own terms
    ],
    ids=["l2 only", "l2 and l1"],
)
def test_the_penalty_is_the_models_regularization_loss(regularizers):
    model = _mlp(regularizers)
    expected = float(sum(keras.ops.convert_to_numpy(loss) for loss in model.losses))
    assert float(_EpochLoop(model, xla=True)._penalty()) == pytest.approx(expected, rel=1e-6)


def _batch_norm(**options):
    layer = keras.layers.BatchNormalization(momentum=0.9, **options)
    layer.build((None, 6, 6, 5))
    rng = np.random.default_rng(0)
    for variable in (layer.gamma, layer.beta, layer.moving_mean):
        if variable is not None:  # absent without scale or centre
            variable.assign(rng.normal(size=variable.shape).astype(np.float32))
    variance = layer.moving_variance
    variance.assign(rng.uniform(0.5, 2.0, size=variance.shape).astype(np.float32))
    return layer


def _normalize(call, layer, images):
    """(output, gradients of a non-linear loss, moving mean, moving variance) of a call."""
    import tensorflow as tf

    before = [v.numpy() for v in (layer.moving_mean, layer.moving_variance)]
    with tf.GradientTape() as tape:
        tape.watch(images)
        out = call(images)
        loss = tf.reduce_sum(tf.sin(out) * out)
    grads = tape.gradient(loss, [images, layer.gamma, layer.beta])
    moved = [v.numpy() for v in (layer.moving_mean, layer.moving_variance)]
    for variable, value in zip((layer.moving_mean, layer.moving_variance), before, strict=True):
        variable.assign(value)
    return [out.numpy()] + [g.numpy() for g in grads] + moved


def test_fused_batch_norm_is_the_layers_own():
    import tensorflow as tf

    layer = _batch_norm()
    images = tf.constant(np.random.default_rng(1).normal(2.0, 3.0, (8, 6, 6, 5)), tf.float32)
    assert fusable(layer)
    mine = _normalize(lambda x: fused_batch_norm(layer, x), layer, images)
    keras_ = _normalize(lambda x: layer(x, training=True), layer, images)
    names = ["output", "input gradient", "gamma gradient", "beta gradient", "mean", "variance"]
    for name, a, b in zip(names, mine, keras_, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5, err_msg=name)


def test_fused_batch_norm_at_inference_is_the_layers_own():
    import tensorflow as tf

    layer = _batch_norm()  # moving statistics far from 0 and 1
    images = tf.constant(np.random.default_rng(1).normal(2.0, 3.0, (8, 6, 6, 5)), tf.float32)
    fused = normalized_inference(layer, images).numpy()
    keras_ = layer(images, training=False).numpy()
    np.testing.assert_allclose(fused, keras_, rtol=1e-5, atol=1e-5)


def _with_moving_statistics(model):
    """`model` with its batch norms' moving statistics away from their initial 0 and 1,
    so that a prediction that ignored them would differ."""
    rng = np.random.default_rng(2)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            shape = layer.moving_mean.shape
            layer.moving_mean.assign(rng.normal(0.0, 0.5, shape).astype(np.float32))
            layer.moving_variance.assign(rng.uniform(0.5, 2.0, shape).astype(np.float32))
    return model


@pytest.mark.parametrize(
    "build, xla, fused",
    [
        (lambda: _with_moving_statistics(build_cnn(seed=SEED)), False, True),  # a graph, fused
        (lambda: build_autoencoder(seed=SEED), True, False),
        (lambda: build_hinton_variant(dropout=0.3, seed=SEED), False, False),  # dropout off
    ],
    ids=["cnn", "autoencoder", "dropout mlp"],
)
def test_predict_is_kerass_predict(split, build, xla, fused):
    model = build()
    x = split.x_val[:150]
    x = x.reshape(len(x), -1) if model.name == "autoencoder" else x
    assert fuses_batch_norm(model, xla=xla) is fused
    mine = predict(model, x, xla=xla, chunk=64)  # two chunks of 64 and one of 22
    keras_ = model.predict(x, batch_size=64, verbose=0)
    np.testing.assert_allclose(mine, keras_, rtol=1e-4, atol=1e-6)
    if model.name != "autoencoder":
        np.testing.assert_array_equal(mine.argmax(axis=1), keras_.argmax(axis=1))


def test_predict_off_the_fast_path_is_kerass_own(split, monkeypatch):
    monkeypatch.setenv("LABNN_FAST_PATH", "0")
    model = _with_moving_statistics(build_cnn(seed=SEED))
    expected = model.predict(split.x_val[:50], batch_size=1000, verbose=0)
    np.testing.assert_array_equal(choose(build_cnn).predict(model, split.x_val[:50]), expected)
    assert model not in _COMPILED


@pytest.mark.parametrize(
    "options", [dict(renorm=True), dict(center=False), dict(scale=False), dict(axis=1),
                dict(epsilon=1e-6)], ids=str,
)  # fmt: skip
def test_batch_norm_the_fused_kernel_cannot_do_is_left_to_keras(options):
    assert not fusable(_batch_norm(**options))
