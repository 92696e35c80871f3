"""The build: sections -> context -> HTML -> PDF."""

from __future__ import annotations

import json
from pathlib import Path

from labnn.data import Mnist
from labnn.profiles import Profile
from labnn.progress import BuildProgress
from labnn.store import Store
from report.benchmarks import read_benchmarks
from report.config import ReportConfig
from report.context import build_context, provenance_record
from report.pipeline import run_sections
from report.render import Attachment, RenderError, render_html, write_pdf

PROVENANCE = "provenance.json"
PROVENANCE_DESCRIPTION = (
    "Every stored run behind the report (key, seed, wall time), the data's fingerprint, "
    "software versions, machine, profile settings and the latest training benchmark"
)


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
    measured = saved.run
    context = build_context(sections=sections, profile=profile, config=config,
                            fingerprint=data.fingerprint, benchmarks=measured,
                            benchmarks_unreadable=saved.unreadable)  # fmt: skip
    html = render_html(context)
    # The evidence a grader may check but need not read: beside the report, and inside
    # the PDF as an attachment, so the file handed in carries it.
    record = json.dumps(provenance_record(sections=sections, profile=profile,
                                          fingerprint=data.fingerprint, env=context["env"],
                                          benchmarks=measured), indent=1)  # fmt: skip
    try:
        out.mkdir(parents=True, exist_ok=True)
        html_path = out / "report.html"
        html_path.write_text(html, encoding="utf-8")
        record_path = out / PROVENANCE
        record_path.write_text(record, encoding="utf-8")
    except OSError as error:
        raise RenderError(f"cannot write to {out}: {error}; choose another --out") from None
    written = [html_path, record_path]
    if pdf:
        progress.note("rendering the PDF")
        attachment = Attachment(PROVENANCE, record, PROVENANCE_DESCRIPTION)
        written.append(write_pdf(html, out / "report.pdf", attachments=[attachment]))
    return written
