"""Which path trains a model: the one table, the one function that reads it, and the
paths' names and versions.

    model (builder, settings)            backend      path            why
    build_notebook_mlp                   tensorflow   tf-stacked      plain SGD: runs of one seed
    build_hinton_mlp                                                  train stacked, one wide
    build_hinton_variant, plain SGD                                   product per layer, under XLA
    build_hinton_variant with dropout    tensorflow   tf-graph-loop   XLA's random numbers on CPU
                                                                      are slower (0.2x fit vs 1.8x)
    build_hinton_variant, momentum or    tensorflow   tf-xla-loop     dense only: XLA fuses the
      a learning-rate schedule                                        step's elementwise work
    build_cnn                            tensorflow   tf-graph-loop   XLA's convolutions on CPU are
                                                                      slower (0.09x fit vs 1.2x);
                                                                      batch norm as a fused kernel
    build_autoencoder                    tensorflow   tf-xla-loop     dense only (4.2x fit vs 2.1x
                                                                      as a graph)
    any other builder                    tensorflow   fit             no fast path measured for it
    every model of the report            jax          jax-scan        an epoch is one jitted scan
                                                                      on the device; runs of one
                                                                      shape, any seeds, one vmapped
                                                                      stack (fit leaves a GPU idle)
    any other builder                    jax          fit             not tested on the scan
    every model                          torch        fit             no fast path for PyTorch
    every model, LABNN_FAST_PATH=0       any          fit             to compare with Keras's own

Speeds measured on 2 cores (`labnn.engine.tf_loop`, `labnn.engine.tf_stacked` and
`labnn.engine.jax_scan` say more). A path's numbers are its own: the fast paths draw a
new batch order every epoch (Keras 3.15's `fit` repeats its first), so a run's store
key names its path and the path's version. Bump a path's VERSION whenever an edit
changes the numbers it computes (`tests/test_golden.py` fails until then); an edit that
changes none (a comment, a rename) re-keys nothing.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import keras
import numpy as np

from labnn import training
from labnn.engine.jax_scan import train_stack as train_scan
from labnn.engine.tf_backend import ONEDNN_VARIABLE, intra_op_threads, onednn_on, onednn_with
from labnn.engine.tf_loop import predict as predict_compiled
from labnn.engine.tf_loop import train_compiled
from labnn.engine.tf_stacked import train_stack
from labnn.models import (
    build_autoencoder,
    build_cnn,
    build_hinton_mlp,
    build_hinton_variant,
    build_notebook_mlp,
)
from labnn.training import TrainResult


@dataclass(frozen=True)
class TrainingPath:
    """A way to train (and to predict with) a model; `name` and `version` go into the
    store key of every run it trains."""

    name: str
    version: int  # bump when its numbers change (tests/test_golden.py)
    train_models: Callable[..., list[TrainResult]]  # (models, split, **how) -> results
    predict: Callable[[keras.Model, np.ndarray], np.ndarray]  # (model, x) -> outputs
    stacks: bool = False  # trains several runs at once
    mixes_seeds: bool = False  # ... of different seeds (each its own weights and batch order)
    # Facts of the place it trains (`Site`) its numbers depend on: they join the key.
    depends_on: tuple[str, ...] = ()

    def train(self, models: list[keras.Model], data, *, seed: int | None = None,
              seeds: list[int] | None = None, **how) -> list[TrainResult]:  # fmt: skip
        """Train `models` (one, unless the path `stacks`) on `data` (a Split), in place,
        model r seeded `seeds[r]` (or all `seed`). `how`: epochs, batch_size, and
        optionally initial_epoch, progress, label."""
        if (seed is None) == (seeds is None):
            raise ValueError("give either seed (one for every model) or seeds (one per model)")
        seeds = list(seeds) if seeds is not None else [seed] * len(models)
        if len(seeds) != len(models):
            raise ValueError(f"{len(seeds)} seeds for {len(models)} models")
        if len(models) != 1 and not self.stacks:
            raise ValueError(f"the path {self.name} trains one model at a time, got {len(models)}")
        if self.mixes_seeds:
            return self.train_models(models, data, seeds=seeds, **how)
        if len(set(seeds)) != 1:
            raise ValueError(f"the path {self.name} stacks runs of one seed, got {seeds}")
        return self.train_models(models, data, seed=seeds[0], **how)

    def key(self, site: Site) -> dict:
        """What a store key holds of the path, trained at `site`: its name, its version
        and the facts of the site that its numbers depend on."""
        return {"path": self.name, "version": self.version,
                **{fact: getattr(site, fact) for fact in self.depends_on}}  # fmt: skip


@dataclass(frozen=True)
class Site:
    """Where a run trains, as far as its numbers can tell: the threads the backend
    splits an op across (None where labnn does not set them: JAX) and whether
    TensorFlow runs its oneDNN kernels (None on other backends). Float sums run in
    another order on another site: measured in issue 26, the CNN's loss moved 2e-4
    after one epoch between 1 and 2 threads, the autoencoder's weights in their last
    bits, and oneDNN against TensorFlow's own kernels 6e-3."""

    threads: int | None
    onednn: bool | None


def here() -> Site:
    """This process as a site."""
    return Site(_threads(), onednn_on())


