"""A run's numbers do not depend on where it trains, or its key says so (issue 26).

Every path trains the golden cases (tests/test_golden.py) in this process and on Dask
workers on 127.0.0.1: a worker with this process's threads must give bit-identical
histories and weights, on every path; a single-threaded worker too, unless the path
names the threads among what its numbers depend on (`TrainingPath.depends_on`), in
which case its key differs between the two sites.
"""

import hashlib
import os
import sys

import cloudpickle
import keras
import numpy as np
import pytest

distributed = pytest.importorskip("distributed", reason="Dask distributed is not installed")

from labnn import engine  # noqa: E402
from labnn.data import holdout, load_mnist, preprocess, subset  # noqa: E402
from labnn.runs import Run  # noqa: E402
from labnn.store import Store  # noqa: E402
from labnn.worker_setup import WorkerSetup  # noqa: E402
from tests.test_golden import PATH_CASES  # noqa: E402

cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import tests/
CORES = os.cpu_count() or 1
# Unlike the golden cases' (batches of 64, a schedule that stops after 6 steps, 128
# images to validate on), these are large enough for 2 threads to move tf-xla-loop's
# numbers in their last bits (its validation loss, over 1,000 images).
BATCH = 128


def params(name: str) -> list[dict]:
    _, runs, _ = PATH_CASES[name]
    return [{**run, "decay_steps": 1000} if "decay_steps" in run else run for run in runs]


def train_case(name: str) -> dict:
    """Train the golden case `name` for two epochs on a slice of the real MNIST (from
    LABNN_DATA_DIR), where this is called: its path, site, history and weights."""
    build, runs = PATH_CASES[name][0], params(name)
    before = os.environ.get("LABNN_FAST_PATH")
    if name == "fit":
        os.environ["LABNN_FAST_PATH"] = "0"  # every model's path then
    try:
        path = engine.choose(build, runs[0])
    finally:
        if before is None:
            os.environ.pop("LABNN_FAST_PATH", None)
        else:
            os.environ["LABNN_FAST_PATH"] = before
    mnist = subset(load_mnist(os.environ["LABNN_DATA_DIR"]), n_train=1152, n_test=10)
    split = holdout(preprocess(mnist), validation_size=1000)
    models = [build(**params, seed=5) for params in runs]
    results = path.train(models, split, epochs=2, batch_size=BATCH, seed=5)
    digest = hashlib.sha256()
    for weight in (w for model in models for w in model.get_weights()):
        digest.update(np.ascontiguousarray(weight).tobytes())
    return {"path": path.name, "site": engine.here(), "weights": digest.hexdigest(),
            "histories": [result.history for result in results]}  # fmt: skip


def cases() -> list[str]:
    """The golden cases whose path is theirs on the backend in use."""
    keep = []
    for name, (build, runs, _) in PATH_CASES.items():
        if name == "fit" or engine.choose(build, runs[0]).name == name:
            keep.append(name)
    return keep


@pytest.fixture(scope="module")
def here(data_dir):
    os.environ.setdefault("LABNN_DATA_DIR", str(data_dir))
    return {name: train_case(name) for name in cases()}


def on_workers(threads: int, names: list[str], env: dict | None = None) -> dict:
    """Each case trained on a local worker with `threads` threads and the environment
    `env`, set up as a build's."""
    with (
        distributed.LocalCluster(n_workers=1, threads_per_worker=threads, processes=True,
                                 host="127.0.0.1", dashboard_address=None,
                                 env=env or {}) as cluster,
        distributed.Client(cluster) as client,
    ):  # fmt: skip
        client.register_plugin(WorkerSetup())
        return {name: client.submit(train_case, name, pure=False).result() for name in names}


def test_every_path_trains_the_same_numbers_on_a_worker_with_this_process_threads(here):
    there = on_workers(CORES, list(here))
    for name, ours in here.items():
        theirs = there[name]
        assert theirs["site"] == ours["site"], name
        assert theirs["histories"] == ours["histories"], name
        assert theirs["weights"] == ours["weights"], name


