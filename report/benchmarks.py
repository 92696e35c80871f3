"""The latest saved pytest-benchmark run, as a table for the report's appendix."""

from __future__ import annotations

import json
from pathlib import Path


def latest_run(folder: Path) -> dict | None:
    """The newest benchmark JSON under `folder` (pytest-benchmark's storage), summarised:
    per model, device and path the samples/s, GFLOP/s, share of the matmul peak and
    the ratio to plain `fit`. None when no run with throughput figures is saved."""
    runs = (
        sorted(folder.glob("**/*.json"), key=lambda p: p.stat().st_mtime) if folder.is_dir() else []
    )
    for path in reversed(runs):
        try:
            document = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        rows = _rows(document.get("benchmarks", []))
        if rows:
            info = document.get("machine_info", {})
            return {
                "when": document.get("datetime", ""),
                "file": path.name,
                "machine": f"{info.get('cpu', {}).get('brand_raw', info.get('processor', ''))}",
                "rows": rows,
            }
    return None


def _rows(benchmarks: list[dict]) -> list[dict]:
    extra = [b["extra_info"] for b in benchmarks if "samples_per_second" in b.get("extra_info", {})]
    fit = {(e["model"], e["device_kind"]): e["samples_per_second"] for e in extra
           if e["path"] == "fit"}  # fmt: skip
    rows = []
    for e in sorted(extra, key=lambda e: (e["model"], e["device_kind"], e["path"] != "labnn")):
        baseline = fit.get((e["model"], e["device_kind"]))
        rows.append({
            "model": e["model"], "path": e["path"], "device": e["device"],
            "backend": f"{e['backend']} {e['backend_version']}", "batch_size": e["batch_size"],
            "samples_per_second": e["samples_per_second"], "gflops": e["gflops"],
            "fraction_of_peak": e["fraction_of_peak"], "peak_gflops": e["matmul_peak_gflops"],
            "ratio_to_fit": e["samples_per_second"] / baseline if baseline else None,
        })  # fmt: skip
    return rows
