"""Where independent training runs execute: in this process, one after another,
or on a Dask cluster (`labnn.dask_runs`). Either way only the runs missing from
the store are trained, and the store is written here, by the caller's process.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import partial

from labnn import engine
from labnn.data import Mnist
from labnn.datasets import Dataset
from labnn.errors import LabnnError
from labnn.progress import BuildProgress
from labnn.runs import Run, compute_all, groups, stack_label
from labnn.scheduler import Scheduler, parse_scheduler, resolve
from labnn.store import Entry, MissingRun, Store


def run_all(
    store: Store,
    runs: list[Run],
    data: Dataset,
    *,
    recipe: Callable[[Mnist], Dataset],
    mnist: Mnist,
    scheduler: str = "auto",
    progress: BuildProgress | None = None,
) -> list[Entry]:
    """The stored entry of every run in `runs` (all on `data`), training the missing ones,
    stacked where their path stacks (`labnn.runs.groups`).

    `recipe(mnist)` rebuilds `data` on a Dask worker (it must pickle, e.g. a
    functools.partial of a module-level function); it is not used in-process.

    Raises:
        MissingRun: the store is offline and runs are missing (listing all of them).
    """
    progress = progress or BuildProgress(quiet=True)
    how = placement(runs, data, scheduler)
    at = site(how)
    specs = [run.spec(data, at) for run in runs]
    missing = [i for i, spec in enumerate(specs) if store.lookup(spec) is None]
    if store.offline and missing:
        raise MissingRun([specs[i] for i in missing])
    if how.kind == "none" or not missing:
        return run_here(store, runs, data, progress, at=at)
    from labnn.dask_runs import run_on_dask  # Dask loads only where runs go to it

    units = _units(runs, missing)
    done = {}
    with store.claim([specs[i] for i in missing]) as claimed:  # exactly once across builds
        ours = {missing[c] for c in claimed}
        units = [[i for i in unit if i in ours] for unit in units]
        units = [unit for unit in units if unit]
        for unit in units:
            _started(progress, store, [runs[i] for i in unit], [specs[i] for i in unit], data)
        if units:
            computed = run_on_dask(
                how, [[runs[i] for i in unit] for unit in units], data, recipe=recipe,
                mnist=mnist, progress=progress, site=at,
                record=lambda u, r, *payload: store.record(specs[units[u][r]], *payload),
            )  # fmt: skip
            done = {i: entry for unit, entries in zip(units, computed, strict=True) for i, entry
                    in zip(unit, entries, strict=True)}  # fmt: skip
    # The rest is stored, or being trained by another build: wait for it and read it
    # (or train it here, should that build have died).
    rest = [i for i in range(len(runs)) if i not in done]
    here = run_here(store, [runs[i] for i in rest], data, progress, at=at)
    done.update(zip(rest, here, strict=True))
    return [done[i] for i in range(len(runs))]


def placement(runs: list[Run], data: Dataset, scheduler: str) -> Scheduler:
    """Where `runs` train under `scheduler`: decided from all of them, stored or not, so
    that the site, which their keys name where their path depends on it, is the same in
    every build that asks for them."""
    units = _units(runs, list(range(len(runs))))
    samples = sum(run.epochs_to_train for run in runs) * len(data.split.x_train)
    stacked = any(len(unit) > 1 for unit in units)
    return resolve(parse_scheduler(scheduler), runs=len(units), samples=samples, stacked=stacked,
                   onednn=_wants_onednn([runs[unit[0]] for unit in units]))  # fmt: skip


def site(how: Scheduler) -> engine.Site:
    """The site where `how` trains a run: this process, a local worker (`how`'s threads
    and environment), or the workers of a running cluster (asked)."""
    if how.kind == "none":
        return engine.here()
    if how.kind == "local":
        return engine.local_worker(how.threads_per_worker, os.environ | dict(how.env))
    from labnn.dask_runs import remote_site

    return remote_site(how)


def run_here(store: Store, runs: list[Run], data: Dataset, progress: BuildProgress, *,
             at: engine.Site | None = None) -> list:  # fmt: skip
    """Each run from the store, or trained in this process (stacked where it can be)
    and stored, in order. `at`: the site the runs' keys name (default: here); a run
    missing there that this process cannot train as that site would fails."""
    at = at or engine.here()
    specs = [run.spec(data, at) for run in runs]
    entries: list[Entry | None] = [None] * len(runs)
    missing = []
    for i, spec in enumerate(specs):
        if store.lookup(spec) is not None:
            stored = partial(_note_stored, progress, runs[i], data)
            entries[i] = store.run(spec, _never, on_hit=stored)
        else:
            missing.append(i)
    if store.offline and missing:
        raise MissingRun([specs[i] for i in missing])
    for unit in _units(runs, missing):
        with store.claim([specs[i] for i in unit]) as claimed:
            ours = [unit[c] for c in claimed]
            if ours:
                for i in ours:
                    _check_here(runs[i], specs[i], data)
                together = [runs[i] for i in ours]
                _started(progress, store, together, [specs[i] for i in ours], data)
                computed = compute_all(together, data, progress=progress)
                for i, (results, arrays) in zip(ours, computed, strict=True):
                    entries[i] = store.record(specs[i], results, arrays, engine.environment())
        for i in unit:  # another build trained these: read what it stored
            if entries[i] is None:
                stored = partial(_note_stored, progress, runs[i], data)
                compute = partial(_compute, store, runs[i], specs[i], data, progress)
                entries[i] = store.run(specs[i], compute,
                                       on_hit=stored)  # fmt: skip
    return entries


def _compute(store: Store, run: Run, spec: dict, data: Dataset, progress: BuildProgress):
    """`run`'s (results, arrays), trained here (the build that was training it died), and
    the backend's metadata."""
    _check_here(run, spec, data)
    _started(progress, store, [run], [spec], data)
    (computed,) = compute_all([run], data, progress=progress)
    return (*computed, engine.environment())


def _check_here(run: Run, spec: dict, data: Dataset):
    """Fail before `run` trains in this process under a key that names another site."""
    if spec != run.spec(data, engine.here()):
        raise LabnnError(f"{run.label or run.experiment}: its key names a Dask worker's "
                         "threads or oneDNN setting, not this process's; it was left untrained "
                         "(another build that was training it stopped?): build again to train "
                         "it there")  # fmt: skip


def _wants_onednn(runs: list[Run]) -> bool:
    """Whether `runs` are all convolutional networks that workers should train with
    oneDNN (`labnn.engine.onednn_for_workers`; `labnn.scheduler.resolve` says why)."""
    return (
        bool(runs)
        and engine.onednn_for_workers()
        and all(engine.convolutional(r.model()) for r in runs)
    )


def _units(runs: list[Run], indices: list[int]) -> list[list[int]]:
    """`indices` of `runs` in groups that train together."""
    return [[indices[j] for j in group] for group in groups([runs[i] for i in indices])]


def _never():
    raise AssertionError("looked up as stored, then missing")


def _started(progress: BuildProgress, store: Store, runs: list[Run], specs: list[dict], data):
    """Tell `progress` that `runs` start training together (here or on a worker)."""
    progress.start(stack_label(runs), experiment=runs[0].experiment,
                   keys=[store.key(spec) for spec in specs],
                   samples_per_epoch=len(runs) * len(data.split.x_train))  # fmt: skip


def _note_stored(progress: BuildProgress, run: Run, data: Dataset, entry: Entry):
    progress.stored(experiment=run.experiment, key=entry.key,
                    samples=run.epochs_to_train * len(data.split.x_train))  # fmt: skip
