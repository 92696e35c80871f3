"""The sweep on a Dask cluster on 127.0.0.1: same runs, same numbers, faults survived."""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from functools import partial

import keras
import numpy as np
import pytest

distributed = pytest.importorskip("distributed", reason="the [dask] extra is not installed")

from labnn import engine  # noqa: E402
from labnn.datasets import dataset  # noqa: E402
from labnn.errors import DataError, SchedulerError  # noqa: E402
from labnn.experiments import q2d  # noqa: E402
from labnn.profiles import QUICK, override  # noqa: E402
from labnn.progress import BuildProgress  # noqa: E402
from labnn.scheduler import ONEDNN, parse_scheduler, resolve  # noqa: E402
from labnn.store import Store  # noqa: E402
from report.cli import main  # noqa: E402
from tests.conftest import REPO  # noqa: E402

# On JAX, whose thread pools labnn does not set, a worker may sum in another order
# than this process: float-level differences, which 3 epochs of SGD at lr 0.1 can
# grow to a few validation images. On TensorFlow the sweep's path (tf-stacked) is
# measured not to depend on the threads (tests/test_placement.py): identical.
ACCURACY_TOLERANCE = 0.01
LOSS_RTOL = 0.01


@pytest.fixture(scope="module")
def cluster_without_data():
    """2 workers x 1 thread whose environment has no MNIST: the client sends it."""
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        env={"LABNN_DATA_DIR": ""},
    ) as cluster:
        yield cluster


# A stack (the runs of one seed) is one task, so three seeds on two workers leave one
# still training after the first is stored.
THREE_STACKS = {"sweep_replicates": 3}
# jax-scan stacks the runs of every seed together: the sweep is one task, one stack.
several_stacks = pytest.mark.skipif(
    keras.backend.backend() == "jax",
    reason="jax-scan trains every seed of the sweep as one stack: these need several",
)


def sweep_runs(mnist, store, scheduler):
    return q2d.sweep(QUICK, dataset(QUICK, mnist), store, data=mnist, scheduler=scheduler)


def test_a_cluster_sweep_stores_what_the_sequential_path_stores(
    mnist, quick_store, tmp_path, cluster_without_data
):
    sequential = sweep_runs(mnist, quick_store, "none")
    store = Store(tmp_path)
    # the module's cluster: starting local ones is the CLI tests' business (ctrl-c, oneDNN)
    on_dask = sweep_runs(mnist, store, cluster_without_data.scheduler_address)

    assert store.computed == len(sequential) == len(QUICK.sweep_factors) * 2
    assert [e.key for e in on_dask] == [e.key for e in sequential]
    for ours, theirs in zip(on_dask, sequential, strict=True):
        assert ours.meta["worker"].startswith("tcp://127.0.0.1:")
        if keras.backend.backend() == "tensorflow":
            assert ours.meta["threads"] == 1
            assert ours.results["history"] == theirs.results["history"]
        for metric, values in theirs.results["history"].items():
            got = np.array(ours.results["history"][metric])
            if metric.endswith("accuracy"):
                np.testing.assert_allclose(got, values, atol=ACCURACY_TOLERANCE)
            else:
                np.testing.assert_allclose(got, values, rtol=LOSS_RTOL)


def test_a_run_gives_identical_numbers_on_either_worker(mnist, cluster_without_data):
    from labnn.dask_runs import send_mnist, train_remotely

    profile = QUICK
    data_spec = dataset(profile, mnist).spec
    with distributed.Client(cluster_without_data) as client:
        sent = send_mnist(client, mnist)
        workers = list(client.scheduler_info()["workers"])
        histories = [
            client.submit(train_remotely, [_one_run(profile)], partial(dataset, profile), data_spec,
                          sent, workers=[w], pure=False).result()[0][0][0]["history"]
            for w in workers
        ]  # fmt: skip
    assert histories[0] == histories[1]


def test_a_worker_that_joins_after_the_data_was_sent_has_it_too(mnist):
    from labnn.dask_runs import send_mnist, sent_mnist

    with (
        distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                 host="127.0.0.1", dashboard_address=None,
                                 env={"LABNN_DATA_DIR": ""}) as cluster,
        distributed.Client(cluster) as client,
    ):  # fmt: skip
        name = send_mnist(client, mnist)
        first = set(client.scheduler_info()["workers"])
        cluster.scale(2)
        client.wait_for_workers(2, timeout=120)
        (joined,) = set(client.scheduler_info()["workers"]) - first
        got = client.submit(sent_mnist, name, workers=[joined], pure=False).result()
        assert got.fingerprint == mnist.fingerprint
        np.testing.assert_array_equal(got.x_test, mnist.x_test)
        assert client.amm.running()  # sending the data leaves Dask's memory manager be
        unknown = client.submit(sent_mnist, "labnn-mnist-0000", workers=[joined], pure=False)
        with pytest.raises(DataError, match="has no MNIST named labnn-mnist-0000"):
            unknown.result()


