"""The JAX path: each replica of a vmapped stack is its run trained alone by `fit` on the
same batches (runs under `tox -e jax`; skipped on the other backends)."""

import keras
import numpy as np
import pytest

from labnn.data import Split, holdout, preprocess, subset
from labnn.engine.batches import epoch_order
from labnn.models import build_autoencoder, build_cnn, build_hinton_mlp, build_hinton_variant

pytestmark = pytest.mark.skipif(keras.backend.backend() != "jax", reason="the JAX path")


@pytest.fixture(scope="module")
def split(mnist):
    # 500 training images at batch 128: three full batches and a last one of 116
    return holdout(preprocess(subset(mnist, n_train=700, n_test=10)), validation_size=200)


def fit_alone(build, params, split, *, seed, epochs, batch_size=128):
    """The run by Keras's `fit`, fed the JAX path's batch order one epoch at a time."""
    model = build(**params, seed=seed)
    history = {"loss": [], "val_loss": []}
    for epoch in range(epochs):
        order = epoch_order(seed, epoch, len(split.x_train))
        fitted = model.fit(split.x_train[order], split.y_train[order], batch_size=batch_size,
                           epochs=1, shuffle=False, verbose=0,
                           validation_data=(split.x_val, split.y_val))  # fmt: skip
        for name in history:
            history[name] += fitted.history[name]
    return model, history


def relative_difference(model, reference) -> float:
    mine, theirs = (np.concatenate([w.ravel() for w in m.get_weights()])
                    for m in (model, reference))  # fmt: skip
    return float(np.linalg.norm(mine - theirs) / np.linalg.norm(theirs))


def check_stack(build, runs, split, *, epochs, batch_size=128, weights_within):
    """Train `runs` ((params, seed) each) as one stack; compare each with `fit` alone."""
    from labnn.engine.jax_scan import train_stack

    models = [build(**params, seed=seed) for params, seed in runs]
    results = train_stack(models, split, epochs=epochs, batch_size=batch_size,
                          seeds=[seed for _, seed in runs])  # fmt: skip
    for (params, seed), model, result in zip(runs, models, results, strict=True):
        reference, history = fit_alone(build, params, split, seed=seed, epochs=epochs,
                                       batch_size=batch_size)  # fmt: skip
        for name in ("loss", "val_loss"):
            np.testing.assert_allclose(result.history[name], history[name], rtol=1e-5,
                                       err_msg=f"{params} seed {seed}: {name}")  # fmt: skip
        assert relative_difference(model, reference) < weights_within, (params, seed)


def test_replicas_with_their_own_seeds_and_l2_factors_are_their_runs(split):
    # Measured: bit-identical weights, losses within one float32 rounding; a replica
    # trained with another's factor or batch order would be 1e-2 off.
    runs = [({"l2": 1e-3}, 3), ({"l2": 1e-5}, 4), ({"l2": 0.0}, 5)]
    check_stack(build_hinton_mlp, runs, split, epochs=2, weights_within=1e-6)


@pytest.mark.parametrize("variant", [{"momentum": 0.9, "learning_rate": 0.01, "decay_steps": 8},
                                     {"dropout": 0.3}])  # fmt: skip
def test_replicas_keep_their_own_optimizer_state_schedule_and_dropout_masks(split, variant):
    runs = [({"l2": 1e-4, **variant}, seed) for seed in (3, 4)]
    check_stack(build_hinton_variant, runs, split, epochs=2, weights_within=1e-6)


def test_the_autoencoder_trains_as_fit_trains_it(split):
    images = [a.reshape(len(a), -1) for a in (split.x_train, split.x_val)]
    flat = Split(images[0], images[0], images[1], images[1])
    check_stack(build_autoencoder, [({}, 0), ({}, 1)], flat, epochs=1, batch_size=64,
                weights_within=1e-6)  # fmt: skip


def test_the_cnn_with_batch_norm_and_adam_trains_as_fit_trains_it(split):
    # Measured 8e-6 and 5e-5: convolutions under vmap sum in another order, and Adam's
    # first steps divide by tiny second moments, which magnifies the rounding. Three
    # batches, the last one smaller: JAX's convolutions on CPU are slow.
    small = Split(split.x_train[:300], split.y_train[:300], split.x_val[:100], split.y_val[:100])
    check_stack(build_cnn, [({}, 0), ({}, 1)], small, epochs=1, weights_within=1e-3)


def test_runs_of_other_shapes_are_refused():
    from labnn.engine.jax_scan import stack_problem, train_stack

    models = [build_hinton_mlp(seed=0), build_hinton_variant(dropout=0.2, seed=0)]
    assert "architecture" in stack_problem(models)
    with pytest.raises(ValueError, match="cannot stack"):
        train_stack(models, Split(*[np.zeros((1, 28, 28))] * 4), epochs=1, batch_size=1,
                    seeds=[0, 0])  # fmt: skip
