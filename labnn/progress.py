"""Progress of a whole build, for a person planning around it.

On a terminal: one live line (rich) with the section, run i of n, the time elapsed and the
time left for the whole build, and the epoch of the run training now. In a log (not a
terminal): one line per finished run or stack of runs with the same figures. Nothing when
quiet. The time left is the build's planned training samples (`labnn.plan`) not trained
yet, at the rate measured so far: an estimate that counts an image of the CNN as one of an
MLP, so it runs short while the CNN trains.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

from labnn.plan import Work


@dataclass
class _Unit:
    experiment: str
    runs: int
    samples_per_epoch: int


class BuildProgress:
    """The build's progress on `stream` (stderr by default), and the `ProgressFn` that the
    trainers call after each epoch: (label, epoch done, epochs, logs, seconds)."""

    def __init__(self, stream: TextIO | None = None, *, quiet: bool = False,
                 clock: Callable[[], float] = time.monotonic):  # fmt: skip
        self.stream = stream if stream is not None else sys.stderr
        self.quiet = quiet
        self.clock = clock
        self.started = clock()
        self.planned: dict[str, Work] = {}
        self.runs_done = 0
        self.samples_left = 0  # planned samples neither trained nor found stored
        self.trained = 0  # samples trained in this build, planned or not
        self.section = ""
        self._first_epoch_started: float | None = None
        self._units: dict[str, _Unit] = {}
        self._seen: set[str] = set()  # store keys counted, so a run read twice counts once
        self._live = None
        if not quiet and hasattr(self.stream, "isatty") and self.stream.isatty():
            from rich.console import Console
            from rich.live import Live

            console = Console(file=self.stream, highlight=False)
            self._live = Live("", console=console, refresh_per_second=4, transient=True)
            self._live.start()

    def plan(self, work: dict[str, Work]):
        """What this build may train, per experiment (`labnn.plan.planned_work`)."""
        self.planned = dict(work)
        self.samples_left = sum(w.samples for w in work.values())

    @property
    def runs_total(self) -> int:
        return sum(w.runs for w in self.planned.values())

    def start_section(self, name: str):
        self.section = name
        self._draw("")

    def start(self, label: str, *, experiment: str, keys: list[str], samples_per_epoch: int):
        """Runs `keys` of `experiment` start training together, shown under `label`."""
        self._units[label] = _Unit(experiment, len(keys), samples_per_epoch)
        self._seen.update(keys)
        if self._first_epoch_started is None:
            self._first_epoch_started = self.clock()

    def stored(self, *, experiment: str, key: str, samples: int):
        """A run came from the store: its samples leave the plan, untrained."""
        if key in self._seen:
            return
        self._seen.add(key)
        if experiment in self.planned:
            self.samples_left -= samples
            self.runs_done += 1
        self._draw("")

    def __call__(self, label: str, epoch: int, epochs: int, logs: dict, elapsed: float):
        unit = self._units.get(label)
        if unit is not None:
            self.trained += unit.samples_per_epoch
            if unit.experiment in self.planned:
                self.samples_left -= unit.samples_per_epoch
                self.runs_done += unit.runs if epoch == epochs else 0
        metrics = " ".join(f"{name} {logs[name]:.4f}" for name in
                           ("loss", "val_loss", "val_accuracy") if name in logs)  # fmt: skip
        now = f"{label} epoch {epoch}/{epochs} {metrics}".rstrip()
        if self._live is None and epoch == epochs and not self.quiet:
            self._write(f"{self.status()} | {now}")
        self._draw(now)

    def note(self, text: str):
        """A line of its own (a section starts or ends, where runs train)."""
        if self._live is not None:
            self._live.console.print(text, markup=False)
        elif not self.quiet:
            self._write(text)

    def status(self) -> str:
        """'[q2d] run 7/33, 4m10s elapsed, about 18m00s left'."""
        parts = [f"[{self.section}]" if self.section else "build"]
        if self.runs_total:
            parts.append(f"run {min(self.runs_done, self.runs_total)}/{self.runs_total},")
        parts.append(f"{clock_text(self.clock() - self.started)} elapsed")
        left = self.seconds_left()
        if left is not None:
            parts[-1] += ","
            parts.append(f"about {clock_text(left)} left")
        return " ".join(parts)

    def seconds_left(self) -> float | None:
        """The planned samples left at this build's training rate so far; None before any."""
        if self._first_epoch_started is None or not self.trained:
            return None
        rate = self.trained / max(self.clock() - self._first_epoch_started, 1e-9)
        return max(self.samples_left, 0) / rate

    def close(self):
        if self._live is not None:
            self._live.stop()
            self._live = None

    def _draw(self, now: str):
        if self._live is not None:
            from rich.text import Text  # plain text: "[q2d]" is not markup

            line = f"{self.status()} | {now}" if now else self.status()
            self._live.update(Text(line, no_wrap=True, overflow="ellipsis"))

    def _write(self, line: str):
        self.stream.write(line + "\n")
        self.stream.flush()


def clock_text(seconds: float) -> str:
    """'45s', '4m10s', '1h02m'."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
