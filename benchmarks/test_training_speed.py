"""Training throughput of every model: labnn's training path beside a plain
`model.fit` of the same model, data and batch size, in the same run.

Each round trains one epoch over a fixed slice of real MNIST; a warm-up round
first traces and compiles. The two paths alternate round by round; their ratio is
in the saved JSON (`extra_info.ratio_to_fit`). `hinton_sweep` is one of the sweep's
stacks: five Hinton MLPs, one per L2 factor, on labnn's path against one plain
`fit`, in samples per second over all five runs. For the stacked MLPs a third
path alternates with both: their matrix products alone (`benchmarks.products`),
the rate the stacked loop would reach if all its other work were free.
"""

import time
from contextlib import ExitStack

import keras
import numpy as np
import pytest

from benchmarks import onednn_worker
from benchmarks.conftest import backend_version, matmul_peak, samples, split
from benchmarks.products import ProductsEpoch
from labnn import engine
from labnn.machine import cpu_features
from labnn.models import (
    build_autoencoder,
    build_cnn,
    build_hinton_mlp,
    build_notebook_mlp,
    training_flops,
)
from labnn.profiles import PROFILES

# model -> (builder, batch size, slice size for a round of about a second on 2 cores,
#           L2 factors of the runs trained together, or None for one run)
SWEEP_FACTORS = PROFILES["full"].sweep_factors
MODELS = {
    "notebook_mlp": (build_notebook_mlp, 128, 55000, None),
    "hinton_mlp": (build_hinton_mlp, 128, 30000, None),
    "hinton_sweep": (build_hinton_mlp, 128, 12000, SWEEP_FACTORS),
    "cnn": (build_cnn, 128, 6000, None),
    "autoencoder": (build_autoencoder, 64, 30000, None),
}
# Rounds of each path after the warm-up; the fastest round of each counts. On a shared
# VM a ratio moved by +-15 % between runs of unchanged code with 5 rounds: more rounds
# give each path more chances of an undisturbed one.
ROUNDS, WARMUP = 10, 1


def labnn_path(models, data, batch_size, path: engine.TrainingPath):
    """One epoch the way the report trains these models: on `path`
    (`labnn.engine.choose`), stacked where it stacks, else one after another."""
    how = {"epochs": 1, "batch_size": batch_size, "seed": 0}
    if path.stacks:
        return path.train(models, data, **how)[0].history["loss"][-1]
    for model in models:  # the sweep's runs one after another, as the report trains them
        (result,) = path.train([model], data, **how)
    return result.history["loss"][-1]


def path_name(path: engine.TrainingPath, worker: bool) -> str:
    """The path's name, as the store and the report say it."""
    return path.name + (", oneDNN worker" if worker else "")


def fit_path(model, data, batch_size):
    fitted = model.fit(data.x_train, data.y_train, epochs=1, batch_size=batch_size,
                       shuffle=True, verbose=0)  # fmt: skip
    return fitted.history["loss"][-1]


@pytest.mark.parametrize("name", list(MODELS))
def test_training_throughput(benchmark, mnist, device, name):
    """labnn's path, timed by pytest-benchmark, with a plain `fit` round of the same model
    run before each of its rounds: the two paths alternate, so the shared machine's
    load swings hit both alike and their ratio is measured in one sitting."""
    build, batch_size, default_n, factors = MODELS[name]
    n = samples(default_n)
    data = split(mnist, n, flatten=name == "autoencoder", autoencoder=name == "autoencoder")
    models = [build(l2=f, seed=0) for f in factors] if factors else [build(seed=0)]
    baseline = build(seed=0)
    path = engine.choose(build)
    fit_seconds, fit_losses, products_seconds = [], [], []
    # the ceiling is of tf-stacked's MLPs: their epoch cut down to its matrix products
    products = ProductsEpoch(models, data, batch_size) if path is engine.TF_STACKED else None

    def other_rounds():  # before each of labnn's rounds
        start = time.perf_counter()
        fit_losses.append(fit_path(baseline, data, batch_size))
        fit_seconds.append(time.perf_counter() - start)
        if products is not None:
            start = time.perf_counter()
            products()
            products_seconds.append(time.perf_counter() - start)

    benchmark.group = f"{name} {device['kind']}"
    labnn_round, args = labnn_path, (models, data, batch_size, path)
    with ExitStack() as stack:
        worker = onednn_worker.wanted(build, device["kind"])
        if worker:  # as the report trains it (the worker starts before any round)
            client = stack.enter_context(onednn_worker.onednn_worker())
            labnn_round, args = _on(client), (build, n, batch_size)
        loss = benchmark.pedantic(labnn_round, args=args, setup=other_rounds, rounds=ROUNDS,
                                  warmup_rounds=WARMUP, iterations=1)  # fmt: skip

    assert np.isfinite(loss) and np.isfinite(fit_losses[-1]), "training diverged"
    flops = training_flops(baseline)
    info = {
        "model": name, "samples": n, "runs": len(models), "batch_size": batch_size,
        "rounds": ROUNDS, "path": path_name(path, worker),
        "dtype": keras.config.floatx(), "flops_per_sample": flops,
        "backend": keras.backend.backend(), "backend_version": backend_version(),
        "device": device["name"], "device_kind": device["kind"],
        "cpu_features": cpu_features(), "onednn": engine.environment()["onednn"],
    }  # fmt: skip
    if benchmark.stats:  # absent under --benchmark-disable
        peak = matmul_peak(device["kind"])
        # Fastest round of each path: the least disturbed by other jobs on the machine.
        rates = {"labnn": n * len(models) / benchmark.stats.stats.min,
                 "fit": n / min(fit_seconds[WARMUP:])}  # fmt: skip
        if products_seconds:
            rates["products"] = n * len(models) / min(products_seconds[WARMUP:])
        for path, rate in rates.items():
            info[path] = {"samples_per_second": rate, "gflops": rate * flops / 1e9,
                          "fraction_of_peak": rate * flops / 1e9 / peak,
                          "ratio_to_fit": rate / rates["fit"]}  # fmt: skip
        info.update(matmul_peak_gflops=peak, ratio_to_fit=rates["labnn"] / rates["fit"])
        if products_seconds:
            info["share_of_products"] = rates["labnn"] / rates["products"]
    benchmark.extra_info.update(info)


def _on(client):
    """A round of `onednn_worker.train_epoch` on the client's worker."""

    def round_(build, n, batch_size):
        future = client.submit(onednn_worker.train_epoch, build, n, batch_size, pure=False)
        return future.result()

    return round_
