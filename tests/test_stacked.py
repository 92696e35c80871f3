"""The fast path for the sweep: stacked runs are the runs trained alone."""

import numpy as np
import pytest

from labnn.data import Split, holdout, preprocess, subset
from labnn.engine import TF_STACKED
from labnn.engine.batches import epoch_order
from labnn.engine.tf_stacked import batches, train_stack
from labnn.models import build_cnn, build_hinton_mlp, build_hinton_variant, build_notebook_mlp
from labnn.runs import Run, groups

pytestmark = pytest.mark.skipif(
    __import__("keras").backend.backend() != "tensorflow", reason="the fast path is TensorFlow's"
)
FACTORS = (1e-5, 1e-3, 3e-3)


@pytest.fixture(scope="module")
def split(mnist):
    # 1000 training images at batch 128: the last batch has 104, so padding is exercised
    return holdout(preprocess(subset(mnist, n_train=1200, n_test=10)), validation_size=200)


def alone(l2, split, epochs, seed, build=build_hinton_mlp):
    """The same run by plain Keras `fit`, fed the stacked path's order one epoch at a time."""
    model = build(l2=l2, seed=seed) if l2 is not None else build(seed=seed)
    history = {"loss": [], "accuracy": [], "val_loss": [], "val_accuracy": []}
    for epoch in range(epochs):
        order = epoch_order(seed, epoch, len(split.x_train))
        fitted = model.fit(split.x_train[order], split.y_train[order], batch_size=128,
                           epochs=1, shuffle=False, verbose=0,
                           validation_data=(split.x_val, split.y_val))  # fmt: skip
        for name in history:
            history[name] += fitted.history[name]
    return model, history


def test_a_stacked_run_is_the_run_trained_alone(split):
    models = [build_hinton_mlp(l2=l2, seed=3) for l2 in FACTORS]
    results = train_stack(models, split, epochs=3, batch_size=128, seed=3)
    for l2, model, result in zip(FACTORS, models, results, strict=True):
        reference, history = alone(l2, split, 3, seed=3)
        for name in ("loss", "val_loss"):
            np.testing.assert_allclose(result.history[name], history[name], rtol=2e-4,
                                       err_msg=f"l2={l2} {name}")  # fmt: skip
        # float sums in another order may flip a near-tie: at most one image apart
        for name, images in (("accuracy", len(split.x_train)), ("val_accuracy", len(split.x_val))):
            np.testing.assert_allclose(result.history[name], history[name], atol=1.01 / images,
                                       err_msg=f"l2={l2} {name}")  # fmt: skip
        # Other product shapes round differently, and a ReLU input near 0 may then flip
        # for an image; a missing L2 step alone would be off by 1e-2 here.
        assert relative_difference(model, reference) < 2e-3


@pytest.mark.parametrize(("build", "l2"), [(build_hinton_mlp, 1e-3), (build_notebook_mlp, None)])
def test_a_stack_of_one_matches_fit_to_rounding(split, build, l2):
    model = build(l2=l2, seed=3) if l2 is not None else build(seed=3)
    result = train_stack([model], split, epochs=1, batch_size=128, seed=3)[0]
    reference, history = alone(l2, split, 1, seed=3, build=build)
    assert relative_difference(model, reference) < 1e-5
    np.testing.assert_allclose(result.history["val_loss"], history["val_loss"], rtol=1e-5)


def relative_difference(model, reference) -> float:
    mine, theirs = (np.concatenate([w.ravel() for w in m.get_weights()])
                    for m in (model, reference))  # fmt: skip
    return float(np.linalg.norm(mine - theirs) / np.linalg.norm(theirs))


def test_each_run_keeps_its_own_l2_factor(split):
    models = [build_hinton_mlp(l2=l2, seed=0) for l2 in (0.0, 1e-2)]
    train_stack(models, split, epochs=2, batch_size=128, seed=0)
    norms = [np.sum(np.square(m.get_weights()[0])) for m in models]
    # 16 steps of decay by 2 * 0.1 * 1e-2 leave 0.998**32 = 0.94 of the squares
    assert norms[1] < 0.97 * norms[0]


def test_a_steps_loss_has_the_penalty_of_the_weights_it_starts_from(split):
    """One step: the loss is Keras's loss of the initial weights on that batch. With
    this L2 factor the penalty is about 49 and a step's decay shrinks the squares
    by 2 %, so the next weights' penalty would be about 1 off."""
    one_batch = Split(split.x_train[:128], split.y_train[:128], split.x_val, split.y_val)
    models = [build_hinton_mlp(l2=l2, seed=0) for l2 in (0.05, 0.0)]
    expected = [m.evaluate(one_batch.x_train, one_batch.y_train, verbose=0)[0] for m in models]
    results = train_stack(models, one_batch, epochs=1, batch_size=128, seed=0)
    losses = [r.history["loss"][0] for r in results]
    np.testing.assert_allclose(losses, expected, rtol=1e-5)


def test_stacked_times_are_each_runs_share(split):
    results = train_stack([build_hinton_mlp(seed=0) for _ in range(2)], split,
                          epochs=2, batch_size=128, seed=0)  # fmt: skip
    stack = results[0].extra["stack"]
    assert stack["size"] == 2
    assert sum(r.wall_time_s for r in results) == pytest.approx(stack["wall_time_s"])


def run(build=build_hinton_mlp, seed=0, epochs=2, **params):
    return Run(experiment="t", build=build, params=params, epochs=epochs, batch_size=128, seed=seed)


def test_runs_differing_only_in_l2_are_grouped_per_seed():
    runs = [run(l2=l2, seed=seed) for l2 in FACTORS for seed in (0, 1)]
    runs += [
        run(build_notebook_mlp),
        run(l2=1e-4, epochs=3),
        run(build_hinton_variant, dropout=0.2),
    ]
    assert groups(runs) == [[0, 2, 4], [1, 3, 5], [6], [7], [8]]


def test_only_plain_sgd_mlps_are_stacked():
    assert run(build_hinton_variant, l2=1e-4).path() is TF_STACKED  # defaults: plain SGD
    assert run(build_hinton_variant, dropout=0.2).path() is not TF_STACKED
    assert run(build_hinton_variant, momentum=0.9).path() is not TF_STACKED
    assert run(build_notebook_mlp).path() is TF_STACKED  # plain SGD, no weight decay
    assert run(build_cnn).path() is not TF_STACKED


def test_the_fast_path_can_be_turned_off(monkeypatch):
    monkeypatch.setenv("LABNN_FAST_PATH", "0")
    assert run(l2=1e-4).path() is not TF_STACKED
    assert groups([run(l2=1e-4), run(l2=1e-3)]) == [[0], [1]]


def test_a_network_it_cannot_train_is_refused(split):
    with pytest.raises(ValueError, match="plain MLP"):
        train_stack([build_hinton_variant(dropout=0.2)], split, epochs=1, batch_size=128, seed=0)


def test_the_last_batch_is_padded_and_masked():
    index, mask = batches(np.arange(10)[::-1], 4)
    assert index.shape == mask.shape == (3, 4)
    assert index[2].tolist() == [1, 0, 0, 0] and mask[2].tolist() == [1, 1, 0, 0]
    assert mask.sum() == 10
