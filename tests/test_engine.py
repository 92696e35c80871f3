"""The one dispatch: which path trains a model, and what a run's store key holds."""

import gc
import weakref
from dataclasses import replace

import keras
import pytest

from labnn import engine
from labnn.data import RECIPE_VERSION, holdout, preprocess
from labnn.engine import FIT, JAX_SCAN, TF_GRAPH_LOOP, TF_STACKED, TF_XLA_LOOP, choose
from labnn.experiments import q3
from labnn.models import (
    build_autoencoder,
    build_cnn,
    build_hinton_mlp,
    build_hinton_variant,
    build_notebook_mlp,
)
from labnn.runs import After, Run
from labnn.store import Store

tensorflow_only = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="the fast paths are TensorFlow's"
)


def test_every_path_has_its_own_name_and_a_version():
    assert list(engine.PATHS) == ["fit", "tf-stacked", "tf-xla-loop", "tf-graph-loop", "jax-scan"]
    assert all(isinstance(path.version, int) and path.version >= 1
               for path in engine.PATHS.values())  # fmt: skip


@tensorflow_only
@pytest.mark.parametrize(
    ("build", "params", "path"),
    [
        (build_notebook_mlp, {}, TF_STACKED),
        (build_hinton_mlp, {"l2": 1e-4}, TF_STACKED),
        (build_hinton_variant, {"l2": 1e-4}, TF_STACKED),  # the defaults: plain SGD
        (build_hinton_variant, {"dropout": 0.2, "momentum": 0.9}, TF_GRAPH_LOOP),
        (build_hinton_variant, {"momentum": 0.9}, TF_XLA_LOOP),
        (build_hinton_variant, {"decay_steps": 100}, TF_XLA_LOOP),
        (build_cnn, {"decay_steps": 100}, TF_GRAPH_LOOP),
        (build_autoencoder, {}, TF_XLA_LOOP),
    ],
)
def test_the_table_sends_each_model_to_its_path(build, params, path):
    assert choose(build, params) is path
    assert choose(build, params, backend="jax") is JAX_SCAN
    assert choose(build, params, backend="torch") is FIT


@tensorflow_only
def test_a_model_without_a_row_trains_through_fit():
    def build_other(seed=0):
        return build_notebook_mlp(seed=seed)

    assert choose(build_other) is FIT
    assert choose(build_other, backend="jax") is FIT


def test_the_switch_sends_every_model_through_fit(monkeypatch):
    monkeypatch.setenv("LABNN_FAST_PATH", "0")
    assert {choose(build) for build in (build_cnn, build_hinton_mlp, build_autoencoder)} == {FIT}


class Data:
    spec = {"recipe": RECIPE_VERSION, "fingerprint": "abc", "n_train": 100}


HERE = engine.Site(threads=2, onednn=True)


def cnn_run(**changes) -> Run:
    run = Run("q3", build_cnn, {"decay_steps": 10}, epochs=1, batch_size=8, seed=0,
              after=After(q3.test_predictions, version=1))  # fmt: skip
    return replace(run, **changes)


def test_a_runs_key_is_its_parameters_its_path_and_versions_nothing_else():
    """No source text: a docstring or comment edit re-keys nothing."""
    versions = engine.versions()
    path = choose(build_cnn)
    assert cnn_run().spec(Data, HERE) == {
        "experiment": "q3",
        "model": {"builder": "build_cnn", "decay_steps": 10},
        "training": {"epochs": 1, "batch_size": 8, "seed": 0},
        "data": Data.spec,
        "trainer": {
            "path": path.name,
            "version": path.version,
            **{fact: getattr(HERE, fact) for fact in path.depends_on},
        },
        "backend": versions,
        "after": {"name": "test_predictions", "version": 1},
    }
    assert versions["keras"] == ".".join(keras.__version__.split(".")[:2])
    store = Store("unused")
    another = cnn_run(label="another")
    assert store.key(cnn_run().spec(Data, HERE)) == store.key(another.spec(Data, HERE))


def test_a_new_version_of_what_is_computed_with_a_run_is_another_run():
    store = Store("unused")
    first = store.key(cnn_run().spec(Data, HERE))
    assert store.key(cnn_run(after=After(q3.test_predictions, version=2)).spec(Data, HERE)) != first
    assert store.key(cnn_run(after=None).spec(Data, HERE)) != first


def test_a_key_names_the_facts_of_its_site_that_its_path_depends_on():
    """And only those: a path measured not to depend on its site keeps one key
    wherever it trains (tests/test_placement.py checks the measurement)."""
    store = Store("unused")
    for threads, onednn in ((1, True), (2, False)):
        there = engine.Site(threads, onednn)
        for build, params in ((build_cnn, {"decay_steps": 10}), (build_hinton_mlp, {}),
                              (build_hinton_variant, {"momentum": 0.9})):  # fmt: skip
            run = Run("q", build, params, epochs=1, batch_size=8, seed=0)
            path = run.path()
            moved = {fact for fact in ("threads", "onednn") if getattr(there, fact) !=
                     getattr(HERE, fact)} & set(path.depends_on)  # fmt: skip
            same = store.key(run.spec(Data, there)) == store.key(run.spec(Data, HERE))
            assert same == (not moved), (path.name, there)


def test_the_key_and_the_training_take_the_same_path(monkeypatch):
    """Both read `Run.path`; with the fast paths off, both say `fit`."""
    monkeypatch.setenv("LABNN_FAST_PATH", "0")
    assert cnn_run().spec(Data, HERE)["trainer"]["path"] == "fit"


@tensorflow_only
def test_a_models_compiled_functions_go_with_it(small):
    from labnn.engine import tf_loop

    split = holdout(preprocess(small), validation_size=128)
    model = build_hinton_variant(momentum=0.9, seed=0)
    TF_XLA_LOOP.train([model], split, epochs=1, batch_size=128, seed=0)
    TF_XLA_LOOP.predict(model, split.x_val)
    assert model in tf_loop._COMPILED
    freed = weakref.ref(model)
    del model
    gc.collect()
    assert freed() is None  # the cache kept neither the model nor its entry alive


@tensorflow_only
def test_onednn_is_read_as_tensorflow_reads_it():
    """Our public rule against TensorFlow's private answer (only a test may ask it)."""
    from tensorflow.python.util import _pywrap_util_port

    from labnn.engine.tf_backend import onednn_on

    assert onednn_on() is bool(_pywrap_util_port.IsMklEnabled())


def test_onednn_is_on_by_default_only_on_x86_linux_cpus_with_its_features():
    from labnn.engine.tf_backend import onednn_by_default

    linux = {"system": "linux", "machine": "x86_64"}
    assert onednn_by_default({"avx2", "avx512_vnni"}, **linux)
    assert onednn_by_default({"amx_tile"}, **linux)
    assert not onednn_by_default({"avx2", "fma", "avx512f"}, **linux)  # e.g. Zen 3
    assert not onednn_by_default({"avx512_vnni"}, system="darwin", machine="x86_64")
    assert not onednn_by_default({"avx512_vnni"}, system="linux", machine="aarch64")


@tensorflow_only
def test_a_onednn_setting_someone_chose_is_what_workers_get(monkeypatch):
    from labnn.engine.tf_backend import onednn_for_workers

    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")
    assert not onednn_for_workers()  # the workers inherit the choice: no worker for it
