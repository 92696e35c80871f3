"""The networks: parameter counts by Keras and by formula, outputs, names."""

import keras
import numpy as np
import pytest

from labnn import answers
from labnn.models import (
    build_autoencoder,
    build_cnn,
    build_hinton_mlp,
    build_notebook_mlp,
    describe_layers,
    training_flops,
)


@pytest.mark.parametrize(
    ("build", "sizes", "expected"),
    [
        (build_notebook_mlp, [784, 64, 64, 10], 55050),
        (build_hinton_mlp, [784, 500, 300, 10], 545810),
    ],
)
def test_parameter_count_by_keras_equals_formula(build, sizes, expected):
    model = build()
    by_formula = sum(row["params"] for row in answers.dense_params_by_formula(sizes))
    assert model.count_params() == by_formula == expected


def test_layers_are_named_with_their_activations():
    rows = describe_layers(build_notebook_mlp())
    assert [r["name"] for r in rows] == ["flatten", "hidden1", "hidden2", "output"]
    assert [r["activation"] for r in rows[1:]] == ["relu", "relu", "softmax"]


def test_hinton_l2_applies_to_hidden_kernels_only():
    model = build_hinton_mlp(l2=1e-3)
    regularised = [
        layer.name for layer in model.layers if getattr(layer, "kernel_regularizer", None)
    ]
    assert regularised == ["hidden1", "hidden2"]
    assert model.get_layer("hidden1").kernel_regularizer.l2 == pytest.approx(1e-3)


def test_same_seed_gives_same_initial_weights_and_other_seed_does_not():
    first, again, other = (build_hinton_mlp(seed=s).get_weights()[0] for s in (3, 3, 4))
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_cnn_outputs_a_distribution_per_image(small):
    from labnn.data import preprocess

    x = preprocess(small).x_test[:8]
    probs = np.asarray(build_cnn()(x, training=False))
    assert probs.shape == (8, 10)
    assert np.allclose(probs.sum(axis=1), 1, atol=1e-5)


def test_autoencoder_has_226416_parameters_by_keras_and_formula():
    from labnn.models import build_autoencoder

    model = build_autoencoder()
    sizes = [784, 128, 96, 128, 784]
    by_formula = sum(row["params"] for row in answers.dense_params_by_formula(sizes))
    assert model.count_params() == by_formula == 226416


def test_encoder_then_decoder_is_the_autoencoder(small):
    from labnn.data import preprocess
    from labnn.models import build_autoencoder, halves

    model = build_autoencoder(seed=5)
    encoder, decoder = halves(model)
    x = preprocess(small, flatten=True).x_test[:16]
    composed = np.asarray(decoder(encoder(x)))
    assert composed.shape == (16, 784)
    assert np.allclose(composed, np.asarray(model(x)), atol=1e-6)
    assert encoder.get_layer("code").units == 96
    # Shared, not copied: the encoder's weights are the autoencoder's.
    assert encoder.get_layer("code").kernel is model.get_layer("encoder").get_layer("code").kernel


@pytest.mark.parametrize(
    "build", [build_notebook_mlp, build_hinton_mlp, build_cnn, build_autoencoder]
)
def test_training_flops_match_tensorflows_count_of_a_training_step(build):
    """TensorFlow's profiler counts the FLOPs of every op of one sample's gradient
    computation: ours leave out only the elementwise work (bias, activations,
    batch norm, pooling), a few percent at most."""
    tf = pytest.importorskip("tensorflow")
    if keras.backend.backend() != "tensorflow":
        pytest.skip("TensorFlow's profiler counts TensorFlow graphs")
    from tensorflow.python.profiler import model_analyzer, option_builder

    model = build()
    inputs = tf.TensorSpec([1, *model.inputs[0].shape[1:]], tf.float32)
    targets = tf.TensorSpec([1, *model.outputs[0].shape[1:]], tf.float32)

    @tf.function
    def gradients(x, y):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(model(x, training=True) - y))
        return tape.gradient(loss, model.trainable_variables)

    graph = gradients.get_concrete_function(inputs, targets).graph
    options = {**option_builder.ProfileOptionBuilder.float_operation(), "output": "none"}
    counted = model_analyzer.profile(graph, options=options).total_float_ops
    assert 0.95 * counted <= training_flops(model) <= counted
