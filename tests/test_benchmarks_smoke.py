"""Every benchmark runs once on a tiny slice, so the suite cannot rot unnoticed."""

import os
import subprocess
import sys

from tests.conftest import REPO


def test_benchmarks_run_in_smoke_mode(data_dir):
    env = {**os.environ, "LABNN_DATA_DIR": str(data_dir), "LABNN_BENCH_SAMPLES": "256",
           "TF_CPP_MIN_LOG_LEVEL": "3"}  # fmt: skip
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "benchmarks",
            "--benchmark-disable",
            "-q",
            "-p",
            "no:cacheprovider",
        ],  # fmt: skip
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "8 passed" in done.stdout  # 4 models x 2 paths on the CPU; GPU cases skip here
