"""Golden values: what each training path, the data recipe, the noise and the
computations stored with a run produce on a small slice of real MNIST with a fixed
seed, against values recorded with the version that produced them.

A store key names versions, not source text (`labnn.engine.dispatch`). These tests
keep the versions honest: an edit that changes numbers fails here until its version
moves and the value is recorded again:

    LABNN_RECORD_GOLDEN=1 pytest tests/test_golden.py

Tolerances: data and noise are numpy alone, the same bytes everywhere: exact. So is
training on the machine and thread count the values were recorded with (measured:
bit-identical from run to run). Elsewhere float32 sums run in another order (the
thread count; AVX2 or AVX-512 kernels, oneDNN or not): two epochs on these slices
measured bit-identical between 1 and 2 threads (TF_NUM_INTRAOP_THREADS) on every
path but tf-graph-loop, whose CNN moved 3.8e-3 relative (its convolutions' gradient
sums, magnified by Adam's first steps; test_compiled.py saw the same against `fit`).
A change in what a path computes (another batch order, a lost L2 term, another
dropout mask or rate) moves these losses by 1e-2 or more on the MLPs' paths, so
ACROSS_MACHINES gives 1e-5 to those, and the CNN's path only a coarse 2e-2.
"""

import hashlib
import json
import os
from pathlib import Path

import keras
import numpy as np
import pytest

from labnn import engine
from labnn.data import NOISE_VERSION, RECIPE_VERSION, holdout, preprocess, salt_and_pepper, subset
from labnn.experiments import q3, q4
from labnn.machine import cpu_name
from labnn.models import (
    build_autoencoder,
    build_cnn,
    build_hinton_mlp,
    build_hinton_variant,
    build_notebook_mlp,
)
from labnn.profiles import QUICK, override

GOLDEN = Path(__file__).parent / "golden"
RECORD = os.environ.get("LABNN_RECORD_GOLDEN") == "1"
ACROSS_MACHINES = {"tf-graph-loop": 2e-2}  # relative; 1e-5 for the others (see above)
HOW = "LABNN_RECORD_GOLDEN=1 pytest tests/test_golden.py"


def where() -> dict:
    """What float32 training's rounding depends on: the CPU and the thread count."""
    threads = os.environ.get("TF_NUM_INTRAOP_THREADS") or os.cpu_count()
    return {"cpu": cpu_name(), "threads": int(threads)}


def golden_file(name: str):
    """The values of `name` for the backend in use: Keras's initializers draw other
    numbers on each backend, so each has its own records (TensorFlow's carry no suffix)."""
    backend = keras.backend.backend()
    return GOLDEN / (f"{name}.json" if backend == "tensorflow" else f"{name}.{backend}.json")


def check(name: str, version: int, values: dict, *, bump: str, rtol: float = 0.0):
    """Compare `values` with the golden file `name`, recorded at `version`: exactly
    where they were recorded, else within `rtol`; write it instead when recording."""
    path = golden_file(name)
    if RECORD:
        document = {"version": version, "recorded_on": where(), "values": values}
        path.write_text(json.dumps(document, indent=1) + "\n")
        return
    if not path.exists():
        pytest.fail(f"no golden values for {name}: record them with {HOW}")
    recorded = json.loads(path.read_text())
    if recorded["version"] != version:
        pytest.fail(f"{bump} is {version}, the golden values of {name} were recorded at "
                    f"{recorded['version']}: record them again with {HOW}")  # fmt: skip
    if recorded["recorded_on"] == where():
        rtol = 0.0
    for key, expected in recorded["values"].items():
        got = values[key]
        same = got == expected if rtol == 0 else np.allclose(got, expected, rtol=rtol, atol=0)
        if not same:
            pytest.fail(f"{name}: {key} changed ({got} against {expected} recorded): the "
                        f"numbers are no longer those of version {version}. Bump {bump} "
                        f"(stored results it computed re-key), then record: {HOW}")  # fmt: skip


def sha256(*arrays: np.ndarray) -> str:
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def data(small):
    """The data recipe on the shared slice: 384 images to train on, 128 to validate."""
    prepared = preprocess(small)
    return prepared, holdout(prepared, validation_size=128)


