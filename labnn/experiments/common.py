"""What every experiment does the same way: slice and prepare the data per
profile, and train one run through the store."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import keras

from labnn.data import RECIPE_VERSION, Mnist, Prepared, Split, holdout, preprocess, subset
from labnn.executor import run_here
from labnn.profiles import Profile
from labnn.runs import Run, kept_weights
from labnn.store import Entry, Store
from labnn.training import ProgressLine


@dataclass(frozen=True, eq=False)
class Dataset:
    """The profile's slice of MNIST, prepared, with its train/validation split."""

    prepared: Prepared
    split: Split
    spec: dict  # what identifies these data in a store key


def dataset(profile: Profile, mnist: Mnist, *, flatten: bool = False) -> Dataset:
    """Slice MNIST as the profile says, scale it, and hold out the validation images."""
    part = subset(mnist, n_train=profile.n_train, n_test=profile.n_test)
    prepared = preprocess(part, flatten=flatten)
    spec = {
        "recipe": RECIPE_VERSION,
        "fingerprint": mnist.fingerprint,
        "n_train": len(part.x_train),
        "n_test": len(part.x_test),
        "validation_size": profile.validation_size,
        "flatten": flatten,
    }
    return Dataset(prepared, holdout(prepared, validation_size=profile.validation_size), spec)


def train_run(store: Store, run: Run, data: Dataset, *, progress: ProgressLine | None = None):
    """One training run, from the store when it is there, else trained and stored."""
    return run_here(store, [run], data, progress or ProgressLine(quiet=True))[0]


def restore(entry: Entry, build: Callable[..., keras.Model]) -> keras.Model:
    """The trained model of a stored run (which kept its weights)."""
    params = {k: v for k, v in entry.spec["model"].items() if k != "builder"}
    params = {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}
    model = build(**params, seed=entry.spec["training"]["seed"])
    model.set_weights(kept_weights(entry))
    return model


def provenance(entry: Entry) -> dict:
    """Where a number came from: the run's key, seed and wall time."""
    return {
        "key": entry.key,
        "experiment": entry.spec["experiment"],
        "seed": entry.spec["training"]["seed"],
        "wall_time_s": entry.results["wall_time_s"],
        "created": entry.meta.get("created"),
    }


def final(history: dict, metric: str) -> float:
    """The last epoch's value of a metric."""
    return float(history[metric][-1])
