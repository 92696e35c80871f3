"""The build's progress: run i of n, time elapsed and left, on a terminal and in a log."""

import io

from labnn.plan import Work, planned_work
from labnn.profiles import FULL, QUICK
from labnn.progress import BuildProgress, clock_text


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_time_left_is_the_planned_samples_left_at_the_rate_so_far():
    clock, log = Clock(), io.StringIO()
    progress = BuildProgress(log, clock=clock)
    progress.plan({"q2d": Work(runs=2, samples=4000)})
    progress.start("q2d 2 runs stacked", experiment="q2d", keys=["a", "b"], samples_per_epoch=1000)
    assert progress.seconds_left() is None  # no rate before the first epoch
    clock.now = 10.0
    progress("q2d 2 runs stacked", 1, 2, {"val_accuracy": 0.9}, 10.0)
    assert progress.seconds_left() == 30.0  # 3000 samples left at 100 per second
    clock.now = 20.0
    progress("q2d 2 runs stacked", 2, 2, {"val_accuracy": 0.95}, 20.0)
    assert progress.seconds_left() == 20.0  # 2000 left: the plan's runs never started
    assert progress.runs_done == 2


def test_a_log_gets_one_line_per_finished_unit_with_the_builds_figures():
    clock, log = Clock(), io.StringIO()
    progress = BuildProgress(log, clock=clock)
    progress.plan({"q2c": Work(1, 300), "q3": Work(1, 300)})
    progress.start_section("q2c")
    progress.start("q2c notebook MLP", experiment="q2c", keys=["k"], samples_per_epoch=100)
    for epoch in (1, 2, 3):
        clock.now = 10.0 * epoch
        progress("q2c notebook MLP", epoch, 3, {"loss": 0.5, "val_accuracy": 0.9}, clock.now)
    lines = log.getvalue().splitlines()
    assert lines == ["[q2c] run 1/2, 30s elapsed, about 30s left | q2c notebook MLP epoch 3/3 "
                     "loss 0.5000 val_accuracy 0.9000"]  # fmt: skip


def test_a_stored_run_leaves_the_plan_once_however_often_it_is_read():
    progress = BuildProgress(io.StringIO(), clock=Clock())
    progress.plan({"q2d": Work(2, 200), "q2e": Work(1, 100)})
    for _ in range(2):  # 2e reads 2d's runs again
        progress.stored(experiment="q2d", key="x", samples=100)
    assert (progress.runs_done, progress.samples_left) == (1, 200)
    progress.stored(experiment="q3", key="y", samples=100)  # not planned: --only left it out
    assert (progress.runs_done, progress.samples_left) == (1, 200)


def test_quiet_progress_writes_nothing():
    log = io.StringIO()
    progress = BuildProgress(log, quiet=True)
    progress.note("x")
    progress("label", 1, 1, {}, 1.0)
    assert log.getvalue() == ""


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_a_terminal_gets_one_live_line_and_the_notes_above_it():
    terminal = Terminal()
    progress = BuildProgress(terminal, clock=Clock())
    progress.plan({"q2c": Work(1, 100)})
    progress.start_section("q2c")
    progress.note("[q2c] running")
    progress.start("q2c notebook MLP", experiment="q2c", keys=["k"], samples_per_epoch=100)
    progress("q2c notebook MLP", 1, 1, {"loss": 0.5}, 1.0)
    progress.close()
    text = terminal.getvalue()
    assert "[q2c] running\n" in text
    assert text.count("q2c notebook MLP epoch 1/1") <= 1  # drawn live, not one line per epoch


def test_the_plan_counts_runs_and_samples_from_the_profile():
    work = planned_work(FULL, ["q2c", "q2d", "q2e", "q3", "q4a", "q4b"])
    assert work["q2c"] == Work(1, 10 * 55_000)
    assert work["q2d"] == Work(15, 15 * 40 * 55_000)
    # 3 runs for each of 4 variants, "longer" continuing 2d's runs for 60 epochs;
    # the retrain planned at the longest candidate on all 60,000 images
    assert work["q2e"] == Work(12 + 3, 3 * (40 + 40 + 60 + 40) * 55_000 + 3 * 100 * 60_000)
    assert work["q3"] == Work(3, 3 * 12 * 55_000)  # the CNN over three seeds
    assert set(planned_work(QUICK, ["q4c"])) == {"q4", "q4-noise-aware"}


def test_clock_text_reads_as_a_duration():
    assert [clock_text(s) for s in (5, 250, 3720)] == ["5s", "4m10s", "1h02m"]