@pytest.mark.skipif(CORES < 2, reason="one core: no other thread count to compare with")
def test_on_one_thread_a_path_trains_the_same_numbers_or_its_key_names_the_threads(here):
    there = on_workers(1, list(here))
    store = Store("unused")
    data = type("Data", (), {"spec": {"n_train": 384}})
    for name, ours in here.items():
        theirs = there[name]
        build, runs = PATH_CASES[name][0], params(name)
        if name == "fit":  # its key as the path's own: every model may take it
            keys = [engine.FIT.key(site) for site in (ours["site"], theirs["site"])]
        else:
            run = Run("placement", build, runs[0], epochs=2, batch_size=BATCH, seed=5)
            keys = [store.key(run.spec(data, site)) for site in (ours["site"], theirs["site"])]
        path = engine.PATHS[ours["path"]]
        if keras.backend.backend() == "tensorflow":
            assert theirs["site"].threads == 1 and ours["site"].threads == CORES
        if "threads" in path.depends_on and theirs["site"].threads != ours["site"].threads:
            assert keys[0] != keys[1], name  # the numbers may differ: the keys say so
        else:
            assert keys[0] == keys[1], name
            assert theirs["histories"] == ours["histories"], name
            assert theirs["weights"] == ours["weights"], name


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="oneDNN is TensorFlow's")
def test_with_onednn_switched_a_path_trains_the_same_numbers_or_its_key_names_it(here):
    onednn = engine.here().onednn
    there = on_workers(CORES, list(here), env={"TF_ENABLE_ONEDNN_OPTS": "0" if onednn else "1"})
    for name, ours in here.items():
        theirs = there[name]
        assert theirs["site"] == engine.Site(CORES, not onednn)
        path = engine.PATHS[ours["path"]]
        keys = [path.key(site) for site in (ours["site"], theirs["site"])]
        if "onednn" in path.depends_on:
            assert keys[0] != keys[1], name
        else:
            assert keys[0] == keys[1], name
            assert theirs["histories"] == ours["histories"], name
            assert theirs["weights"] == ours["weights"], name


def test_a_run_whose_key_names_another_site_is_not_trained_here(tmp_path, mnist):
    """Its key names a worker (the build that was training it there stopped): training
    it here would store numbers of another site under that key."""
    from labnn.datasets import Dataset
    from labnn.errors import LabnnError
    from labnn.executor import run_here
    from labnn.models import build_cnn
    from labnn.progress import BuildProgress

    prepared = preprocess(subset(mnist, n_train=64, n_test=10))
    data = Dataset(prepared, holdout(prepared, validation_size=32), {"slice": "placement"})
    run = Run("placement", build_cnn, {"decay_steps": 10}, epochs=1, batch_size=32, seed=0)
    elsewhere = engine.Site(threads=(engine.here().threads or 1) + 1, onednn=engine.here().onednn)
    store = Store(tmp_path)
    if not {"threads"} & set(run.path().depends_on):
        pytest.skip(f"{run.path().name} does not depend on the threads")
    with pytest.raises(LabnnError, match="build again to train it there"):
        run_here(store, [run], data, BuildProgress(quiet=True), at=elsewhere)
    assert store.computed == 0


def test_a_running_clusters_workers_are_asked_and_must_be_alike(data_dir):
    from labnn.dask_runs import check_site, remote_site
    from labnn.errors import SchedulerError
    from labnn.scheduler import parse_scheduler

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster:  # fmt: skip
        site = remote_site(parse_scheduler(cluster.scheduler_address))
    if keras.backend.backend() == "tensorflow":
        assert site == engine.Site(1, engine.here().onednn)
    late = {"worker": "tcp://127.0.0.1:1", "threads": 2, "onednn": site.onednn}
    with pytest.raises(SchedulerError, match="start the workers alike"):
        check_site(late, site)
    check_site({**late, "threads": site.threads}, site)  # alike: no error


@pytest.mark.skipif(CORES < 2 or keras.backend.backend() != "tensorflow",
                    reason="needs TensorFlow and a thread count other than one")  # fmt: skip
def test_status_asks_where_runs_would_train_and_says_why_they_would_retrain(
    mnist, quick_store, data_dir, capsys
):
    from labnn.experiments import q3
    from labnn.profiles import QUICK
    from report.cli import main

    q3.run(QUICK, mnist, quick_store, scheduler="none")  # the CNNs: threads in their keys
    common = ["status", "--profile", "quick", "--store", str(quick_store.root),
              "--data-dir", str(data_dir)]  # fmt: skip
    assert main([*common, "--scheduler", "none"]) == 0
    here = [line for line in capsys.readouterr().out.splitlines() if line.startswith("q3 ")]
    assert here == ["q3    stored"]
    assert main([*common, "--scheduler", "local:2"]) == 0  # single-threaded workers
    there = [line for line in capsys.readouterr().out.splitlines() if line.startswith("q3 ")]
    runs = "1 run" if QUICK.cnn_seeds == 1 else f"{QUICK.cnn_seeds} runs"
    assert there == [f"q3    {runs} would run: stored as trained at another site "
                     f"(threads {CORES}, here 1)"]  # fmt: skip
