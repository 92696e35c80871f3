"""A run that trains on from a stored run (2e's longer runs continue 2d's)."""

from dataclasses import replace

import keras
import numpy as np
import pytest

from labnn.data import holdout, preprocess, subset
from labnn.datasets import Dataset
from labnn.engine import FIT, choose
from labnn.experiments.common import train_run
from labnn.models import build_hinton_variant
from labnn.runs import Resume, Run, _stateless
from labnn.store import Store


@pytest.fixture(scope="module")
def data(mnist):
    prepared = preprocess(subset(mnist, n_train=1200, n_test=10))
    return Dataset(prepared, holdout(prepared, validation_size=200), {"slice": "test_runs"})


def hinton(epochs: int, **params) -> Run:
    return Run(experiment="test", build=build_hinton_variant,
               params={"l2": 1e-4, "learning_rate": 0.1, **params}, epochs=epochs,
               batch_size=128, seed=4, keep_weights=True)  # fmt: skip


def test_a_resumed_run_carries_the_stored_history_and_names_it(tmp_path, data):
    store = Store(tmp_path)
    first = train_run(store, hinton(1), data)
    resumed = train_run(store, replace(hinton(3), resume=Resume.of(first)), data)
    history = resumed.results["history"]
    assert all(len(values) == 3 for values in history.values())
    assert {name: values[:1] for name, values in history.items()} == first.results["history"]
    assert resumed.spec["training"]["resume"] == {"key": first.key, "epochs": 1}
    assert resumed.results["resumed"] == {"key": first.key, "epochs": 1}
    assert resumed.meta["keras"] == keras.__version__  # what trained it, recorded
    assert resumed.meta["threads"] is None or resumed.meta["threads"] >= 1
    assert len(resumed.results["epoch_seconds"]) == 2  # the epochs this run trained
    # another stored run to start from is another run
    assert resumed.key != train_run(store, hinton(3), data).key


@pytest.mark.skipif(choose(build_hinton_variant) is FIT,
                    reason="the fast paths replay the seed's batch order")  # fmt: skip
def test_a_resumed_run_is_the_run_trained_whole(tmp_path, data):
    store = Store(tmp_path)
    whole = train_run(store, hinton(3), data)
    start = Resume.of(train_run(store, hinton(1), data))
    resumed = train_run(store, replace(hinton(3), resume=start), data)
    for name, values in whole.results["history"].items():
        np.testing.assert_array_equal(resumed.results["history"][name], values, err_msg=name)
    for name, weights in whole.arrays.items():
        np.testing.assert_array_equal(resumed.arrays[name], weights, err_msg=name)


@pytest.mark.parametrize("params", [{"momentum": 0.9}, {"decay_steps": 100}])
def test_only_plain_sgd_at_a_constant_rate_resumes(tmp_path, data, params):
    stored = train_run(Store(tmp_path), hinton(1), data)
    with pytest.raises(ValueError, match="only runs of plain SGD at a constant rate"):
        replace(hinton(3, **params), resume=Resume.of(stored)).model()


def test_a_run_without_weights_cannot_be_resumed(tmp_path, data):
    stored = train_run(Store(tmp_path), replace(hinton(1), keep_weights=False), data)
    with pytest.raises(ValueError, match="kept no weights"):
        Resume.of(stored)


def test_the_resumed_model_starts_from_the_stored_weights(tmp_path, data):
    stored = train_run(Store(tmp_path), hinton(1), data)
    model = replace(hinton(3), resume=Resume.of(stored)).model()
    names = sorted(stored.arrays)
    for name, weights in zip(names, model.get_weights(), strict=True):
        np.testing.assert_array_equal(weights, stored.arrays[name])


def test_a_backends_own_sgd_class_resumes_too():
    class BackendSGD(keras.optimizers.SGD):  # Keras on PyTorch builds SGD as TorchSGD
        pass

    assert _stateless(BackendSGD(learning_rate=0.1))
    assert not _stateless(BackendSGD(learning_rate=0.1, momentum=0.9))
    assert not _stateless(keras.optimizers.Adam())
