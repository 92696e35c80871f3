"""Independent training runs on a Dask cluster (the optional `[dask]` extra).

Workers compute and return results; the client writes the store, so workers
need no shared filesystem and a run that dies with its worker leaves nothing
behind. Each worker trains one run at a time with its thread pools limited to
its own threads, seeded exactly as in-process training is.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial

import dask
from distributed import Client, LocalCluster, WorkerPlugin, as_completed, get_worker

from labnn import engine
from labnn.data import Mnist, load_mnist, verify_mnist
from labnn.errors import DataError, SchedulerError
from labnn.machine import machine
from labnn.progress import BuildProgress
from labnn.runs import Run, compute_all, stack_label
from labnn.scheduler import Scheduler
from labnn.store import Entry
from labnn.worker_setup import WorkerSetup

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5
# A task whose code raises is retried this often; one whose worker dies is
# rescheduled by Dask itself (up to distributed.scheduler.allowed-failures).
RETRIES = 2
LARGE_GRAPH = "distributed.admin.large-graph-warning-threshold"


def run_on_dask(
    how: Scheduler,
    units: list[list[Run]],
    data,
    *,
    recipe: Callable[[Mnist], object],
    mnist: Mnist,
    progress: BuildProgress,
    record: Callable[[int, int, dict, dict, dict], Entry],
    site: engine.Site,
) -> list[list[Entry]]:
    """Train each unit of runs (runs trained together, `labnn.runs.groups`) as one
    task on the cluster `how` names; `record(u, r, results, arrays, meta)` stores run r
    of unit u as soon as its unit arrives, so an interruption loses only unfinished runs.
    `site`: the site the runs' keys name (`check_site`)."""
    with connect(how) as client:
        source = _data_source(client, mnist)
        data_from = "their own LABNN_DATA_DIR" if source is None else "a copy sent from here"
        _announce(client, how, f"{sum(map(len, units))} run(s)", progress,
                  f"MNIST from {data_from}")  # fmt: skip
        topic = _progress_topic(client)
        client.subscribe_topic(topic, partial(_show_epoch, progress))
        futures = {
            client.submit(train_remotely, units[u], recipe, data.spec, source, topic,
                          retries=RETRIES, pure=False): u
            for u in longest_first(units)
        }  # fmt: skip
        entries: list[list[Entry]] = [[] for _ in units]
        try:
            for done, future in enumerate(as_completed(futures), start=1):
                u = futures[future]
                computed, meta = future.result()
                check_site(meta, site)
                entries[u] = [record(u, r, *payload, meta) for r, payload in enumerate(computed)]
                seconds = sum(results["wall_time_s"] for results, _ in computed)
                progress.note(f"{stack_label(units[u])}: trained on {meta['worker']} in "
                              f"{seconds:.0f} s ({done}/{len(units)})")  # fmt: skip
        except BaseException:  # an error, or Ctrl-C: what finished is stored, drop the rest
            client.cancel(list(futures))
            raise
    return entries


def remote_site(how: Scheduler) -> engine.Site:
    """The site a running cluster's workers are (`labnn.engine.Site`): they must all be
    alike, or a run's numbers would depend on which of them trains it."""
    with connect(how) as client:
        sites = client.run(_site_here)
    if not sites:
        raise SchedulerError(f"the Dask scheduler at {how.address} has no workers: start some "
                             f"(`dask worker {how.address} --nthreads 1`)")  # fmt: skip
    if len(set(sites.values())) > 1:
        listed = "; ".join(f"{worker}: {threads} thread(s), oneDNN {onednn}"
                           for worker, (threads, onednn) in sorted(sites.items()))  # fmt: skip
        raise SchedulerError(f"the workers at {how.address} differ ({listed}), so a run's "
                             "numbers would depend on which of them trains it: start them alike "
                             "(the same --nthreads and TF_ENABLE_ONEDNN_OPTS)")  # fmt: skip
    return engine.Site(*next(iter(sites.values())))


def _site_here() -> tuple:
    site = engine.here()
    return site.threads, site.onednn


def check_site(meta: dict, site: engine.Site):
    """Fail before storing what a worker trained at another site than the key names
    (a worker that joined the cluster later, started otherwise)."""
    if (meta["threads"], meta["onednn"]) != (site.threads, site.onednn):
        raise SchedulerError(f"worker {meta['worker']} trains with {meta['threads']} thread(s), "
                             f"oneDNN {meta['onednn']}; the runs' keys name {site.threads}, "
                             f"oneDNN {site.onednn}: start the workers alike")  # fmt: skip


