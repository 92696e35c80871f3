"""The build: sections -> context -> HTML -> PDF."""

from __future__ import annotations

from pathlib import Path

from labnn.data import Mnist
from labnn.profiles import Profile
from labnn.progress import BuildProgress
from labnn.store import Store
from report.benchmarks import read_benchmarks
from report.config import ReportConfig
from report.context import build_context
from report.pipeline import run_sections
from report.render import RenderError, render_html, write_pdf


def build(
    *,
    profile: Profile,
    data: Mnist,
    store: Store,
    config: ReportConfig,
    only: list[str],
    out: Path,
    pdf: bool = True,
    progress: BuildProgress,
    benchmarks: Path = Path(".benchmarks"),
    scheduler: str = "auto",
) -> list[Path]:
    """Run what is missing (where `scheduler` says), render, and return the paths written."""
    sections = run_sections(profile, data, store, only=only, progress=progress,
                            scheduler=scheduler)  # fmt: skip
    saved = read_benchmarks(benchmarks)
    context = build_context(sections=sections, profile=profile, config=config,
                            fingerprint=data.fingerprint, data_source=data.source,
                            benchmarks=saved.run,
                            benchmarks_unreadable=saved.unreadable)  # fmt: skip
    html = render_html(context)
    try:
        out.mkdir(parents=True, exist_ok=True)
        html_path = out / "report.html"
        html_path.write_text(html, encoding="utf-8")
    except OSError as error:
        raise RenderError(f"cannot write to {out}: {error}; choose another --out") from None
    written = [html_path]
    if pdf:
        progress.note("rendering the PDF")
        written.append(write_pdf(html, out / "report.pdf"))
    return written
