"""Jinja templates to one self-contained HTML file, and WeasyPrint to PDF."""

from __future__ import annotations

import logging
import os
import urllib.parse
import urllib.request
from pathlib import Path
from typing import NamedTuple

import jinja2
from markupsafe import Markup

from labnn.errors import LabnnError
from report.values import FILTERS

log = logging.getLogger(__name__)


def _templates_folder() -> Path:
    """Installed wheels carry the templates inside the package; a checkout (and an
    editable install) has them at the top of the repository."""
    inside = Path(__file__).resolve().parent / "templates"
    return inside if (inside / "report.html.j2").is_file() else inside.parent.parent / "templates"


TEMPLATES = _templates_folder()


class RenderError(LabnnError):
    """The report could not be rendered or written."""


def environment(templates: Path = TEMPLATES) -> jinja2.Environment:
    """Autoescaping, StrictUndefined: a missing value stops the build instead of
    rendering blank."""
    if not (templates / "report.html.j2").is_file():
        raise RenderError(
            f"report templates not found in {templates}; run from a checkout of labnn "
            "(the templates/ folder sits beside report/)"
        )
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(FILTERS)
    return env


def render_html(context: dict, templates: Path = TEMPLATES) -> str:
    """The whole report as one HTML document, stylesheet inlined."""
    env = environment(templates)
    css = Markup((templates / "report.css").read_text(encoding="utf-8"))
    numbering = context["numbering"]
    try:
        return env.get_template("report.html.j2").render(
            **context, css=css, ref=numbering.ref, label=numbering.label
        )
    except jinja2.UndefinedError as error:
        raise RenderError(f"template needs a value the results do not have: {error}") from None


def build_only_fetcher(root: Path):
    """A WeasyPrint URL fetcher that serves data: URLs and files inside the build
    folder, and refuses (and logs) anything else: file://, http://, ..."""
    from weasyprint.urls import URLFetcher  # imported here: WeasyPrint loads Pango

    class BuildOnlyFetcher(URLFetcher):
        def fetch(self, url, headers=None):
            if url.startswith("data:") or _inside(url, root):
                return super().fetch(url, headers)
            log.warning("refused to fetch %s: the report only uses its own files", url)
            raise ValueError(f"refused to fetch {url}")

    return BuildOnlyFetcher()


def _inside(url: str, root: Path) -> bool:
    """Whether `url` is a file:// URL of a file inside `root`, judged on the path that
    urllib opens: percent-decoded (%2e%2e is ..), then resolved (.., symlinks)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
        return False
    path = Path(urllib.request.url2pathname(parts.path)).resolve()
    return path.is_relative_to(root.resolve())


PDF_VARIANT = "pdf/ua-1"  # as WeasyPrint spells it (weasyprint/pdf/pdfua.py)


class Attachment(NamedTuple):
    """A file embedded in the PDF (a reader lists it under the document's attachments)."""

    name: str
    text: str
    description: str


def write_pdf(html: str, target: Path, *, attachments: list[Attachment] = ()) -> Path:
    """Render `html` to PDF at `target` (A4, fonts embedded, bookmarks from headings,
    tagged for accessibility), with `attachments` embedded as files."""
    import weasyprint

    root = target.parent
    fetcher = build_only_fetcher(root)
    try:
        document = weasyprint.HTML(string=html, base_url=str(root) + os.sep, url_fetcher=fetcher)
        embedded = [weasyprint.Attachment(string=a.text, name=a.name, description=a.description,
                                          url_fetcher=fetcher) for a in attachments]  # fmt: skip
        # PDF/UA: a tagged PDF (headings, paragraphs, tables, figures with their alternative
        # text) that screen readers and `pdfinfo` ("Tagged: yes") recognise.
        document.write_pdf(target, attachments=embedded, pdf_variant=PDF_VARIANT)
    except OSError as error:
        raise RenderError(f"cannot write {target}: {error}") from None
    return target