def call_on_dask(how: Scheduler, what: str, function: Callable, *args, progress: BuildProgress):
    """`function(*args)`, which returns (results, arrays), computed on a worker of the
    cluster `how` names; (results, arrays, meta), where meta is the worker's
    environment. For work other than training runs, e.g. where a oneDNN worker
    predicts faster than this process (`labnn.experiments.q4.noise_evaluation`)."""
    # The arguments (the test set: 31 MB) travel inside the task, so the scheduler
    # keeps them and reruns the task elsewhere if its worker dies; scattered, they
    # died with it. Hence no warning for a graph that large.
    with connect(how) as client, dask.config.set({LARGE_GRAPH: "256MB"}):
        _announce(client, how, what, progress)
        future = client.submit(_call_remotely, function, *args, retries=RETRIES, pure=False)
        results, arrays, meta = future.result()  # Ctrl-C: closing the client cancels it
        progress.note(f"{what}: done on {meta['worker']} in {meta['seconds']:.0f} s")
        return results, arrays, meta


def _call_remotely(function: Callable, *args):
    with _one_run_at_a_time:
        started = time.perf_counter()
        results, arrays = function(*args)
        seconds = time.perf_counter() - started
        return results, arrays, {**_environment(), "seconds": seconds}


def longest_first(units: list[list[Run]]) -> list[int]:
    """The units' indices, the most epochs to train first (they share one dataset), in the order
    given among equals: workers taking them in this order finish closer together
    (2e's 100-epoch runs no longer start last)."""
    return sorted(range(len(units)), key=lambda u: -sum(run.epochs_to_train for run in units[u]))


@contextmanager
def connect(how: Scheduler) -> Iterator[Client]:
    """A client of the cluster `how` names: a local one started here (and closed on
    exit), or the scheduler at its address; its workers set up by `WorkerSetup`."""
    with _client(how) as client:
        client.register_plugin(WorkerSetup())
        yield client


@contextmanager
def _client(how: Scheduler) -> Iterator[Client]:
    if how.kind == "local":
        with _environ(how.env):  # the workers start here
            cluster = LocalCluster(
                n_workers=how.workers,
                threads_per_worker=how.threads_per_worker,
                processes=True,  # TensorFlow's pools and seeds are per process
                host="127.0.0.1",
                dashboard_address=":0" if _has_bokeh() else None,
                silence_logs=logging.ERROR,
                env=dict(how.env),  # and again in a worker its nanny restarts
            )
        with cluster, Client(cluster) as client:
            yield client
        return
    try:
        client = Client(how.address, timeout=f"{CONNECT_TIMEOUT_S}s")
    except (OSError, TimeoutError) as error:
        raise SchedulerError(
            f"cannot reach the Dask scheduler at {how.address} within {CONNECT_TIMEOUT_S} s "
            f"({type(error).__name__}): start it (`dask scheduler`) and its workers, or check "
            "the address; --scheduler none trains in this process"
        ) from None
    with client:
        yield client


