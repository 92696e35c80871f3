"""What each Dask worker does once, before its first run (kept free of Keras
imports, so that the worker imports Keras only here, quietly)."""

from __future__ import annotations

import ctypes
import logging
import os

from distributed import WorkerPlugin

from labnn.quiet import native_stderr_muted

log = logging.getLogger(__name__)


# glibc's mallopt parameters (malloc.h) and the values we give them.
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
TRIM_THRESHOLD = MMAP_THRESHOLD = 64 << 20


def keep_freed_memory() -> bool:
    """Let glibc reuse freed blocks instead of returning them to the system at once.

    Dask starts workers with MALLOC_TRIM_THRESHOLD_=65536 to fight fragmentation.
    Setting it also pins glibc's mmap threshold at 128 KiB, so every batch,
    activation and gradient tensor of a training step is mapped and unmapped
    anew: measured on the Hinton MLP, 137,000 page faults per second, half the
    CPU time in the kernel and a run 3x slower. Returns False off glibc.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )


class WorkerSetup(WorkerPlugin):
    """Load the backend quietly, give it exactly the worker's threads (no
    oversubscription), and quiet TensorFlow's retracing warnings as the CLI does."""

    name = "labnn-worker-setup"

    def setup(self, worker):
        keep_freed_memory()
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        with native_stderr_muted():
            from labnn.training import set_thread_pools
        logging.getLogger("tensorflow").setLevel(logging.ERROR)
        if not set_thread_pools(worker.state.nthreads):
            log.warning("worker %s: the backend's thread pools were already fixed; "
                        "they may not match its %d thread(s)", worker.address,
                        worker.state.nthreads)  # fmt: skip
