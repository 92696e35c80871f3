"""A training run as plain data: its store spec, and computing its results.

The same `compute` runs in this process or on a Dask worker (`labnn.dask_runs`),
so a run's numbers do not depend on where it ran.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import keras

from labnn.store import code_version
from labnn.training import ProgressFn, train

if TYPE_CHECKING:
    from labnn.experiments.common import Dataset


@dataclass(frozen=True)
class Run:
    """One training run: which model, how trained, and what to keep of it."""

    experiment: str
    build: Callable[..., keras.Model]  # a module-level builder, so it pickles by name
    params: dict
    epochs: int
    batch_size: int
    seed: int
    keep_weights: bool = False  # store the weights for later questions
    # (model, data) -> (results, arrays) computed from the trained model, e.g. test predictions
    after: Callable[[keras.Model, Dataset], tuple[dict, dict]] | None = None
    label: str = ""

    def spec(self, data: Dataset) -> dict:
        """What identifies this run in the store."""
        return {
            "experiment": self.experiment,
            "model": {"builder": self.build.__name__, **self.params},
            "training": {"epochs": self.epochs, "batch_size": self.batch_size, "seed": self.seed},
            "data": data.spec,
            "code": code_version(train, self.build),
        }


def compute(run: Run, data: Dataset, *, progress: ProgressFn | None = None) -> tuple[dict, dict]:
    """Build and train `run`'s model on `data`: (JSON-able results, numpy arrays)."""
    model = run.build(**run.params, seed=run.seed)
    result = train(
        model,
        data.split,
        epochs=run.epochs,
        batch_size=run.batch_size,
        seed=run.seed,
        progress=progress,
        label=run.label,
    )
    results = {
        "history": result.history,
        "epoch_seconds": result.epoch_seconds,
        "wall_time_s": result.wall_time_s,
        "samples_per_second": result.samples_per_second,
        "params": int(model.count_params()),
    }
    arrays = {}
    if run.keep_weights:
        arrays.update({f"weight_{i:03d}": w for i, w in enumerate(model.get_weights())})
    if run.after is not None:
        more_results, more_arrays = run.after(model, data)
        results.update(more_results)
        arrays.update(more_arrays)
    return results, arrays
