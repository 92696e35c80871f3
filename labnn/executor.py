"""Where independent training runs execute: in this process, one after another,
or on a Dask cluster (`labnn.dask_runs`). Either way only the runs missing from
the store are trained, and the store is written here, by the caller's process.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from labnn import engine
from labnn.data import Mnist
from labnn.datasets import Dataset
from labnn.progress import BuildProgress
from labnn.runs import Run, compute_all, groups, stack_label
from labnn.scheduler import parse_scheduler, resolve
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
    specs = [run.spec(data) for run in runs]
    missing = [i for i, spec in enumerate(specs) if store.lookup(spec) is None]
    if store.offline and missing:
        raise MissingRun([specs[i] for i in missing])
    units = _units(runs, missing)
    samples = sum(runs[i].epochs_to_train for i in missing) * len(data.split.x_train)
    stacked = any(len(unit) > 1 for unit in units)
    how = resolve(parse_scheduler(scheduler), runs=len(units), samples=samples, stacked=stacked,
                  onednn=_wants_onednn([runs[unit[0]] for unit in units]))  # fmt: skip
    if how.kind == "none" or not missing:
        return run_here(store, runs, data, progress)
    from labnn.dask_runs import run_on_dask  # Dask loads only where runs go to it

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
                mnist=mnist, progress=progress,
                record=lambda u, r, *payload: store.record(specs[units[u][r]], *payload),
            )  # fmt: skip
            done = {i: entry for unit, entries in zip(units, computed, strict=True) for i, entry
                    in zip(unit, entries, strict=True)}  # fmt: skip
    # The rest is stored, or being trained by another build: wait for it and read it
    # (or train it here, should that build have died).
    rest = [i for i in range(len(runs)) if i not in done]
    done.update(zip(rest, run_here(store, [runs[i] for i in rest], data, progress), strict=True))
    return [done[i] for i in range(len(runs))]


def run_here(store: Store, runs: list[Run], data: Dataset, progress: BuildProgress) -> list:
    """Each run from the store, or trained in this process (stacked where it can be)
    and stored, in order."""
    specs = [run.spec(data) for run in runs]
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
    _started(progress, store, [run], [spec], data)
    (computed,) = compute_all([run], data, progress=progress)
    return (*computed, engine.environment())


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
