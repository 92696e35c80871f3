"""What every experiment does the same way: train one run through the store, restore
a stored model, and say where a number came from."""

from __future__ import annotations

from collections.abc import Callable

import keras

from labnn.datasets import Dataset
from labnn.executor import run_here
from labnn.progress import BuildProgress
from labnn.runs import Run, kept_weights
from labnn.store import Entry, Store


def train_run(store: Store, run: Run, data: Dataset, *, progress: BuildProgress | None = None):
    """One training run, from the store when it is there, else trained and stored."""
    return run_here(store, [run], data, progress or BuildProgress(quiet=True))[0]


def restore(entry: Entry, build: Callable[..., keras.Model]) -> keras.Model:
    """The trained model of a stored run (which kept its weights)."""
    params = {k: v for k, v in entry.spec["model"].items() if k != "builder"}
    params = {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}
    model = build(**params, seed=entry.spec["training"]["seed"])
    model.set_weights(kept_weights(entry))
    return model


def provenance(entry: Entry) -> dict:
    """Where a number came from: the run's key, the path that trained it, its seed and
    wall time."""
    return {
        "key": entry.key,
        "experiment": entry.spec["experiment"],
        "trainer": entry.spec["trainer"]["path"],
        "seed": entry.spec["training"]["seed"],
        "wall_time_s": entry.results["wall_time_s"],
        "created": entry.meta.get("created"),
    }


def final(history: dict, metric: str) -> float:
    """The last epoch's value of a metric."""
    return float(history[metric][-1])
