"""The --scheduler setting: where independent training runs execute.

Kept free of Keras and Dask imports, so profiles can check it cheaply.
"""

from __future__ import annotations

import importlib.util
import os
import re
from dataclasses import dataclass, replace

from labnn.errors import ConfigError, LabnnError

SCHEDULER_HELP = (
    "none, local:N (N >= 1 workers on this machine) or a scheduler address tcp://host:port"
)


@dataclass(frozen=True)
class Scheduler:
    """A parsed --scheduler value."""

    kind: str  # "auto", "none", "local" or "address"
    workers: int = 0  # local:N
    address: str = ""  # tcp://host:port
    env: tuple[tuple[str, str], ...] = ()  # extra environment of local workers

    def with_env(self, **variables: str) -> Scheduler:
        return replace(self, env=tuple(variables.items()))

    @property
    def threads_per_worker(self) -> int:
        """Local workers share the cores: workers x threads = cores, so none oversubscribes."""
        return max(1, (os.cpu_count() or 1) // max(1, self.workers))


def parse_scheduler(text: str) -> Scheduler:
    """'auto' | 'none' | 'local:N' | 'tcp://host:port' (also tls://, ucx://); a
    ConfigError otherwise."""
    text = text.strip()
    if text in ("auto", "none"):
        return Scheduler(text)
    if (match := re.fullmatch(r"local:(\d+)", text)) and int(match[1]) >= 1:
        return Scheduler("local", workers=int(match[1]))
    if re.fullmatch(r"(tcp|tls|ucx)://[^\s/:]+:\d+", text):
        return Scheduler("address", address=text)
    raise ConfigError(f"scheduler must be {SCHEDULER_HELP}; got {text!r}")


# 'auto' starts a cluster only for at least this many training samples (epochs x
# images, summed over the missing runs): about 1.5 min of the Hinton MLP on 2 cores,
# against about 8 s to start 2 workers.
AUTO_MIN_SAMPLES = 2_000_000

# TensorFlow's oneDNN kernels, for the workers that train convolutional networks
# (`resolve` says why). TensorFlow reads the variable once, as it loads.
ONEDNN = {"TF_ENABLE_ONEDNN_OPTS": "1"}

# 'auto' gives convolutional networks a oneDNN worker from this many training
# samples: about 2.5 min of the CNN on 2 cores, against 10-15 s to start a worker
# and load TensorFlow and MNIST in it.
ONEDNN_MIN_SAMPLES = 200_000


def resolve(
    how: Scheduler, *, runs: int, samples: int, stacked: bool = False, onednn: bool = False
) -> Scheduler:
    """What 'auto' means for `runs` missing units of work (a run, or a stack of runs
    trained together) of `samples` training samples in all: one single-threaded Dask
    worker per core when Dask is installed, there are several cores and units, and
    enough training to repay the cluster's start; else none. Stacks (`stacked`)
    always train in this process.

    Measured on 2 cores (TensorFlow): two single-threaded workers train the full
    sweep of 2d, one run per task, 1.32x faster than one process using both cores
    (23.2 vs 30.7 min), since one MLP's small matrix products scale poorly across
    threads. Stacked, its products are wide enough for both cores: the sweep at 3
    epochs took 91.6 s in this process, 113.8 s on two workers (three stacks on
    two workers leave one core idle for a third of the time).

    `onednn`: the units are convolutional networks on TensorFlow, and this process
    runs without TensorFlow's oneDNN kernels. Local workers then load TensorFlow
    with them, and 'auto' starts one worker with every core for such units once they
    repay its start. Measured on 2 cores, separate processes: the CNN's epoch loop
    1.41-1.43x faster with oneDNN (1,210-1,463 -> 1,709-2,086 samples/s), its
    prediction about 2x. It stays off in the build's own process, where it makes
    `fit` of the MLPs about 2x slower (14k -> 7-11k samples/s).
    """
    if how.kind == "local" and onednn:
        return how.with_env(**ONEDNN)
    if how.kind != "auto":
        return how
    cores = os.cpu_count() or 1
    if onednn and samples >= ONEDNN_MIN_SAMPLES and importlib.util.find_spec("distributed"):
        return Scheduler("local", workers=1).with_env(**ONEDNN)
    worth_it = cores >= 2 and runs >= 2 and samples >= AUTO_MIN_SAMPLES and not stacked
    if not worth_it or importlib.util.find_spec("distributed") is None:
        return Scheduler("none")
    return Scheduler("local", workers=min(cores, runs))


def require_dask(text: str):
    """Fail before any training when the scheduler needs Dask and it is not installed."""
    if parse_scheduler(text).kind in ("auto", "none"):
        return
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise LabnnError(
            f"--scheduler {text} needs Dask distributed, which is not installed: "
            "pip install -e '.[dask]' (or use --scheduler none)"
        ) from None