@several_stacks
def test_a_killed_worker_still_leaves_every_run_stored_exactly_once(
    mnist, cluster_without_data, tmp_path
):
    store = Store(tmp_path)
    profile = override(QUICK, THREE_STACKS)
    address = cluster_without_data.scheduler_address
    entries, _ = _killing_a_busy_worker(
        cluster_without_data,
        lambda: q2d.sweep(profile, dataset(profile, mnist), store, data=mnist, scheduler=address),
        store=store, timeout=600,
    )  # fmt: skip

    expected = len(QUICK.sweep_factors) * THREE_STACKS["sweep_replicates"]
    assert len(entries) == expected
    assert store.computed == expected
    folders = [p for p in (tmp_path / "entries").iterdir()]
    assert sorted(p.name for p in folders) == sorted(e.key for e in entries)
    for folder in folders:  # every entry complete, nothing half-written left behind
        assert json.loads((folder / "entry.json").read_text())["results"]["history"]


def slow_sum(array, seconds: float):
    """A call for `call_on_dask` that takes long enough to kill its worker in."""
    time.sleep(seconds)
    return {"sum": float(array.sum(dtype=np.float64))}, {}  # exact: no rounding order


def test_a_call_whose_worker_dies_is_rerun_with_its_arguments(cluster_without_data):
    from labnn.dask_runs import call_on_dask

    how = parse_scheduler(cluster_without_data.scheduler_address)
    array = np.arange(4_000_000, dtype=np.float32)  # 16 MB, as large as a test set
    (results, _, meta), victim = _killing_a_busy_worker(
        cluster_without_data,
        lambda: call_on_dask(how, "a slow sum", slow_sum, array, 8.0,
                             progress=BuildProgress(quiet=True)),
        store=None, timeout=300,
    )  # fmt: skip

    assert results == {"sum": float(array.sum(dtype=np.float64))}
    assert meta["worker"] != victim


def test_an_unreachable_scheduler_fails_fast_with_a_clear_error(mnist, tmp_path):
    address = f"tcp://127.0.0.1:{_free_port()}"
    started = time.perf_counter()
    with pytest.raises(SchedulerError, match=f"cannot reach the Dask scheduler at {address}"):
        sweep_runs(mnist, Store(tmp_path), address)
    assert time.perf_counter() - started < 30


def test_the_cli_reports_an_unreachable_scheduler_in_one_line(data_dir, tmp_path, capsys):
    address = f"tcp://127.0.0.1:{_free_port()}"
    code = main(["build", "--profile", "quick", "--only", "q2d", "--no-pdf", "-q",
                 "--data-dir", str(data_dir), "--store", str(tmp_path / "store"),
                 "--out", str(tmp_path / "out"), "--scheduler", address])  # fmt: skip
    assert code == 1
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith(f"report: error: cannot reach the Dask scheduler at {address}")
    assert "--scheduler none" in error


def _one_run(profile):
    from labnn.models import build_hinton_mlp
    from labnn.runs import Run

    return Run(
        experiment="q2d",
        build=build_hinton_mlp,
        params={"l2": 1e-4, "learning_rate": profile.sweep_learning_rate},
        epochs=profile.sweep_epochs,
        batch_size=profile.sweep_batch_size,
        seed=profile.seed,
        keep_weights=True,
    )


def _killing_a_busy_worker(cluster, work, *, store, timeout: float):
    """`work()` in a thread while a worker busy with it is killed (SIGKILL): what
    `work` returned, and the killed worker's address."""
    result = {}
    thread = threading.Thread(target=lambda: result.update(value=work()))
    thread.start()
    with distributed.Client(cluster) as client:
        victim = _busy_worker(client, store)
        pid = client.run(os.getpid, workers=[victim])[victim]
        os.kill(pid, signal.SIGKILL)
    thread.join(timeout=timeout)
    assert not thread.is_alive(), f"still running {timeout} s after the kill"
    return result["value"], victim


