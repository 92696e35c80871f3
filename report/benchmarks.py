"""The latest saved pytest-benchmark run, as a table for the report's appendix."""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Benchmarks:
    """What the appendix shows: the latest readable run (or None), and, when saved
    files could not be read and no run could, which and why."""

    run: dict | None
    unreadable: str = ""


def read_benchmarks(folder: Path) -> Benchmarks:
    """The newest benchmark JSON under `folder` (pytest-benchmark's storage) that holds
    throughput figures, summarised by `latest_run`. A file that is not JSON or not in
    pytest-benchmark's shape (hand-edited, truncated, another tool's) is skipped with
    one warning: a broken benchmark file never costs the report."""
    runs = (
        sorted(folder.glob("**/*.json"), key=lambda p: p.stat().st_mtime) if folder.is_dir() else []
    )
    problems = []
    for path in reversed(runs):
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            summary = _summary(document, path)
        except (OSError, ValueError) as error:  # JSONDecodeError and UnicodeError are both
            problems.append(f"{path.name} ({' '.join(str(error).split())})")
            continue
        except _Malformed as error:
            problems.append(f"{path.name} ({error})")
            continue
        if summary is not None:
            _warn(folder, problems, "skipped")
            return Benchmarks(summary)
    _warn(folder, problems, "could not be read")
    return Benchmarks(None, "; ".join(problems))


def latest_run(folder: Path) -> dict | None:
    """The newest readable run with throughput figures: per model, device and path
    (labnn's, plain `fit`, and for the stacked MLPs their matrix products alone) the
    samples/s, GFLOP/s, share of the matmul peak and the ratio to plain `fit`. None when
    no such run is saved."""
    return read_benchmarks(folder).run


def _warn(folder: Path, problems: list[str], what: str):
    if problems:
        log.warning("benchmark files in %s %s: %s; run `tox -e bench` to save a new run",
                    folder, what, "; ".join(problems))  # fmt: skip


class _Malformed(Exception):
    """A benchmark JSON that is not in pytest-benchmark's shape."""


def _summary(document, path: Path) -> dict | None:
    if not isinstance(document, dict) or not isinstance(document.get("benchmarks", []), list):
        raise _Malformed("not a pytest-benchmark run: expected an object with a benchmarks list")
    rows = _rows(document.get("benchmarks", []))
    if not rows:
        return None
    info = document.get("machine_info")
    info = info if isinstance(info, dict) else {}
    cpu = info.get("cpu") if isinstance(info.get("cpu"), dict) else {}
    return {
        "when": str(document.get("datetime", "")),
        "file": path.name,
        "machine": str(cpu.get("brand_raw", info.get("processor", ""))),
        "rows": rows,
    }


# Label of each path in the appendix; "products" is only measured for stacked MLPs.
PATHS = {"labnn": "labnn", "fit": "fit", "products": "matrix products alone (ceiling)"}


def _rows(benchmarks: list) -> list[dict]:
    extra = [b["extra_info"] for b in benchmarks
             if isinstance(b, dict) and isinstance(b.get("extra_info"), dict)
             and "ratio_to_fit" in b["extra_info"]]  # fmt: skip
    try:
        rows = []
        for e in sorted(extra, key=lambda e: (str(e["model"]), str(e["device_kind"]))):
            for path in (p for p in PATHS if p in e):
                label = f"labnn: {e['path']}" if path == "labnn" and "path" in e else PATHS[path]
                rows.append({
                    "model": str(e["model"]), "device": str(e["device"]), "path": label,
                    "backend": f"{e['backend']} {e['backend_version']}",
                    "batch_size": _number(e["batch_size"]),
                    "samples_per_second": _number(e[path]["samples_per_second"]),
                    "gflops": _number(e[path]["gflops"]),
                    "fraction_of_peak": _number(e[path]["fraction_of_peak"]),
                    "peak_gflops": _number(e["matmul_peak_gflops"]),
                    "ratio_to_fit": _number(e[path]["samples_per_second"])
                    / _number(e["fit"]["samples_per_second"]),
                    # models trained together in a round (the sweep's stack); None in
                    # runs saved before the benchmarks recorded it
                    "runs": _count(e["runs"]) if "runs" in e else None,
                })  # fmt: skip
    except KeyError as error:
        raise _Malformed(f"a benchmark's extra_info has no {error}") from None
    except (TypeError, ZeroDivisionError) as error:
        raise _Malformed(f"a benchmark's extra_info is not as saved: {error}") from None
    return rows


def _number(value) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise TypeError(f"expected a finite number, got {value!r}")
    return value


def _count(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise TypeError(f"expected a count of runs, got {value!r}")
    return value