def local_worker(threads: int, environ: dict[str, str]) -> Site:
    """A Dask worker on this machine with `threads` threads (`labnn.worker_setup` gives
    the backend exactly those) and the environment `environ`, as a site."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        return Site(threads, onednn_with(environ.get(ONEDNN_VARIABLE)))
    return Site(threads if backend == "torch" else None, None)


def _threads() -> int | None:
    backend = keras.backend.backend()
    if backend == "torch":
        import torch

        return torch.get_num_threads()
    return intra_op_threads()


def _alone(train: Callable[..., TrainResult], models, data, **how) -> list[TrainResult]:
    return [train(models[0], data, **how)]


# What each path's numbers depend on was measured (tests/test_placement.py keeps it
# so): two epochs on 6,000 images with 1 and 2 threads gave bit-identical weights on
# tf-stacked, fit and the dropout MLP's tf-graph-loop, different ones on tf-xla-loop
# and the CNN's tf-graph-loop. XLA_FLAGS (multi-threaded Eigen, XNNPACK, the thunk
# runtime) did not change that. `fit` names both, as it trains any model (a CNN too).
# jax-scan trains in the build's process only (it stacks every run).
PLACED = ("threads", "onednn")
FIT = TrainingPath(
    "fit", 1, partial(_alone, training.train), partial(training.predict, batch_size=1000),
    depends_on=PLACED,
)  # fmt: skip
TF_STACKED = TrainingPath(
    "tf-stacked", 1, train_stack, partial(predict_compiled, xla=True), stacks=True
)
TF_XLA_LOOP = TrainingPath(
    "tf-xla-loop", 1, partial(_alone, partial(train_compiled, xla=True)),
    partial(predict_compiled, xla=True), depends_on=("threads",),
)  # fmt: skip
TF_GRAPH_LOOP = TrainingPath(
    "tf-graph-loop", 1, partial(_alone, partial(train_compiled, xla=False)),
    partial(predict_compiled, xla=False), depends_on=PLACED,
)  # fmt: skip
JAX_SCAN = TrainingPath(
    "jax-scan", 1, train_scan, partial(training.predict, batch_size=1000), stacks=True,
    mixes_seeds=True,
)  # fmt: skip
PATHS = {path.name: path for path in (FIT, TF_STACKED, TF_XLA_LOOP, TF_GRAPH_LOOP, JAX_SCAN)}


def _plain_sgd(params: dict) -> bool:
    """Settings that leave build_hinton_variant the plain SGD network."""
    plain = {"momentum": 0.0, "decay_steps": 0, "dropout": 0.0}
    return all(params.get(name, value) == value for name, value in plain.items())


def _dropout(params: dict) -> bool:
    return params.get("dropout", 0.0) > 0


def _always(params: dict) -> bool:
    return True


# The table above, for TensorFlow: (builder, when its parameters say so, path); the
# first row that matches decides.
TENSORFLOW = (
    (build_notebook_mlp, _always, TF_STACKED),
    (build_hinton_mlp, _always, TF_STACKED),
    (build_hinton_variant, _plain_sgd, TF_STACKED),
    (build_hinton_variant, _dropout, TF_GRAPH_LOOP),
    (build_hinton_variant, _always, TF_XLA_LOOP),
    (build_cnn, _always, TF_GRAPH_LOOP),
    (build_autoencoder, _always, TF_XLA_LOOP),
)


# On JAX every model of the report takes the scan (labnn.engine.jax_scan); other builders
# keep `fit` until a test shows the scan trains them as `fit` does.
JAX = (build_notebook_mlp, build_hinton_mlp, build_hinton_variant, build_cnn, build_autoencoder)


def choose(
    build: Callable[..., keras.Model], params: dict | None = None, *, backend: str | None = None
) -> TrainingPath:
    """The path that trains the model `build(**params)` on `backend` (default: the one
    in use), by the table above; `params` left out are the builder's defaults."""
    backend = backend or keras.backend.backend()
    if os.environ.get("LABNN_FAST_PATH") == "0" or backend not in ("tensorflow", "jax"):
        return FIT
    if backend == "jax":
        return JAX_SCAN if build in JAX else FIT
    for builder, when, path in TENSORFLOW:
        if build is builder and when(params or {}):
            return path
    return FIT


def versions() -> dict:
    """Keras's and the backend's major.minor, which a store key holds: a new minor
    version may change kernels, and with them the numbers."""
    backend = keras.backend.backend()
    module = sys.modules.get(backend)
    return {
        "keras": _major_minor(keras.__version__),
        "backend": backend,
        "backend_version": _major_minor(getattr(module, "__version__", "unknown")),
    }


def _major_minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def environment() -> dict:
    """What a stored run's metadata records of the backend (not its key: see `versions`)."""
    backend = keras.backend.backend()
    return {
        "keras": keras.__version__,
        "backend": backend,
        "backend_version": getattr(sys.modules.get(backend), "__version__", "unknown"),
        "onednn": onednn_on(),
        "threads": intra_op_threads(),
        "device": device(),
    }


def device() -> str:
    """What the backend computes on: 'cpu', or the accelerator's kind (e.g. 'NVIDIA
    H200') where JAX or TensorFlow sees one."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        first = jax.devices()[0]
        return "cpu" if first.platform == "cpu" else first.device_kind
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        details = tf.config.experimental.get_device_details(gpus[0]) if gpus else {}
        return details.get("device_name", "gpu") if gpus else "cpu"
    if backend == "torch":
        import torch

        return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    return "cpu"
