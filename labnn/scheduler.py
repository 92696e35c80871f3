"""The --scheduler setting: where independent training runs execute.

Kept free of Keras and Dask imports, so profiles can check it cheaply.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from labnn.errors import ConfigError, LabnnError

SCHEDULER_HELP = (
    "none, local:N (N >= 1 workers on this machine) or a scheduler address tcp://host:port"
)


@dataclass(frozen=True)
class Scheduler:
    """A parsed --scheduler value."""

    kind: str  # "none", "local" or "address"
    workers: int = 0  # local:N
    address: str = ""  # tcp://host:port

    @property
    def threads_per_worker(self) -> int:
        """Local workers share the cores: workers x threads = cores, so none oversubscribes."""
        return max(1, (os.cpu_count() or 1) // max(1, self.workers))


def parse_scheduler(text: str) -> Scheduler:
    """'none' | 'local:N' | 'tcp://host:port' (also tls://, ucx://); a ConfigError otherwise."""
    text = text.strip()
    if text == "none":
        return Scheduler("none")
    if (match := re.fullmatch(r"local:(\d+)", text)) and int(match[1]) >= 1:
        return Scheduler("local", workers=int(match[1]))
    if re.fullmatch(r"(tcp|tls|ucx)://[^\s/:]+:\d+", text):
        return Scheduler("address", address=text)
    raise ConfigError(f"scheduler must be {SCHEDULER_HELP}; got {text!r}")


def require_dask(text: str):
    """Fail before any training when the scheduler needs Dask and it is not installed."""
    if parse_scheduler(text).kind == "none":
        return
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise LabnnError(
            f"--scheduler {text} needs Dask distributed, which is not installed: "
            "pip install -e '.[dask]' (or use --scheduler none)"
        ) from None
