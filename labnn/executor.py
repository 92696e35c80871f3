"""Where independent training runs execute: in this process, one after another,
or on a Dask cluster (`labnn.dask_runs`). Either way only the runs missing from
the store are trained, and the store is written here, by the caller's process.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial

from labnn import engine
from labnn.data import Mnist
from labnn.datasets import Dataset
from labnn.runs import Run, compute_all, groups, stack_label
from labnn.scheduler import parse_scheduler, resolve
from labnn.store import Entry, MissingRun, Store
from labnn.training import ProgressLine


def run_all(
    store: Store,
    runs: list[Run],
    data: Dataset,
    *,
    recipe: Callable[[Mnist], Dataset],
    mnist: Mnist,
    scheduler: str = "auto",
    progress: ProgressLine | None = None,
) -> list[Entry]:
    """The stored entry of every run in `runs` (all on `data`), training the missing ones,
    stacked where their path stacks (`labnn.runs.groups`).

    `recipe(mnist)` rebuilds `data` on a Dask worker (it must pickle, e.g. a
    functools.partial of a module-level function); it is not used in-process.

    Raises:
        MissingRun: the store is offline and runs are missing (listing all of them).
    """
    progress = progress or ProgressLine(quiet=True)
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
    from labnn.dask_runs import run_on_dask  # Dask is an optional extra

    done = {}
    with store.claim([specs[i] for i in missing]) as claimed:  # exactly once across builds
        ours = {missing[c] for c in claimed}
        units = [[i for i in unit if i in ours] for unit in units]
        units = [unit for unit in units if unit]
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


def run_here(store: Store, runs: list[Run], data: Dataset, progress: ProgressLine) -> list:
    """Each run from the store, or trained in this process (stacked where it can be)
    and stored, in order."""
    specs = [run.spec(data) for run in runs]
    entries: list[Entry | None] = [None] * len(runs)
    missing = []
    for i, spec in enumerate(specs):
        if store.lookup(spec) is not None:
            entries[i] = store.run(spec, _never, on_hit=partial(_note_stored, progress, runs[i]))
        else:
            missing.append(i)
    if store.offline and missing:
        raise MissingRun([specs[i] for i in missing])
    eta = _Eta(len(missing))
    for unit in _units(runs, missing):
        with store.claim([specs[i] for i in unit]) as claimed:
            ours = [unit[c] for c in claimed]
            if ours:
                started = time.perf_counter()
                together = [runs[i] for i in ours]
                computed = compute_all(together, data, progress=progress,
                                       label=stack_label(together) + eta.text())  # fmt: skip
                for i, (results, arrays) in zip(ours, computed, strict=True):
                    entries[i] = store.record(specs[i], results, arrays, engine.environment())
                eta.done(len(ours), time.perf_counter() - started)
        for i in unit:  # another build trained these: read what it stored
            if entries[i] is None:
                entries[i] = store.run(specs[i], partial(_compute, runs[i], data, progress),
                                       on_hit=partial(_note_stored, progress, runs[i]))  # fmt: skip
    return entries


def _compute(run: Run, data: Dataset, progress: ProgressLine) -> tuple[dict, dict, dict]:
    """`run`'s (results, arrays), trained here, and the backend's metadata."""
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


class _Eta:
    """Minutes left, from the runs trained so far (labels are not part of a spec)."""

    def __init__(self, total: int):
        self.total, self.trained, self.seconds = total, 0, 0.0

    def done(self, runs: int, seconds: float):
        self.trained += runs
        self.seconds += seconds

    def text(self) -> str:
        if not self.trained:
            return ""
        left = self.seconds / self.trained * (self.total - self.trained)
        return f", eta {left / 60:.1f} min"


def _never():
    raise AssertionError("looked up as stored, then missing")


def _note_stored(progress: ProgressLine, run: Run, entry: Entry):
    progress.note(f"{run.label}: stored ({entry.key[:10]})")