def test_the_data_recipe_gives_the_recorded_arrays(small, data):
    prepared, split = data
    flat = preprocess(subset(small, n_train=10, n_test=10), flatten=True)
    values = {"split": sha256(split.x_train, split.y_train, split.x_val, split.y_val),
              "test": sha256(prepared.x_test, prepared.y_test, prepared.labels_test),
              "flat": sha256(flat.x_train, flat.x_test)}  # fmt: skip
    check("data_recipe", RECIPE_VERSION, values, bump="labnn.data.RECIPE_VERSION")


def test_salt_and_pepper_gives_the_recorded_noise(data):
    x = data[1].x_val
    values = {str(level): sha256(salt_and_pepper(x, level, np.random.default_rng([0, 4])))
              for level in (0.0, 0.1, 0.5, 1.0)}  # fmt: skip
    check("salt_and_pepper", NOISE_VERSION, values, bump="labnn.data.NOISE_VERSION")


# path name -> (builder, the runs' parameters (several: trained together), batch size)
PATH_CASES = {
    "fit": (build_notebook_mlp, [{}], 128),
    "tf-stacked": (build_hinton_mlp, [{"l2": 1e-4}, {"l2": 1e-3}], 128),
    "tf-xla-loop": (build_hinton_variant, [{"momentum": 0.9, "decay_steps": 6}], 64),
    "tf-graph-loop": (build_cnn, [{"decay_steps": 6}], 64),
    "jax-scan": (
        build_hinton_variant,
        [{"l2": 1e-4, "dropout": 0.2}, {"l2": 1e-3, "dropout": 0.2}],
        128,
    ),
}


@pytest.mark.parametrize("name", list(PATH_CASES))
def test_each_path_trains_the_recorded_history(data, name, monkeypatch):
    build, runs, batch_size = PATH_CASES[name]
    if name == "fit":
        monkeypatch.setenv("LABNN_FAST_PATH", "0")  # every model's path then
    path = engine.choose(build, runs[0])
    if path.name != name:
        pytest.skip(f"{build.__name__} takes {path.name} on {keras.backend.backend()}")
    models = [build(**params, seed=5) for params in runs]
    results = path.train(models, data[1], epochs=2, batch_size=batch_size, seed=5)
    values = {f"run {i} {metric}": result.history[metric]
              for i, result in enumerate(results) for metric in ("loss", "val_loss")}  # fmt: skip
    constant = name.upper().replace("-", "_")  # FIT, TF_STACKED, ...
    check(f"path_{name}", path.version, values, rtol=ACROSS_MACHINES.get(name, 1e-5),
          bump=f"the version of {constant} in labnn/engine/dispatch.py")  # fmt: skip


def test_the_cnns_stored_predictions_are_the_recorded_ones(data):
    prepared = data[0]
    dataset = type("Data", (), {"prepared": prepared})  # what test_predictions reads
    path = engine.choose(build_cnn)
    results, arrays = q3.test_predictions(build_cnn(seed=5), dataset, path)
    values = {"confidence": arrays["test_confidence"][:32].tolist(),
              "accuracy": [results["test_accuracy"]]}  # fmt: skip
    check(f"test_predictions_{path.name}", q3.TEST_PREDICTIONS_VERSION, values, rtol=1e-5,
          bump="labnn.experiments.q3.TEST_PREDICTIONS_VERSION")  # fmt: skip


def test_the_noise_evaluation_is_the_recorded_one(small):
    prepared = preprocess(small, flatten=True)
    profile = override(QUICK, {"noise_levels": "0,0.5", "noise_seeds": 1, "seed": 5})
    results, arrays = q4.evaluate_noise(profile, build_autoencoder(seed=5), build_cnn(seed=5),
                                        build_cnn(seed=6), prepared.x_test,
                                        prepared.labels_test)  # fmt: skip
    names = ("mse_noisy", "mse_denoised", "accuracy_noisy", "accuracy_denoised", "accuracy_aware")
    values = {name: arrays[name].ravel().tolist() for name in names}
    values["grid_digits"] = results["grid_digits"]
    values["grid_denoised"] = arrays["grid_denoised"][:, :, ::49].ravel().tolist()
    for reader in ("noisy", "denoised", "aware"):
        values[f"grid_calls_{reader}"] = arrays[f"grid_calls_{reader}"].ravel().tolist()
    check("noise_evaluation", q4.NOISE_EVALUATION_VERSION, values, rtol=1e-5,
          bump="labnn.experiments.q4.NOISE_EVALUATION_VERSION")  # fmt: skip
