"""Where independent training runs execute: in this process, one after another,
or on a Dask cluster (`labnn.dask_runs`). Either way only the runs missing from
the store are trained, and the store is written here, by the caller's process.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from labnn.runs import Run, compute
from labnn.scheduler import parse_scheduler, resolve
from labnn.store import Entry, MissingRun, Store
from labnn.training import ProgressLine

if TYPE_CHECKING:
    from labnn.data import Mnist
    from labnn.experiments.common import Dataset


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
    """The stored entry of every run in `runs` (all on `data`), training the missing ones.

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
    samples = sum(runs[i].epochs for i in missing) * len(data.split.x_train)
    how = resolve(parse_scheduler(scheduler), runs=len(missing), samples=samples)
    if how.kind == "none" or not missing:
        return run_here(store, runs, data, progress)
    from labnn.dask_runs import run_on_dask  # Dask is an optional extra

    done = {}
    with store.claim([specs[i] for i in missing]) as claimed:  # exactly once across builds
        ours = [missing[c] for c in claimed]
        if ours:
            computed = run_on_dask(
                how, [runs[i] for i in ours], data, recipe=recipe, mnist=mnist,
                progress=progress,
                record=lambda c, *payload: store.record(specs[ours[c]], *payload),
            )  # fmt: skip
            done = dict(zip(ours, computed, strict=True))
    # The rest is stored, or being trained by another build: wait for it and read it
    # (or train it here, should that build have died).
    return [done.get(i) or run_here(store, [runs[i]], data, progress)[0]
            for i in range(len(runs))]  # fmt: skip


def run_here(store: Store, runs: list[Run], data: Dataset, progress: ProgressLine) -> list:
    """Each run from the store, or trained in this process and stored, in order."""
    entries, trained_seconds, trained = [], 0.0, 0
    for i, run in enumerate(runs):
        eta = ""
        if trained:
            eta = f", eta {trained_seconds / trained * (len(runs) - i) / 60:.1f} min"
        run = replace(run, label=f"{run.label}{eta}")  # the label is not part of the spec
        started, before = time.perf_counter(), store.computed
        entries.append(
            store.run(
                run.spec(data),
                lambda run=run: compute(run, data, progress=progress),
                on_hit=lambda entry, run=run: _note_stored(progress, run.label, entry),
            )
        )
        if store.computed > before:
            trained_seconds += time.perf_counter() - started
            trained += 1
    return entries


def _note_stored(progress: ProgressLine, label: str, entry: Entry):
    progress.note(f"{label}: stored ({entry.key[:10]})")
