"""Seeded training: identical seeds give identical histories; timings are recorded."""

import io

import pytest

from labnn.data import holdout, preprocess
from labnn.models import build_notebook_mlp
from labnn.progress import BuildProgress
from labnn.training import throughput, train


@pytest.fixture(scope="module")
def split(small):
    return holdout(preprocess(small), validation_size=128)


def run_once(split, seed, **kwargs):
    model = build_notebook_mlp(seed=seed)
    return train(model, split, epochs=2, batch_size=32, seed=seed, **kwargs)


def test_two_identical_seeded_runs_give_identical_histories(split):
    first, second = run_once(split, 7), run_once(split, 7)
    assert first.history == second.history


def test_another_seed_gives_another_history(split):
    assert run_once(split, 7).history != run_once(split, 8).history


def test_history_has_train_and_validation_metrics_per_epoch(split):
    result = run_once(split, 1)
    assert set(result.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(values) == 2 for values in result.history.values())
    assert len(result.epoch_seconds) == 2 and result.samples_per_second > 0


def test_throughput_leaves_out_the_first_epoch():
    assert throughput(100, [10.0, 1.0, 1.0]) == pytest.approx(100.0)
    assert throughput(100, [2.0]) == pytest.approx(50.0)


def test_progress_writes_one_line_per_run_when_not_a_terminal(split):
    stream = io.StringIO()
    run_once(split, 1, progress=BuildProgress(stream), label="demo")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1 and "| demo epoch 2/2" in lines[0]


def test_quiet_progress_writes_nothing(split):
    stream = io.StringIO()
    run_once(split, 1, progress=BuildProgress(stream, quiet=True), label="demo")
    assert stream.getvalue() == ""


def test_whole_epoch_per_call_gives_the_same_run_as_one_step_per_call(split):
    fast = run_once(split, 5)  # default: one compiled call per epoch
    plain = run_once(split, 5, steps_per_execution=1)
    assert fast.history == plain.history