@contextmanager
def _environ(variables: tuple[tuple[str, str], ...]) -> Iterator[None]:
    """`variables` in this process's environment while it spawns the local workers, so
    each has them from its start: Dask's own `env` is set only after a worker has
    imported the caller's main module, which may have loaded TensorFlow already."""
    saved = {name: os.environ.get(name) for name, _ in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _has_bokeh() -> bool:
    return importlib.util.find_spec("bokeh") is not None  # Dask's dashboard needs it


def _announce(client: Client, how: Scheduler, what: str, progress: BuildProgress, *more: str):
    workers = client.scheduler_info()["workers"].values()
    threads = sorted({w["nthreads"] for w in workers})
    where = "a local cluster" if how.kind == "local" else how.address
    text = ", ".join((f"dask: {what} on {where}",
                      f"{len(workers)} worker(s) x {'/'.join(map(str, threads))} thread(s)",
                      *more))  # fmt: skip
    if how.env:
        text += ", with " + " ".join(f"{k}={v}" for k, v in how.env)
    link = _dashboard(client)
    progress.note(text + (f"; dashboard {link}" if link else ""))


def _dashboard(client: Client) -> str | None:
    services = client.scheduler_info().get("services", {})
    return client.dashboard_link if "dashboard" in services else None


def _data_source(client: Client, mnist: Mnist) -> str | None:
    """None when every worker reads the same MNIST from its own LABNN_DATA_DIR, else
    the name under which `send_mnist` gave every worker the client's copy."""
    answers = client.run(worker_has_mnist, mnist.fingerprint)
    if answers and all(answers.values()):
        return None
    return send_mnist(client, mnist)


class SentMnist(WorkerPlugin):
    """The client's MNIST, held by every worker of the cluster.

    Why a plugin and not `scatter(broadcast=True)`: the scheduler keeps a registered
    plugin and hands it to every worker that joins later, a killed worker's
    replacement included, so no worker's death can lose the data. A broadcast is
    data like any other: Dask's Active Memory Manager drops all but one copy
    (measured: 1 copy after 5 s), and a worker dying with it took the data from
    every run still to come (the killed-worker test, in CI).
    """

    idempotent = True  # same name, same data: sent once per cluster

    def __init__(self, mnist: Mnist):
        self.mnist = mnist


def send_mnist(client: Client, mnist: Mnist) -> str:
    """Give every worker of `client`'s cluster, now and later, `mnist`; its name there.
    The scheduler keeps it (the uint8 arrays, 55 MB) while it runs."""
    name = f"labnn-mnist-{mnist.fingerprint}"
    client.register_plugin(SentMnist(mnist), name=name)
    return name


def worker_has_mnist(fingerprint: str) -> bool:
    """Whether this worker's LABNN_DATA_DIR holds the client's MNIST (and loads it)."""
    if not os.environ.get("LABNN_DATA_DIR"):
        return False
    try:
        return _own_mnist().fingerprint == fingerprint
    except DataError as error:
        log.warning("worker's LABNN_DATA_DIR is not usable: %s", error)
        return False


_cache: dict = {}
_one_run_at_a_time = threading.Lock()  # seeds and thread pools are per process


def train_remotely(
    runs: list[Run], recipe, data_spec: dict, source: str | None, topic: str | None = None
):
    """On a worker: rebuild the runs' data (from its own LABNN_DATA_DIR, or from what
    `send_mnist` named `source`), check it is the client's, and train them (together,
    when they are a stack), sending each epoch's progress under `topic`."""
    with _one_run_at_a_time:
        mnist = _own_mnist() if source is None else sent_mnist(source)
        if mnist.fingerprint != data_spec["fingerprint"]:
            raise DataError(
                f"worker {get_worker().address} has MNIST {mnist.fingerprint}, the client "
                f"{data_spec['fingerprint']}: give the workers the client's data "
                "(or unset their LABNN_DATA_DIR so it is sent to them)"
            )
        data = _dataset(recipe, mnist, data_spec)
        started = time.time()
        report = None if topic is None else partial(_send_epoch, get_worker(), topic)
        computed = compute_all(runs, data, progress=report)
        meta = {**_environment(), "started": started}
        return computed, meta


def _environment() -> dict:
    """What the store records of this worker with each run it computed."""
    return {**machine(), **engine.environment(), "worker": get_worker().address}


def _progress_topic(client: Client) -> str:
    """This client's own topic: builds sharing a scheduler see only their own runs."""
    return f"labnn-progress-{client.id}"


def _send_epoch(worker, topic: str, label: str, epoch: int, epochs: int, logs: dict,
                elapsed: float):  # fmt: skip
    """A `ProgressFn` on a worker: the epoch's line goes to the client as an event."""
    metrics = {name: float(value) for name, value in logs.items()}  # msgpack: no numpy
    worker.log_event(topic, [label, epoch, epochs, metrics, elapsed])


def _show_epoch(progress: BuildProgress, event):
    """On the client: a worker's epoch, shown as the client shows its own runs'."""
    _, (label, epoch, epochs, logs, elapsed) = event
    progress(label, epoch, epochs, logs, elapsed)


def _own_mnist() -> Mnist:
    if "own" not in _cache:
        _cache["own"] = load_mnist(os.environ["LABNN_DATA_DIR"], download=False)
    return _cache["own"]


def sent_mnist(name: str) -> Mnist:
    """On a worker: the MNIST `send_mnist` sent under `name`, verified byte for byte."""
    key = ("sent", name)
    if key not in _cache:
        plugin = get_worker().plugins.get(name)
        if not isinstance(plugin, SentMnist):
            raise DataError(f"worker {get_worker().address} has no MNIST named {name}: "
                            "was it sent to another cluster? Build again to send it")  # fmt: skip
        _cache[key] = verify_mnist(plugin.mnist, origin="MNIST sent by the client")
    return _cache[key]


def _dataset(recipe, mnist: Mnist, data_spec: dict):
    key = ("data", json.dumps(data_spec, sort_keys=True))
    if key not in _cache:
        data = recipe(mnist)
        if data.spec != data_spec:
            raise AssertionError(f"the recipe built {data.spec}, the client has {data_spec}")
        _cache[key] = data
    return _cache[key]
