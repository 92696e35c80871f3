"""The quick build's report.html in a real browser: headless Chromium (Debian's `chromium`),
driven by Playwright. It must load cleanly, draw every figure and equation, resolve every
internal link, and fetch nothing but itself."""

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from report.cli import main

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
playwright = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium: apt-get install chromium")

# As root (CI, containers) Chromium refuses to start without --no-sandbox; the other flags
# keep it from calling home, which a closed network answers with refused connections.
FLAGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]  # fmt: skip


@dataclass
class Loaded:
    tab: object  # playwright's Page
    shot: Path
    errors: list = field(default_factory=list)  # console errors and uncaught exceptions
    outside: list = field(default_factory=list)  # requests for anything but the report

    def evaluate(self, script: str, *args):
        return self.tab.evaluate(script, *args)


@pytest.fixture(scope="module")
def page(tmp_path_factory, quick_store, data_dir):
    """The loaded page, with what the browser logged and every request it tried."""
    out = tmp_path_factory.mktemp("browser")
    args = ["build", "--profile", "quick", "--data-dir", str(data_dir), "--store",
            str(quick_store.root), "--out", str(out), "--no-pdf", "-q"]  # fmt: skip
    assert main(args) == 0
    url = (out / "report.html").as_uri()
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        loaded = Loaded(browser.new_page(viewport={"width": 1280, "height": 900}),
                        REPO / "build" / "report-first-screen.png")  # fmt: skip
        tab = loaded.tab
        tab.on("console", lambda m: m.type == "error" and loaded.errors.append(m.text))
        tab.on("pageerror", lambda e: loaded.errors.append(str(e)))
        tab.route("**/*", lambda route: _only_itself(route, url, loaded.outside))
        tab.goto(url, wait_until="load")
        loaded.shot.parent.mkdir(exist_ok=True)
        tab.screenshot(path=loaded.shot)
        yield loaded
        browser.close()


def _only_itself(route, url: str, outside: list):
    """Serve the report itself and data: URLs; refuse and record anything else."""
    if route.request.url in (url, url + "#") or route.request.url.startswith("data:"):
        route.continue_()
    else:
        outside.append(route.request.url)
        route.abort()


def test_report_loads_without_console_errors_or_outside_requests(page):
    assert page.tab.title()
    assert page.errors == []
    assert page.outside == []


def test_every_figure_and_equation_is_drawn(page):
    sizes = page.evaluate(
        """() => [...document.querySelectorAll('figure, .equation')].map(e => {
               const r = e.getBoundingClientRect();
               const drawn = e.matches('figure') ? e.querySelector('svg, img') : e;
               const d = drawn ? drawn.getBoundingClientRect() : {width: 0, height: 0};
               return [e.id || e.className, Math.min(r.width, r.height, d.width, d.height)];
           })"""
    )
    assert len([s for s in sizes if s[0].startswith("fig-")]) >= 8
    assert len([s for s in sizes if s[0].startswith("eq-")]) >= 2
    assert [name for name, size in sizes if not size > 0] == []


def test_every_internal_link_reaches_an_element(page):
    links = page.evaluate(
        """() => [...document.querySelectorAll('a[href^="#"]')].map(a => a.getAttribute('href'))"""
    )
    assert len(links) > 20  # the contents, and references to figures, tables and equations
    broken = page.evaluate(
        "links => links.filter(h => !document.getElementById(decodeURIComponent(h.slice(1))))",
        links,
    )
    assert broken == []


def test_first_screen_is_saved_as_a_screenshot(page):
    assert page.shot.read_bytes().startswith(b"\x89PNG")
    assert page.shot.stat().st_size > 10_000  # a drawn page, not a blank one
