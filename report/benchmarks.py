"""The latest saved pytest-benchmark run, as a table for the report's appendix."""

from __future__ import annotations

import json
from pathlib import Path


def latest_run(folder: Path) -> dict | None:
    """The newest benchmark JSON under `folder` (pytest-benchmark's storage), summarised:
    per model, device and path (labnn's, plain `fit`, and for the stacked MLPs their
    matrix products alone) the samples/s, GFLOP/s, share of the matmul peak and the
    ratio to plain `fit`. None when no run with throughput figures is saved."""
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


# Label of each path in the appendix; "products" is only measured for stacked MLPs.
PATHS = {"labnn": "labnn", "fit": "fit", "products": "matrix products alone (ceiling)"}


def _rows(benchmarks: list[dict]) -> list[dict]:
    extra = [b["extra_info"] for b in benchmarks if "ratio_to_fit" in b.get("extra_info", {})]
    rows = []
    for e in sorted(extra, key=lambda e: (e["model"], e["device_kind"])):
        for path in (p for p in PATHS if p in e):
            label = f"labnn: {e['path']}" if path == "labnn" and "path" in e else PATHS[path]
            rows.append({
                "model": e["model"], "device": e["device"], "path": label,
                "backend": f"{e['backend']} {e['backend_version']}",
                "batch_size": e["batch_size"], **e[path],
                "peak_gflops": e["matmul_peak_gflops"],
                "ratio_to_fit": e[path]["samples_per_second"] / e["fit"]["samples_per_second"],
            })  # fmt: skip
    return rows
