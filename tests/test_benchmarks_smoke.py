"""Every benchmark runs on a tiny slice, so the suite cannot rot unnoticed, and its
saved JSON is what the report's appendix reads."""

import os
import subprocess
import sys

from labnn.compiled import onednn_for_workers
from report.benchmarks import latest_run
from tests.conftest import REPO


def test_benchmarks_run_and_save_what_the_appendix_reads(data_dir, tmp_path):
    env = {**os.environ, "LABNN_DATA_DIR": str(data_dir), "LABNN_BENCH_SAMPLES": "256",
           "TF_CPP_MIN_LOG_LEVEL": "3"}  # fmt: skip
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "benchmarks",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--benchmark-json={tmp_path / 'run.json'}",
        ],  # fmt: skip
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "5 passed" in done.stdout  # 5 models on the CPU (both paths in each); GPU skips

    run = latest_run(tmp_path)
    # on TensorFlow, each model on the fast path the report trains it on
    cnn = "compiled loop (graph)" + (", oneDNN worker" if onednn_for_workers() else "")
    paths = {"autoencoder": "compiled loop (XLA)", "cnn": cnn,
             "hinton_mlp": "stacked (XLA)", "hinton_sweep": "stacked (XLA)",
             "notebook_mlp": "stacked (XLA)"}  # fmt: skip
    assert [(row["model"], row["path"]) for row in run["rows"]] == [
        (model, path) for model in paths for path in (f"labnn: {paths[model]}", "fit")
    ]
    for row in run["rows"]:
        assert row["samples_per_second"] > 0 and 0 < row["fraction_of_peak"] < 1.5
        assert row["ratio_to_fit"] > 0
