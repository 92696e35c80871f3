"""Every benchmark runs on a tiny slice, so the suite cannot rot unnoticed, and its
saved JSON is what the report's appendix reads."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from benchmarks.conftest import split
from benchmarks.products import LEARNING_RATE, ProductsEpoch
from benchmarks.test_training_speed import labnn_path
from labnn import engine
from labnn.models import build_hinton_mlp
from report.benchmarks import latest_run
from tests.conftest import REPO


def test_benchmarks_run_and_save_what_the_appendix_reads(data_dir, tmp_path):
    env = {**os.environ, "LABNN_DATA_DIR": str(data_dir), "LABNN_BENCH_SAMPLES": "256",
           "TF_CPP_MIN_LOG_LEVEL": "3"}  # fmt: skip
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "benchmarks",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--benchmark-json={tmp_path / 'run.json'}",
        ],  # fmt: skip
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "5 passed" in done.stdout  # 5 models on the CPU (both paths in each); GPU skips

    run = latest_run(tmp_path)
    # each model on the path the report trains it on: TensorFlow's fast paths, JAX's
    # scan, or `fit` elsewhere
    cnn = "tf-graph-loop" + (", oneDNN worker" if engine.onednn_for_workers() else "")
    paths = {"autoencoder": "tf-xla-loop", "cnn": cnn, "hinton_mlp": "tf-stacked",
             "hinton_sweep": "tf-stacked", "notebook_mlp": "tf-stacked"}  # fmt: skip
    if keras.backend.backend() != "tensorflow":
        other = "jax-scan" if keras.backend.backend() == "jax" else "fit"
        paths = dict.fromkeys(paths, other)
    ceiling = "matrix products alone (ceiling)"  # measured for the stacked MLPs only
    assert [(row["model"], row["path"]) for row in run["rows"]] == [
        (model, path)
        for model in paths
        for path in (f"labnn: {paths[model]}", "fit", ceiling)
        if path != ceiling or paths[model] == "tf-stacked"
    ]
    for row in run["rows"]:
        assert row["samples_per_second"] > 0 and 0 < row["fraction_of_peak"] < 1.5
        # each path's ratio is its own rate over fit's, as the appendix shows it
        fit = next(r for r in run["rows"] if r["model"] == row["model"] and r["path"] == "fit")
        assert row["ratio_to_fit"] == pytest.approx(
            row["samples_per_second"] / fit["samples_per_second"]
        )


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="the ceiling is XLA's")
def test_the_ceiling_does_the_stacked_steps_products(mnist):
    """One step of two stacked Hinton MLPs: the products of the linear network's
    gradient of 0.5 * |x W1 W2 W3 - y|^2 / batch, as numpy computes them."""
    data = split(mnist, 128)  # one batch
    models = [build_hinton_mlp(l2=f, seed=s) for f, s in ((1e-4, 0), (1e-3, 1))]
    step = ProductsEpoch(models, data, batch_size=128)
    step()
    x, y = data.x_train.reshape(128, -1).astype(np.float64), data.y_train
    for r, model in enumerate(models):
        w1, w2, w3 = (w.astype(np.float64) for w in model.get_weights()[::2])
        h1, h2 = x @ w1, x @ w1 @ w2
        g3 = (h2 @ w3 - y) / 128
        g2 = g3 @ w3.T
        g1 = g2 @ w2.T
        after = [step.weights[0].numpy()[:, 500 * r : 500 * (r + 1)],
                 step.weights[1].numpy()[r], step.weights[2].numpy()[r]]  # fmt: skip
        gradients = [x.T @ g1, h1.T @ g2, h2.T @ g3]
        for w, a, g in zip((w1, w2, w3), after, gradients, strict=True):
            np.testing.assert_allclose((w - a) / LEARNING_RATE, g, rtol=0.02, atol=1e-4)
            assert np.abs(g).max() > 1e-3  # a step that moved the weights


@pytest.mark.parametrize("fast_path", ["1", "0"])
def test_labnns_path_trains_every_run_it_counts(mnist, monkeypatch, fast_path):
    """The sweep's rate counts the samples of all its runs: the path must train them
    all, stacked on TensorFlow's fast path and one after another on the plain path
    (each run's weights move)."""
    monkeypatch.setenv("LABNN_FAST_PATH", fast_path)
    data = split(mnist, 256)
    models = [build_hinton_mlp(l2=f, seed=0) for f in (1e-5, 1e-3)]
    before = [model.get_weights()[0].copy() for model in models]
    assert np.isfinite(labnn_path(models, data, 128, engine.choose(build_hinton_mlp)))
    for model, first in zip(models, before, strict=True):
        assert not np.allclose(model.get_weights()[0], first)