def _busy_worker(client, store, timeout=300) -> str:
    """A worker in the middle of a task, once at least one run is in `store` (if any)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        busy = [w for w, tasks in client.processing().items() if tasks]
        if busy and (store is None or store.computed >= 1):
            return busy[0]
        time.sleep(0.05)
    raise AssertionError("no worker started a run")


def _free_port() -> int:
    with socket.socket() as sock:  # bound and released: nothing listens there
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@several_stacks
def test_ctrl_c_keeps_finished_runs_and_the_next_build_resumes(data_dir, tmp_path):
    store = tmp_path / "store"
    command = [
        sys.executable,
        "-m",
        "report",
        "build",
        "--profile",
        "quick",
        "--only",
        "q2d",
        "--no-pdf",
        "--data-dir",
        str(data_dir),
        "--store",
        str(store),
        "--out",
        str(tmp_path / "out"),
        "--set",
        "sweep_replicates=3",
        "--set",
        "sweep_epochs=20",
    ]  # long enough stacks that Ctrl-C lands mid-sweep
    # A runner started in the background hands SIGINT down ignored, and Python then
    # keeps it ignored: give the build the default, as a terminal would.
    client = subprocess.Popen([*command, "--scheduler", "local:2"], cwd=REPO, text=True,
                              stderr=subprocess.PIPE, preexec_fn=_default_sigint)  # fmt: skip
    deadline = time.monotonic() + 300
    while not _sweep_entries(store) and time.monotonic() < deadline:
        time.sleep(0.05)
    client.send_signal(signal.SIGINT)
    _, stderr = client.communicate(timeout=120)

    assert client.returncode == 130, stderr[-2000:]
    assert "interrupted; finished runs are stored" in stderr
    kept = len(_sweep_entries(store))
    total = len(QUICK.sweep_factors) * THREE_STACKS["sweep_replicates"]
    assert 1 <= kept < total
    resumed = subprocess.run([*command, "--scheduler", "none"], cwd=REPO, capture_output=True,
                             text=True, timeout=600)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"trained {total - kept} run(s)" in resumed.stderr


def _default_sigint():
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _sweep_entries(store) -> list:
    """The stored runs of 2d (2c's run is stored before the sweep starts)."""
    found = []
    for path in store.glob("entries/*/entry.json"):
        try:
            if json.loads(path.read_text())["spec"]["experiment"] == "q2d":
                found.append(path)
        except (OSError, ValueError):  # being written this instant
            continue
    return found


def test_auto_sends_long_single_runs_to_workers_and_keeps_stacks_here(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    auto = parse_scheduler("auto")
    assert resolve(auto, runs=12, samples=33_000_000) == parse_scheduler("local:2")
    assert resolve(auto, runs=3, samples=33_000_000, stacked=True).kind == "none"
    assert resolve(auto, runs=6, samples=90_000).kind == "none"  # too short to pay the start


def test_auto_gives_long_convolutional_runs_a_onednn_worker(monkeypatch):
    from labnn.scheduler import ONEDNN_MIN_SAMPLES

    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    auto, long = parse_scheduler("auto"), ONEDNN_MIN_SAMPLES
    onednn_worker = resolve(auto, runs=1, samples=long, onednn=True)
    assert (onednn_worker.workers, onednn_worker.threads_per_worker) == (1, 2)
    assert dict(onednn_worker.env) == ONEDNN
    assert resolve(auto, runs=1, samples=long - 1, onednn=True).kind == "none"
    assert resolve(auto, runs=1, samples=long).kind == "none"  # a long MLP stays here


# oneDNN is TensorFlow's, and TF_ENABLE_ONEDNN_OPTS=0 turns it off.
ONEDNN_POSSIBLE = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow" or os.environ.get("TF_ENABLE_ONEDNN_OPTS") == "0",
    reason="no oneDNN: another backend, or TF_ENABLE_ONEDNN_OPTS=0",
)


@ONEDNN_POSSIBLE
def test_the_cnn_trains_on_a_onednn_worker_and_matches_the_run_trained_here(
    mnist, quick_store, tmp_path
):
    from labnn.engine.tf_backend import onednn_on
    from labnn.experiments import q3

    here, _ = q3.train_cnn(QUICK, mnist, quick_store, scheduler="none")
    before = os.environ.get("TF_ENABLE_ONEDNN_OPTS")
    store = Store(tmp_path)
    shown = EpochsShown()
    worker, _ = q3.train_cnn(QUICK, mnist, store, progress=shown, scheduler="local:1")

    assert store.computed == 1 and worker.key == here.key
    assert worker.meta["worker"].startswith("tcp://127.0.0.1:")
    assert worker.meta["onednn"] is True
    assert os.environ.get("TF_ENABLE_ONEDNN_OPTS") == before  # this process: as it was
    assert here.meta["onednn"] is onednn_on()
    # Other kernels sum in another order: float-level differences, grown by Adam.
    for metric in ("accuracy", "val_accuracy"):
        np.testing.assert_allclose(worker.results["history"][metric],
                                   here.results["history"][metric], atol=0.02)  # fmt: skip
    agree = worker.arrays["test_predicted"] == here.arrays["test_predicted"]
    assert agree.mean() > 0.98
    # Each epoch on the worker was shown here as it finished, with its metrics.
    epochs = QUICK.cnn_epochs
    assert [(label, epoch) for label, epoch, _ in shown.epochs] == [
        ("q3 CNN", e) for e in range(1, epochs + 1)
    ]
    assert shown.epochs[-1][2]["val_accuracy"] == worker.results["history"]["val_accuracy"][-1]


class EpochsShown(BuildProgress):
    """A quiet progress line that remembers each epoch it was given."""

    def __init__(self):
        super().__init__(quiet=True)
        self.epochs = []

    def __call__(self, label, epoch, epochs, logs, elapsed):
        self.epochs.append((label, epoch, logs))


@ONEDNN_POSSIBLE
def test_the_noise_evaluation_on_a_onednn_worker_matches_this_process(mnist, quick_store):
    from labnn.dask_runs import call_on_dask
    from labnn.experiments import q4

    profile = QUICK
    here = q4.noise_evaluation(profile, mnist, quick_store, scheduler="none")
    ae_entry, _, cnn_entry, _, clean = q4.models(profile, mnist, quick_store, scheduler="none")
    aware_entry = q4.train_noise_aware(profile, mnist, quick_store, scheduler="none")
    test = (clean.prepared.x_test, clean.prepared.labels_test)
    how = resolve(parse_scheduler("local:1"), runs=1, samples=0, onednn=True)
    quiet = BuildProgress(quiet=True)
    results, arrays, meta = call_on_dask(how, "q4 noise", q4.evaluate_stored, profile, ae_entry,
                                         cnn_entry, aware_entry, *test, progress=quiet)  # fmt: skip

    assert meta["onednn"] is True and meta["worker"].startswith("tcp://127.0.0.1:")
    assert results == here.results
    np.testing.assert_array_equal(arrays["mse_noisy"], here.arrays["mse_noisy"])  # no model
    # Other kernels, other float rounding: a few of the 2,000 test images may flip.
    for name in ("accuracy_noisy", "accuracy_denoised", "accuracy_aware"):
        np.testing.assert_allclose(arrays[name], here.arrays[name], atol=0.01)
    np.testing.assert_allclose(arrays["mse_denoised"], here.arrays["mse_denoised"], rtol=1e-3)


def test_a_short_noise_evaluation_or_a_chosen_place_keeps_it_here(monkeypatch):
    from labnn.experiments import q4
    from labnn.models import build_cnn
    from labnn.profiles import FULL

    cnn = build_cnn(seed=0)
    assert q4.evaluation_site(QUICK, cnn, 2_000, scheduler="auto").kind == "none"
    assert q4.evaluation_site(FULL, cnn, 10_000, scheduler="none").kind == "none"
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")  # the user's choice: no worker for it
    assert q4.evaluation_site(FULL, cnn, 10_000, scheduler="auto").kind == "none"


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow" or not engine.onednn_for_workers(),
    reason="this process runs TensorFlow with oneDNN (or another backend): no worker for it",
)
def test_a_long_noise_evaluation_goes_to_a_onednn_worker():
    from labnn.experiments import q4
    from labnn.models import build_cnn
    from labnn.profiles import FULL

    full = q4.evaluation_site(FULL, build_cnn(seed=0), 10_000, scheduler="auto")  # 990,000 images
    assert (full.kind, full.workers, full.env) == ("local", 1, tuple(ONEDNN.items()))


def test_the_longest_runs_go_to_the_workers_first():
    from labnn.dask_runs import longest_first
    from labnn.runs import Run

    def unit(*epochs):
        return [Run(experiment="q2e", build=None, params={}, epochs=e, batch_size=128, seed=0,
                    label="") for e in epochs]  # fmt: skip

    units = [unit(40), unit(40), unit(100), unit(40, 40, 40), unit(100)]
    assert longest_first(units) == [3, 2, 4, 0, 1]
