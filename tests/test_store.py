"""The result store: finished runs are reused, damaged ones ignored, writes atomic."""

import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from labnn.machine import SPEED_FEATURES, cpu_features, machine
from labnn.store import Store

SPEC = {"experiment": "demo", "model": {"units": 3}, "training": {"seed": 0}}


def compute_once():
    return {"value": 1.5, "history": {"loss": [2.0, 1.0]}}, {"weights": np.arange(6.0)}


def never_called():
    raise AssertionError("a stored run was trained again")


def test_stored_run_is_returned_without_computing(tmp_path):
    store = Store(tmp_path)
    first = store.run(SPEC, compute_once)
    again = Store(tmp_path).run(SPEC, never_called)
    assert again.results == first.results == {"value": 1.5, "history": {"loss": [2.0, 1.0]}}
    assert np.array_equal(again.arrays["weights"], np.arange(6.0))
    assert again.meta["processor"] and again.meta["created"]  # the backend's: from the caller


def test_a_result_computed_elsewhere_keeps_that_environment(tmp_path):
    def on_a_worker():
        return *compute_once(), {"worker": "tcp://10.0.0.7:4000", "onednn": True}

    entry = Store(tmp_path).run(SPEC, on_a_worker)
    again = Store(tmp_path).run(SPEC, never_called)
    assert again.meta["worker"] == entry.meta["worker"] == "tcp://10.0.0.7:4000"
    assert again.meta["onednn"] is True and again.meta["created"]


def test_different_spec_gets_a_different_key(tmp_path):
    store = Store(tmp_path)
    assert store.key(SPEC) != store.key({**SPEC, "training": {"seed": 1}})


def test_truncated_entry_is_ignored_and_recomputed(tmp_path):
    store = Store(tmp_path)
    entry = store.run(SPEC, compute_once)
    path = tmp_path / "entries" / entry.key / "entry.json"
    path.write_text(path.read_text()[:40])
    assert store.get(SPEC) is None
    calls = []
    store.run(SPEC, lambda: calls.append(1) or compute_once())
    assert calls == [1] and store.get(SPEC).results["value"] == 1.5


def test_damaged_arrays_are_detected(tmp_path):
    store = Store(tmp_path)
    entry = store.run(SPEC, compute_once)
    npz = tmp_path / "entries" / entry.key / "arrays.npz"
    npz.write_bytes(npz.read_bytes()[:-10])
    assert store.get(SPEC) is None


def test_entries_are_json_and_npz_without_pickle(tmp_path):
    entry = Store(tmp_path).run(SPEC, compute_once)
    folder = tmp_path / "entries" / entry.key
    assert sorted(p.name for p in folder.iterdir()) == ["arrays.npz", "entry.json"]
    assert json.loads((folder / "entry.json").read_text())["spec"] == SPEC
    with np.load(folder / "arrays.npz", allow_pickle=False) as npz:
        assert npz.files == ["weights"]


def test_force_recomputes_once_per_process(tmp_path):
    Store(tmp_path).run(SPEC, compute_once)
    forced = Store(tmp_path, force=True)
    calls = []
    for _ in range(2):
        forced.run(SPEC, lambda: calls.append(1) or compute_once())
    assert calls == [1] and forced.computed == 1 and forced.reused == 1


def test_unwritable_store_names_the_folder_and_the_fix(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    from labnn.errors import StoreError

    with pytest.raises(StoreError, match=r"cannot write to the result store .*--store"):
        Store(blocker / "store").put(SPEC, {"value": 1})


# -- sweeps across processes ----------------------------------------------------------

# In this process, one run after another: what these tests are about (the Dask path has
# its own tests in test_dask.py).
TINY = dict(n_train=1500, n_test=200, validation_size=300, sweep_epochs=2, sweep_replicates=2)
CHILD = textwrap.dedent(
    f"""
    import os, signal, sys
    from labnn.data import load_mnist
    from labnn.experiments import q2d
    from labnn.profiles import QUICK, override
    from labnn.store import Store
    from labnn.progress import BuildProgress

    kill_after = int(sys.argv[2])

    class Killer(BuildProgress):
        finished = 0
        def __call__(self, label, epoch, epochs, logs, elapsed):
            if epoch == epochs:
                Killer.finished += 1
                if Killer.finished == kill_after:  # mid-run: trained, not yet stored
                    os.kill(os.getpid(), signal.SIGKILL)

    store = Store(sys.argv[1])
    q2d.run(override(QUICK, {TINY!r}), load_mnist(), store, progress=Killer(quiet=True),
            scheduler="none")
    print("computed", store.computed)
    """
)


def run_child(store_dir, kill_after=0):
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(store_dir), str(kill_after)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )


def tiny_profile():
    from labnn.profiles import QUICK, override

    return override(QUICK, TINY)


@pytest.mark.slow
def test_sweep_killed_half_way_resumes_with_only_the_missing_runs(tmp_path, mnist):
    from labnn.engine import choose
    from labnn.experiments import q2d
    from labnn.models import build_hinton_mlp

    # On TensorFlow the sweep trains one stack per seed (tf-stacked), elsewhere one
    # run at a time: the second is killed after training, before it is stored.
    if choose(build_hinton_mlp).mixes_seeds:
        pytest.skip("jax-scan trains every seed of the sweep as one stack: nothing to kill after")
    child = run_child(tmp_path, kill_after=2)
    child.wait(timeout=300)
    assert child.returncode == -signal.SIGKILL
    stored = len(list((tmp_path / "entries").iterdir()))
    per_stack = len(tiny_profile().sweep_factors) if choose(build_hinton_mlp).stacks else 1
    assert stored == per_stack

    store = Store(tmp_path)
    result = q2d.run(tiny_profile(), mnist, store, scheduler="none")
    total = len(result["runs"])
    assert (store.reused, store.computed) == (per_stack, total - per_stack)
    assert len(list((tmp_path / "entries").iterdir())) == total


@pytest.mark.slow
def test_two_processes_sharing_a_store_train_each_run_once(tmp_path):
    children = [run_child(tmp_path), run_child(tmp_path)]
    outputs = [child.communicate(timeout=300)[0] for child in children]
    assert [child.returncode for child in children] == [0, 0]
    computed = sum(int(out.split()[-1]) for out in outputs)
    total = len(tiny_profile().sweep_factors) * tiny_profile().sweep_replicates
    assert computed == total
    assert all(Store(tmp_path).entries()) and len(Store(tmp_path).entries()) == total


def _spec(**changes):
    spec = {
        "experiment": "q2c",
        "model": {"builder": "build_notebook_mlp", "learning_rate": 0.1},
        "training": {"epochs": 10, "batch_size": 128, "seed": 0},
        "data": {"fingerprint": "abc", "n_train": 60000},
        "trainer": {"path": "tf-stacked", "version": 1},
        "backend": {"keras": "3.15", "backend": "tensorflow", "backend_version": "2.21"},
    }
    for part, value in changes.items():
        spec[part] = {**spec[part], **value} if isinstance(value, dict) else value
    return spec


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"trainer": {"version": 2}}, "training path or its version changed"),
        ({"backend": {"keras": "3.16"}}, "Keras or backend version changed"),
        ({"data": {"fingerprint": "xyz"}}, "data changed"),
        ({"data": {"n_train": 6000}}, "profile changed (data slice)"),
        ({"training": {"epochs": 3}}, "profile changed (training settings)"),
        ({"training": {"seed": 1}}, "missing (not run yet)"),
        (
            {"trainer": {"threads": 1, "onednn": True}},
            "stored as trained at another site (threads 2, here 1)",
        ),
        (
            {"trainer": {"threads": 2, "onednn": False}},
            "stored as trained at another site (onednn True, here False)",
        ),
        ({"trainer": {"version": 2, "threads": 1}}, "training path or its version changed"),
    ],
)
def test_explain_says_why_a_run_would_run(tmp_path, changes, reason):
    store = Store(tmp_path)
    store.put(_spec(trainer={"threads": 2, "onednn": True}), {"value": 1})
    store.put(_spec(), {"value": 1})
    assert store.explain(_spec()) == "stored"
    assert store.explain(_spec(**changes)) == reason


def test_explain_reports_an_experiment_never_run(tmp_path):
    assert Store(tmp_path).explain(_spec()) == "missing (never run)"


