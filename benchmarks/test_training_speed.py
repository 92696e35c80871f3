"""Training throughput of every model: labnn's training path beside a plain
`model.fit` of the same model, data and batch size, in the same run.

Each round trains one epoch over a fixed slice of real MNIST; a warm-up round
first traces and compiles. The ratio of the two paths is in the saved JSON.
"""

import keras
import numpy as np
import pytest

from benchmarks.conftest import backend_version, matmul_peak, samples, split
from labnn.models import (
    build_autoencoder,
    build_cnn,
    build_hinton_mlp,
    build_notebook_mlp,
    training_flops,
)
from labnn.training import train

# model -> (builder, batch size, slice size for a round of about a second on 2 cores)
MODELS = {
    "notebook_mlp": (build_notebook_mlp, 128, 55000),
    "hinton_mlp": (build_hinton_mlp, 128, 30000),
    "cnn": (build_cnn, 128, 6000),
    "autoencoder": (build_autoencoder, 64, 30000),
}
ROUNDS, WARMUP = 3, 1


def labnn_path(model, data, batch_size):
    result = train(model, data, epochs=1, batch_size=batch_size, seed=0)
    return result.history["loss"][-1]


def fit_path(model, data, batch_size):
    fitted = model.fit(data.x_train, data.y_train, epochs=1, batch_size=batch_size,
                       shuffle=True, verbose=0)  # fmt: skip
    return fitted.history["loss"][-1]


@pytest.mark.parametrize("path", ["labnn", "fit"])
@pytest.mark.parametrize("name", list(MODELS))
def test_training_throughput(benchmark, mnist, device, name, path):
    build, batch_size, default_n = MODELS[name]
    n = samples(default_n)
    data = split(mnist, n, flatten=name == "autoencoder", autoencoder=name == "autoencoder")
    step = labnn_path if path == "labnn" else fit_path
    model = build(seed=0)

    benchmark.group = f"{name} {device['kind']}"
    loss = benchmark.pedantic(step, args=(model, data, batch_size), rounds=ROUNDS,
                              warmup_rounds=WARMUP, iterations=1)  # fmt: skip

    assert np.isfinite(loss), "training diverged"
    seconds = benchmark.stats.stats.min if benchmark.stats else None
    flops = training_flops(model)
    info = {
        "model": name, "path": path, "samples": n, "batch_size": batch_size,
        "dtype": keras.config.floatx(), "flops_per_sample": flops,
        "backend": keras.backend.backend(), "backend_version": backend_version(),
        "device": device["name"], "device_kind": device["kind"],
    }  # fmt: skip
    if seconds:
        peak = matmul_peak(device["kind"])
        rate = n / seconds
        gflops = rate * flops / 1e9
        info.update(samples_per_second=rate, gflops=gflops, matmul_peak_gflops=peak,
                    fraction_of_peak=gflops / peak)  # fmt: skip
    benchmark.extra_info.update(info)
