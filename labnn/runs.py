"""A training run as plain data: its store spec, and computing its results.

The spec and the training both take the run's path from `Run.path` (that is,
`labnn.engine.choose`), so the store key names the path that trained the run. The
same `compute_all` runs in this process or on a Dask worker (`labnn.dask_runs`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import keras
import numpy as np

from labnn import engine
from labnn.datasets import Dataset
from labnn.store import Entry
from labnn.training import ProgressFn, TrainResult


@dataclass(frozen=True, eq=False)
class Resume:
    """A stored run to train on: its weights after `epochs` epochs, and its history.

    Only for optimizers without state of their own (plain SGD at a constant rate),
    whose step after a restart is the step the run would have taken anyway."""

    key: str  # the stored run's store key
    epochs: int
    weights: list[np.ndarray] = field(repr=False)
    history: dict = field(repr=False)

    @classmethod
    def of(cls, entry: Entry) -> Resume:
        return cls(entry.key, entry.spec["training"]["epochs"], kept_weights(entry),
                   entry.results["history"])  # fmt: skip


@dataclass(frozen=True)
class After:
    """A computation stored with a run, on its trained model (e.g. the CNN's test
    predictions): `compute(model, data, path)` -> (JSON-able results, arrays), where
    `path` is the run's `labnn.engine.TrainingPath` (to predict with)."""

    compute: Callable[[keras.Model, Dataset, engine.TrainingPath], tuple[dict, dict]]
    version: int  # in the run's store key: bump it when its numbers change

    @property
    def key(self) -> dict:
        """What a store key holds of it."""
        return {"name": self.compute.__name__, "version": self.version}


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
    after: After | None = None  # computed from the trained model and stored with the run
    label: str = ""
    resume: Resume | None = None  # train on from this stored run, up to `epochs`

    @property
    def initial_epoch(self) -> int:
        return self.resume.epochs if self.resume else 0

    @property
    def epochs_to_train(self) -> int:
        return self.epochs - self.initial_epoch

    def model(self) -> keras.Model:
        """The run's model, built (and compiled) from its parameters and seed, with
        the weights it resumes from."""
        model = self.build(**self.params, seed=self.seed)
        if self.resume:
            if not _stateless(model.optimizer):
                raise ValueError(f"{self.label or model.name}: only runs of plain SGD at a "
                                 "constant rate can resume from stored weights")  # fmt: skip
            model.set_weights(self.resume.weights)
        return model

    def path(self) -> engine.TrainingPath:
        """The path that trains this run, on the backend in use."""
        return engine.choose(self.build, self.params)

    def spec(self, data: Dataset, site: engine.Site) -> dict:
        """What identifies this run in the store: what it trains, on which data, and
        what computes its numbers (the path and its version, Keras and the backend,
        and what is computed with it), each by name and version; and the facts of the
        `site` it trains at that its path's numbers depend on."""
        training = {"epochs": self.epochs, "batch_size": self.batch_size, "seed": self.seed}
        if self.resume:
            training["resume"] = {"key": self.resume.key, "epochs": self.resume.epochs}
        spec = {
            "experiment": self.experiment,
            "model": {"builder": self.build.__name__, **self.params},
            "training": training,
            "data": data.spec,
            "trainer": self.path().key(site),
            "backend": engine.versions(),
        }
        if self.after is not None:
            spec["after"] = self.after.key
        return spec


def compute_all(
    runs: list[Run], data: Dataset, *, progress: ProgressFn | None = None, label: str = ""
) -> list[tuple[dict, dict]]:
    """Train `runs`, one group of `groups`, on their path (stacked where it stacks)."""
    models = [run.model() for run in runs]
    first = runs[0]
    path = first.path()
    how = {"epochs": first.epochs, "initial_epoch": first.initial_epoch,
           "batch_size": first.batch_size, "seeds": [run.seed for run in runs],
           "progress": progress, "label": label or stack_label(runs)}  # fmt: skip
    trained = path.train(models, data.split, **how)
    return [_results(*each, data, path) for each in zip(runs, models, trained, strict=True)]


def groups(runs: list[Run]) -> list[list[int]]:
    """Indices of `runs` that train together, in order: runs on a path that stacks,
    equal in all but their L2 factor (and seed, where the path mixes seeds), share a
    group; every other run is a group of its own."""
    found: dict = {}
    for i, run in enumerate(runs):
        key = _stack_key(run) if run.path().stacks else ("alone", i)
        found.setdefault(key, []).append(i)
    return list(found.values())


def _stack_key(run: Run) -> tuple:
    params = {k: v for k, v in run.params.items() if k != "l2"}
    seed = None if run.path().mixes_seeds else run.seed
    return (run.build.__name__, repr(sorted(params.items())), run.epochs, run.initial_epoch,
            run.batch_size, seed)  # fmt: skip


def stack_label(runs: list[Run]) -> str:
    """The progress label of runs trained together."""
    if len(runs) == 1:
        return runs[0].label
    factors = ", ".join(dict.fromkeys(f"{run.params.get('l2', 0):g}" for run in runs))
    seeds = ", ".join(dict.fromkeys(str(run.seed) for run in runs))
    return f"{runs[0].label} and {len(runs) - 1} more stacked (seed {seeds}; l2 {factors})"


def kept_weights(entry: Entry) -> list[np.ndarray]:
    """The weights a stored run kept (`Run.keep_weights`), in the model's order."""
    names = sorted(name for name in entry.arrays if name.startswith("weight_"))
    if not names:
        raise ValueError(f"store entry {entry.key} kept no weights")
    return [entry.arrays[name] for name in names]


def _stateless(optimizer) -> bool:
    """Whether `optimizer` keeps nothing between steps but its step count."""
    config = optimizer.get_config()  # a schedule's rate is a dict of its own config
    return (
        isinstance(optimizer, keras.optimizers.SGD)  # torch's is a subclass
        and not config["momentum"]
        and not isinstance(config["learning_rate"], dict)
        and not config["use_ema"]
        and not config["gradient_accumulation_steps"]
    )


def _results(run: Run, model: keras.Model, result: TrainResult, data: Dataset, path):
    history = result.history
    if run.resume:  # the whole run's history; its times are this part's
        history = {name: [*run.resume.history[name], *values] for name, values in history.items()}
    results = {
        "history": history,
        "epoch_seconds": result.epoch_seconds,
        "wall_time_s": result.wall_time_s,
        "samples_per_second": result.samples_per_second,
        "params": int(model.count_params()),
        "trainer": path.name,
        **result.extra,
    }
    if run.resume:
        results["resumed"] = {"key": run.resume.key, "epochs": run.resume.epochs}
    arrays = {}
    if run.keep_weights:
        arrays.update({f"weight_{i:03d}": w for i, w in enumerate(model.get_weights())})
    if run.after is not None:
        more_results, more_arrays = run.after.compute(model, data, path)
        results.update(more_results)
        arrays.update(more_arrays)
    return results, arrays