def test_cpu_features_are_the_speed_flags_of_cpuinfo(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("model name\t: AMD EPYC\nflags\t\t: fpu avx512_bf16 sse avx2 fma avx512f\n")
    assert cpu_features(cpuinfo) == ["avx2", "fma", "avx512f", "avx512_bf16"]
    cpuinfo.write_text("flags\t\t: fpu sse sse2\n")
    assert cpu_features(cpuinfo) == []
    assert cpu_features(tmp_path / "missing") == []
    assert set(machine()["cpu_features"]) <= set(SPEED_FEATURES)


# -- issue 28: a store that cannot be written, shared stores, damaged zips ----------------


def test_a_file_in_place_of_locks_fails_before_computing(tmp_path):
    from labnn.errors import StoreError

    (tmp_path / "locks").write_text("")  # stands for a read-only store, even as root
    with pytest.raises(StoreError, match=r"locks is a file, not a folder.*--store"):
        Store(tmp_path).run(SPEC, never_called)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only folder anyway")
def test_a_read_only_store_fails_before_computing_and_says_permission(tmp_path):
    from labnn.errors import StoreError

    Store(tmp_path).check_writable()
    tmp_path.chmod(0o555)
    try:
        with pytest.raises(StoreError, match="no permission to write there"):
            Store(tmp_path).run({**SPEC, "training": {"seed": 9}}, never_called)
    finally:
        tmp_path.chmod(0o755)


def test_a_store_that_cannot_be_written_still_serves_its_runs(tmp_path):
    import shutil

    stored = Store(tmp_path).run(SPEC, compute_once)
    shutil.rmtree(tmp_path / "locks")
    (tmp_path / "locks").write_text("")
    assert Store(tmp_path).run(SPEC, never_called).results == stored.results


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("ENOSPC", "the disk is full"),
        ("EDQUOT", "the disk is full"),
        ("EACCES", "no permission to write there"),
        ("EPERM", "no permission to write there"),
        ("EROFS", "read-only file system"),
    ],
)
def test_write_failures_tell_a_full_disk_from_a_permission_problem(tmp_path, code, words):
    import errno

    from labnn.store import _write_problem

    error = OSError(getattr(errno, code), os.strerror(getattr(errno, code)), str(tmp_path))
    message = _write_problem(tmp_path, error)
    assert words in message and "--store" in message
    assert ("Free some space" in message) == (code in ("ENOSPC", "EDQUOT"))


def test_a_group_shared_store_gets_group_writable_entries_and_locks(tmp_path):
    root = tmp_path / "shared"
    root.mkdir()
    root.chmod(0o2775)  # setgid, group-writable: a folder shared by a course's students
    umask = os.umask(0o022)  # a typical user's: without care, files come out rw-r--r--
    try:
        entry = Store(root).run(SPEC, compute_once)
    finally:
        os.umask(umask)
    folder = root / "entries" / entry.key
    assert folder.stat().st_mode & 0o7777 == 0o2775
    for path in (folder / "entry.json", folder / "arrays.npz", *(root / "locks").iterdir()):
        assert path.stat().st_mode & 0o777 == 0o664, path
    for path in (root / "entries", root / "locks"):
        assert path.stat().st_mode & 0o7777 == 0o2775, path


def test_a_failed_write_leaves_no_temporary_folder(tmp_path):
    from labnn.errors import StoreError

    store = Store(tmp_path)
    entry = store.run(SPEC, compute_once)
    (tmp_path / "entries" / entry.key / "entry.json").write_text("{")  # damaged: replaced next
    (tmp_path / "trash").write_text("")  # ...but the damaged entry cannot be moved aside
    with pytest.raises(StoreError, match="trash is a file, not a folder"):
        Store(tmp_path).run(SPEC, compute_once)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_corrupt_zip_behind_a_matching_checksum_is_a_damaged_entry(tmp_path, caplog):
    import hashlib

    store = Store(tmp_path)
    entry = store.run(SPEC, compute_once)
    folder = tmp_path / "entries" / entry.key
    garbage = b"PK\x03\x04" + b"\x00" * 64  # a zip's magic, nothing behind it
    (folder / "arrays.npz").write_bytes(garbage)
    document = json.loads((folder / "entry.json").read_text())
    document["arrays_sha256"] = hashlib.sha256(garbage).hexdigest()
    (folder / "entry.json").write_text(json.dumps(document))
    calls = []
    with caplog.at_level("WARNING"):
        again = Store(tmp_path).run(SPEC, lambda: calls.append(1) or compute_once())
    assert calls == [1] and np.array_equal(again.arrays["weights"], np.arange(6.0))
    damaged = [r for r in caplog.records if "ignoring damaged store entry" in r.getMessage()]
    assert len(damaged) == 1, "the damaged-entry warning is logged once per build"


def test_waiting_for_another_build_is_a_warning_shown_without_verbose(tmp_path, caplog):
    import threading
    import time

    first, second = Store(tmp_path), Store(tmp_path)
    done = []
    with caplog.at_level("WARNING"), first.claim([SPEC]) as claimed:
        assert claimed == [0]
        waiter = threading.Thread(target=lambda: done.append(second.run(SPEC, compute_once)))
        waiter.start()
        deadline = time.monotonic() + 30
        while "waiting for another build" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "waiting for another build" in caplog.text
    waiter.join(timeout=30)
    assert done and done[0].results["value"] == 1.5
