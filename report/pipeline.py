"""Run (or fetch from the store) what each report section needs."""

from __future__ import annotations

import time
from dataclasses import dataclass

from labnn.data import Mnist
from labnn.experiments import q1, q2a, q2b, q2c, q2d, q2e, q3, q4a, q4b, q4c, q4d
from labnn.plan import planned_work
from labnn.profiles import Profile
from labnn.progress import BuildProgress
from labnn.store import MissingRun, Store
from report.values import agree

# The report's sections, in the assignment's order.
SECTIONS = {
    "q1": q1, "q2a": q2a, "q2b": q2b, "q2c": q2c, "q2d": q2d, "q2e": q2e,
    "q3": q3, "q4a": q4a, "q4b": q4b, "q4c": q4c, "q4d": q4d,
}  # fmt: skip


@dataclass
class SectionResult:
    name: str
    status: str  # "done" or "not run"
    result: dict | None
    seconds: float
    reason: str = ""


def parse_only(text: str | None) -> list[str]:
    """'q2d,q3' -> ['q2d', 'q3']; a ValueError names an unknown section."""
    if not text:
        return list(SECTIONS)
    names = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [name for name in names if name not in SECTIONS]
    if unknown:
        raise ValueError(
            f"--only: unknown section(s) {', '.join(unknown)}; valid: {', '.join(SECTIONS)}"
        )
    return names


def run_sections(
    profile: Profile, data: Mnist, store: Store, *, only: list[str], progress: BuildProgress,
    scheduler: str = "auto",
) -> dict[str, SectionResult]:  # fmt: skip
    """Every section's result: run (training what is missing, where `scheduler` says)
    for those in `only`, read from the store for the others, which are 'not run' when
    missing there."""
    offline = Store(store.root, offline=True)
    progress.plan(planned_work(profile, only))
    results = {}
    for name, module in SECTIONS.items():
        selected = name in only
        if selected:
            progress.start_section(name)
            progress.note(f"[{name}] running")
        started = time.perf_counter()
        try:
            result = module.run(profile, data, store if selected else offline, progress=progress,
                                scheduler=scheduler)  # fmt: skip
        except MissingRun as missing:
            n = len(missing.specs)
            reason = f"{n} {agree(n, 'run')} not in the store; build it with --only {name}"
            results[name] = SectionResult(name, "not run", None, 0.0, reason)
            continue
        seconds = time.perf_counter() - started
        results[name] = SectionResult(name, "done", result, seconds)
        if selected:
            progress.note(f"[{name}] done in {seconds:.1f} s")
    return results


def explain(
    profile: Profile, data: Mnist, store: Store, *, scheduler: str = "auto"
) -> dict[str, list[str]]:
    """Per section: what is stored, or why each missing run would run (where `scheduler`
    would train it: the keys of some runs name the place)."""
    offline = Store(store.root, offline=True)
    report = {}
    for name, module in SECTIONS.items():
        try:
            module.run(profile, data, offline, progress=BuildProgress(quiet=True),
                       scheduler=scheduler)  # fmt: skip
            report[name] = ["stored"]
        except MissingRun as missing:
            reasons = [offline.explain(spec) for spec in missing.specs]
            counts = {reason: reasons.count(reason) for reason in dict.fromkeys(reasons)}
            report[name] = [
                f"{n} {agree(n, 'run')} would run: {reason}" for reason, n in counts.items()
            ]
    return report
