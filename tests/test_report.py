"""`python -m report`: the quick profile end to end, and the CLI's contract."""

import contextlib
import io
import json
import re
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import pytest
from pypdf import PdfReader

from labnn.answers import BINARY_CROSS_ENTROPY_LATEX, CROSS_ENTROPY_LATEX
from labnn.figures import sci_text
from labnn.profiles import QUICK
from report.cli import main
from report.render import write_pdf
from report.values import Num, article, plural, sci, spread, times
from tests.conftest import REPO

SECTION_TITLES = ["Question 1", "2a.", "2b.", "2c.", "2d.", "2e.", "Question 3", "4a.", "4b.",
                  "4c.", "4d.", "Appendix"]  # fmt: skip


@pytest.fixture(scope="module")
def built(tmp_path_factory, quick_store, data_dir):
    out = tmp_path_factory.mktemp("out")
    config = out / "report.toml"
    config.write_text(
        'title = "MNIST assignment"\ncourse = "Deep Learning"\n'
        '[[authors]]\nname = "<b>Ada</b> & Co"\naffiliation = "Lab"\nemail = "ada@example.org"\n'
        "hours = 12\n[observations]\nhard_to_identify_by_eye = 0.6\n"
    )
    args = ["build", "--profile", "quick", "--data-dir", str(data_dir), "--store",
            str(quick_store.root), "--out", str(out), "--config", str(config), "-q"]  # fmt: skip
    return out, args


@pytest.fixture(scope="module")
def first_build(built):
    out, args = built
    return main(args), out


def test_quick_build_writes_html_and_pdf(first_build):
    code, out = first_build
    assert code == 0
    assert (out / "report.html").stat().st_size > 0
    assert (out / "report.pdf").read_bytes().startswith(b"%PDF")


def test_pdf_has_section_bookmarks_and_the_computed_parameter_counts(first_build):
    _, out = first_build
    reader = PdfReader(out / "report.pdf")
    titles = []

    def walk(items):
        for item in items:
            if isinstance(item, list):
                walk(item)
            else:
                titles.append(item.title)

    walk(reader.outline)
    for title in SECTION_TITLES:
        assert any(t.startswith(title) for t in titles), f"no bookmark for {title}: {titles}"
    text = "".join(page.extract_text() for page in reader.pages)
    assert "55,050" in text and "226,416" in text


def test_author_name_holding_html_is_shown_as_text(first_build):
    _, out = first_build
    html = (out / "report.html").read_text()
    assert "&lt;b&gt;Ada&lt;/b&gt; &amp; Co" in html
    assert "<b>Ada</b>" not in html


def _pdf_text(path) -> list[str]:
    return [page.extract_text() for page in PdfReader(path).pages]


def _bookmark_pages(path) -> dict[str, int]:
    """Each bookmark's title and the (0-based) page it points to."""
    reader = PdfReader(path)
    pages = {}

    def walk(items):
        for item in items:
            if isinstance(item, list):
                walk(item)
            else:
                pages[item.title] = reader.get_destination_page_number(item)

    walk(reader.outline)
    return pages


def test_report_holds_no_path_of_the_build_machine(first_build, data_dir, quick_store):
    _, out = first_build
    attached = PdfReader(out / "report.pdf").attachments["provenance.json"][0].decode()
    documents = {"report.html": (out / "report.html").read_text(),
                 "report.pdf": "\n".join(_pdf_text(out / "report.pdf")),
                 "provenance.json": (out / "provenance.json").read_text(),
                 "provenance.json attached": attached}  # fmt: skip
    machine = [data_dir.resolve(), quick_store.root.resolve(), out.resolve(), REPO, Path.home()]
    for name, document in documents.items():
        for path in machine:
            assert str(path) not in document, f"{name} shows the build machine's {path}"


def test_pdf_appendix_is_one_page_at_the_end(first_build):
    _, out = first_build
    pages = _bookmark_pages(out / "report.pdf")
    appendix = next(page for title, page in pages.items() if title.startswith("Appendix"))
    assert appendix == len(PdfReader(out / "report.pdf").pages) - 1


def test_pdf_carries_the_provenance_json_written_beside_it(first_build):
    _, out = first_build
    attached = PdfReader(out / "report.pdf").attachments["provenance.json"][0]
    record = json.loads(attached)
    assert record == json.loads((out / "provenance.json").read_text())
    assert record["profile"] == "quick" and record["differs_from_assignment"]
    assert record["runs"] and all(
        run["key"] and run["data_fingerprint"] == record["data"]["fingerprint"]
        for run in record["runs"]
    )
    assert record["environment"]["keras"].startswith("3.")


def test_html_keeps_every_stored_run_the_pdf_leaves_out(first_build):
    _, out = first_build
    html = (out / "report.html").read_text()
    pdf = "".join(_pdf_text(out / "report.pdf"))
    keys = [run["key"] for run in json.loads((out / "provenance.json").read_text())["runs"]]
    assert all(key in html for key in keys)
    assert not any(key in pdf for key in keys)


@pytest.fixture(scope="module")
def draft_build(first_build, data_dir, quick_store, tmp_path_factory):
    """A build with no report.toml (the first build trained what it needs): its exit
    code, its stderr and its output folder."""
    folder = tmp_path_factory.mktemp("draft")
    err = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stderr(err):
        patch.chdir(folder)  # no ./report.toml here
        code = main(["build", "--profile", "quick", "--data-dir", str(data_dir), "--store",
                     str(quick_store.root), "--out", str(folder / "out"), "-q"])  # fmt: skip
    return code, err.getvalue(), folder / "out"


def test_build_without_authors_warns_and_marks_every_pdf_page_draft(draft_build):
    code, err, out = draft_build
    assert code == 0
    assert "warning: no report.toml" in err
    pages = _pdf_text(out / "report.pdf")
    assert all("DRAFT" in page for page in pages), [
        i for i, p in enumerate(pages) if "DRAFT" not in p
    ]
    assert 'class="draft-banner' in (out / "report.html").read_text()


def test_4b_states_the_eye_observation_beside_the_measured_threshold(first_build):
    _, out = first_build
    html = _sections((out / "report.html").read_text())["q4b"]
    assert _shown(html, "q4b/eye/eye") == "0.6"  # as the grid's rows write the level
    assert _shown(html, "q4b/eye/measured") == _shown(html, "q4b/hard/crossing/interpolated")
    assert _shown(html, "q4b/eye/grid_named").isdigit()  # the grid's row at the eye's level
    assert "By eye." in html and 'class="fill-in"' not in html


def test_without_an_eye_observation_4b_asks_for_it_and_the_build_warns_once(draft_build):
    _, err, out = draft_build
    html = _sections((out / "report.html").read_text())["q4b"]
    assert 'class="fill-in"' in html and "hard_to_identify_by_eye" in html
    assert 'data-src="q4b/eye' not in html  # no level stands in for the student's
    assert err.count("hard_to_identify_by_eye") == 1


def test_build_with_authors_has_no_draft_mark_nor_warning(first_build, built, capsys):
    _, out = first_build
    assert not any("DRAFT" in page for page in _pdf_text(out / "report.pdf"))
    assert 'class="draft-banner' not in (out / "report.html").read_text()
    _, args = built
    capsys.readouterr()
    assert main([a for a in args if a != "-q"] + ["--no-pdf", "--out", str(out / "again")]) == 0
    assert "warning" not in capsys.readouterr().err


def _structure(node):
    """Every element of a PDF's structure tree, depth first."""
    node = node.get_object()
    yield node
    kids = node.get("/K")
    for kid in kids if isinstance(kids, list) else [kids]:
        if hasattr(kid, "get_object") and hasattr(kid.get_object(), "get"):
            yield from _structure(kid)


def test_pdf_is_tagged_with_alt_text_for_every_figure_and_equation(first_build):
    _, out = first_build
    root = PdfReader(out / "report.pdf").trailer["/Root"]
    # What pdfinfo reports as "Tagged: yes": marked content and a structure tree.
    assert bool(root["/MarkInfo"]["/Marked"]) and "/StructTreeRoot" in root
    figures = [e for e in _structure(root["/StructTreeRoot"]) if e.get("/S") == "/Figure"]
    alts = [str(e.get("/Alt", "")) for e in figures]
    svgs = (out / "report.html").read_text().count("<svg")
    assert len(alts) == svgs and all(len(alt) > 20 for alt in alts), alts
    assert CROSS_ENTROPY_LATEX in alts and BINARY_CROSS_ENTROPY_LATEX in alts


@pytest.mark.parametrize("value, text", [(0.000178, "1.78\u202f×\u202f10⁻⁴"), (1e-6, "10⁻⁶"),
                                         (3.16227e-5, "3.16\u202f×\u202f10⁻⁵")])  # fmt: skip
def test_figures_and_prose_write_scientific_numbers_by_one_rule(value, text):
    assert sci_text(value) == text
    prose = re.sub(r"<[^>]+>", "", str(sci(Num(value, "x"))))
    assert prose.replace("⁻", "-") == text.translate(str.maketrans("⁻⁰¹²³⁴⁵⁶⁷⁸⁹", "-0123456789"))


def _sections(html: str) -> dict[str, str]:
    """The HTML of each question section, from its heading to the next heading."""
    parts = re.split(r'<h[12] id="([\w-]+)"', html[html.index("<body") :])
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def _sentences(html: str) -> list[str]:
    """The HTML of every paragraph and list item: where sentences are."""
    return re.findall(r"<(?:p|li)\b[^>]*>(.*?)</(?:p|li)>", html, flags=re.S)


def test_each_section_states_only_its_own_results(first_build):
    _, out = first_build
    # Question 3 says how many pixels a dense layer sees, a fact of 2a's data.
    allowed = {"q2a/input_size"}
    for section, html in _sections((out / "report.html").read_text()).items():
        if not re.fullmatch(r"q\d\w?", section):
            continue
        sources = set(re.findall(r'data-src="([^"]+)"', html)) - allowed
        foreign = {s for s in sources if s.split("/")[0] not in (section, "answers")}
        assert not foreign, f"{section} repeats results of other sections: {sorted(foreign)}"


def test_2d_holds_hinton_against_one_test_spread_and_2e_revisits_each_hypothesis(first_build):
    _, out = first_build
    sections = _sections((out / "report.html").read_text())
    chance = next(s for s in _sentences(sections["q2d"]) if "<em>Chance.</em>" in s)
    # the spread of the Chance bullet is the prediction interval's, a test-set one
    assert 'data-src="q2d/single_run/std"' in chance
    assert "mean_replicate_std" not in chance
    assert "does not stop the network short" not in _words(sections["q2d"])
    q2e_html = sections["q2e"]
    assert "<th>training</th>" not in q2e_html and "gives no training times" in _words(q2e_html)
    revisited = [s for s in _sentences(q2e_html) if 'data-src="q2e/revisited/variants' in s]
    assert len(revisited) == len(QUICK.variants)


def test_no_sentence_pastes_a_table_cell(first_build):
    _, out = first_build
    for sentence in _sentences((out / "report.html").read_text()):
        for pasted in re.findall(r'<span class="v t">(.*?)</span>', sentence):
            assert len(pasted.split()) <= 2, f"a table cell pasted into prose: {pasted!r}"


def test_pdf_prose_has_no_build_words(first_build):
    _, out = first_build
    text = " ".join(_pdf_text(out / "report.pdf"))
    for word in ["Dask", "data-src", "store key", "tox -e", "single-threaded", "Run `"]:
        assert word not in text, f"the PDF talks about the build: {word!r}"


def test_percentage_points_are_defined_once_at_first_use(first_build):
    _, out = first_build
    text = re.sub(r"\s+", " ", " ".join(_pdf_text(out / "report.pdf")))
    first_use = re.search(r"\d\s?pp\b", text).start()
    assert text.count("percentage points") == 1
    assert first_use < text.index("percentage points") < first_use + 80


def test_differences_in_sentences_are_unsigned_with_a_direction_word(first_build):
    _, out = first_build
    for sentence in _sentences((out / "report.html").read_text()):
        assert not re.search(r">[+\u2212-]\d[\d.]*\u202fpp<", sentence), sentence


def _shown(html: str, source: str) -> str:
    return re.search(rf'data-src="{re.escape(source)}">([^<]+)<', html).group(1)


def test_training_rate_in_2c_reconciles_with_the_time_beside_it(first_build):
    _, out = first_build
    html = (out / "report.html").read_text()
    images = int(_shown(html, "q2c/train_size").replace(",", ""))
    rate = int(_shown(html, "q2c/samples_per_second").replace(",", ""))
    value, unit = _shown(html, "q2c/derived/later_epoch_s").split("\u202f")
    epoch = float(value) / (1000 if unit == "ms" else 1)
    assert images / epoch == pytest.approx(rate, rel=0.06)  # the printed epoch time is rounded


def test_2a_counts_the_layers_with_weights_from_the_model(first_build):
    _, out = first_build
    html = (out / "report.html").read_text()
    assert _shown(html, "q2a/derived/weight_layers") == "3"
    assert _shown(html, "q2a/derived/hidden_layers") == "2"


def test_every_contents_entry_reads_as_the_heading_it_links_to(first_build):
    _, out = first_build
    html = (out / "report.html").read_text()
    toc = html[html.index('<nav class="toc">') : html.index("</nav>")]
    entries = re.findall(r'<a href="#([\w-]+)"><span class="n">([^<]+)</span>', toc)
    assert entries
    for target, title in entries:
        heading = re.search(rf'<h[12] id="{target}">(.*?)</h[12]>', html, flags=re.S).group(1)
        assert unescape(re.sub(r"<[^>]+>", "", heading)) == unescape(title)


def test_3_describes_every_layer_after_the_last_pooling_and_totals_the_table(first_build):
    _, out = first_build
    html = _sections((out / "report.html").read_text())["q3"]
    text = html[: html.index("<table")]
    table = re.search(r'id="tab-q3-layers".*?</table>', html, flags=re.S).group(0)
    assert text.count("dropout (rate") == table.count(">Dropout<")
    assert "<strong>total</strong>" in table and 'data-src="q3/params"' in table


def test_4b_and_4c_measure_every_reader_against_one_absolute_bar(first_build):
    _, out = first_build
    sections = _sections((out / "report.html").read_text())
    bar = _shown(sections["q4b"], "q4b/hard/bar")
    assert _shown(sections["q4b"], "q4b/readable/bar") == bar
    assert _shown(sections["q4c"], "q4c/bar") == bar  # Figure 10's caption
    if 'data-src="q4c/holds/bar"' in sections["q4c"]:  # absent where the CNN starts below it
        assert _shown(sections["q4c"], "q4c/holds/bar") == bar
    assert "of its accuracy on clean digits" not in sections["q4b"]
    assert "of its clean accuracy" not in sections["q4c"]


def test_4b_calls_its_second_threshold_what_it_measures(first_build):
    _, out = first_build
    sections = _sections((out / "report.html").read_text())
    assert "no longer shows which digit went in" not in sections["q4b"]
    assert "Denoising stops working</strong>" not in sections["q4b"]
    assert "denoised digits below the bar" in sections["q4b"]  # Table 8's column
    assert "denoised digits below the bar" in sections["q4c"]  # Figure 10's legend
    assert "chance (10" in sections["q4c"]  # the faint line is labelled


def test_tables_leave_no_cell_empty_and_4b_does_not_repeat_4c(first_build):
    _, out = first_build
    sections = _sections((out / "report.html").read_text())
    facts = re.search(r'id="tab-q1-facts".*?</table>', sections["q1"], flags=re.S).group(0)
    assert not re.search(r"<td[^>]*>\s*</td>", facts)
    assert "q4b/denoising/gains" not in sections["q4b"]


class _Prose(HTMLParser):
    """Text outside traced values (.v), numbering (.n), math, code and SVG."""

    SKIP = {"svg", "style", "code", "title"}

    def __init__(self):
        super().__init__()
        self.stack, self.text = [], []

    def handle_starttag(self, tag, attrs):
        classes = (dict(attrs).get("class") or "").split()
        skip = tag in self.SKIP or {"v", "n", "math"} & set(classes)
        self.stack.append(skip or (self.stack[-1] if self.stack else False))

    def handle_endtag(self, tag):
        if self.stack:
            self.stack.pop()

    def handle_data(self, data):
        if not (self.stack and self.stack[-1]):
            self.text.append(data)


VOID = re.compile(r"<(meta|br|img|hr|input|link)\b[^>]*>")


def test_prose_holds_no_figures_outside_traced_values(first_build):
    _, out = first_build
    parser = _Prose()
    parser.feed(VOID.sub("", (out / "report.html").read_text()))
    prose = " ".join(parser.text)
    prose = prose.replace("L₂", "").replace("MNIST", "")
    digits = re.findall(r"\S*\d\S*", prose)
    assert digits == [], f"numbers typed into the prose: {digits[:20]}"


def test_every_traced_value_names_its_source(first_build):
    _, out = first_build
    html = (out / "report.html").read_text()
    sources = re.findall(r'<span class="v" data-src="([^"]+)">', html)
    assert len(sources) > 200
    assert "q2a/total_by_keras" in sources and "q2d/test/mean" in sources


def test_second_build_trains_nothing(first_build, built, capsys):
    _, args = built
    capsys.readouterr()
    assert main([a for a in args if a != "-q"] + ["--no-pdf"]) == 0
    assert "trained 0 run(s)" in capsys.readouterr().err


def test_only_builds_just_its_sections(tmp_path, data_dir, capsys):
    args = ["build", "--profile", "quick", "--data-dir", str(data_dir), "--store",
            str(tmp_path / "store"), "--out", str(tmp_path / "out"), "--only", "q2a,q2b",
            "--no-pdf"]  # fmt: skip
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "trained 0 run(s)" in err
    html = (tmp_path / "out" / "report.html").read_text()
    # q1, q2a and q2b need no training; the eight sections that do wait for their runs.
    assert html.count('class="notrun"') == 8
    assert "55,050" in html


def _sweep_benchmark(runs: int) -> dict:
    """A saved benchmark run of the sweep's stack, in pytest-benchmark's shape."""
    rate = {"samples_per_second": 3000.0, "gflops": 10.0, "fraction_of_peak": 0.1}
    return {"datetime": "2026-11-30T06:00:00", "benchmarks": [{"extra_info": {
        "model": "hinton_sweep", "runs": runs, "device_kind": "cpu", "device": "CPU",
        "path": "tf-stacked", "backend": "tensorflow", "backend_version": "2.21",
        "batch_size": 128, "matmul_peak_gflops": 100.0, "ratio_to_fit": 1.5, "labnn": rate,
        "fit": {**rate, "samples_per_second": 2000.0}}}]}  # fmt: skip


def build_q2a(tmp_path, data_dir, benchmarks):
    """A quick report of 2a alone (no training) with the saved benchmarks in `benchmarks`."""
    args = ["build", "--profile", "quick", "--data-dir", str(data_dir), "--store",
            str(tmp_path / "store"), "--out", str(tmp_path / "out"), "--only", "q2a",
            "--no-pdf", "-q", "--benchmarks", str(benchmarks)]  # fmt: skip
    assert main(args) == 0


def test_appendix_counts_the_sweeps_stack_from_the_benchmark_it_describes(tmp_path, data_dir):
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "run.json").write_text(json.dumps(_sweep_benchmark(runs=3)))
    build_q2a(tmp_path, data_dir, tmp_path / "bench")
    html = (tmp_path / "out" / "report.html").read_text()
    sentence = re.search(r"“hinton_sweep” is one stack.*?</p>", html, flags=re.S).group()
    text = " ".join(re.sub(r"<[^>]+>", "", sentence).split())
    assert "3 Hinton MLPs" in text and "count 3 runs" in text
    assert "five" not in text


def test_without_a_saved_benchmark_the_appendix_promises_none_and_gives_no_instruction(
    tmp_path, data_dir
):
    (tmp_path / "empty").mkdir()
    build_q2a(tmp_path, data_dir, tmp_path / "empty")
    text = _words((tmp_path / "out" / "report.html").read_text())
    assert "benchmark are in provenance.json" not in text
    assert "the data's fingerprint are in provenance.json" in text
    assert "tox" not in text and "Run " not in text
    assert "No training-throughput benchmark was measured" in text
    assert json.loads((tmp_path / "out" / "provenance.json").read_text())["benchmarks"] is None


def test_with_a_saved_benchmark_the_appendix_points_to_it_in_provenance_json(tmp_path, data_dir):
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "run.json").write_text(json.dumps(_sweep_benchmark(runs=3)))
    build_q2a(tmp_path, data_dir, tmp_path / "bench")
    text = _words((tmp_path / "out" / "report.html").read_text())
    assert "the latest training-speed benchmark are in provenance.json" in text
    assert json.loads((tmp_path / "out" / "provenance.json").read_text())["benchmarks"]


def _words(html) -> str:
    """The visible text of some HTML, whitespace collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_counts_agree_with_their_nouns():
    assert _words(plural(Num(1, "a"), "seed")) == "1 seed"
    assert _words(plural(Num(3, "a"), "seed")) == "3 seeds"
    assert _words(plural(Num(2, "a"), "class", "classes")) == "2 classes"
    assert _words(times(Num(1, "a"))) == "once" and _words(times(Num(4, "a"))) == "4 times"


@pytest.mark.parametrize("digit, said", [(8, "an 8"), (3, "a 3"), (1, "a 1"), (11, "an 11"),
                                         (18, "an 18"), (80, "an 80"), (100, "a 100")])  # fmt: skip
def test_digits_take_the_article_they_are_read_with(digit, said):
    assert _words(article(Num(digit, "a"))) == said


def test_a_mean_of_one_value_is_shown_without_a_standard_deviation():
    one = {"mean": Num(0.98, "m"), "std": Num(0.0, "s"), "n": 1}
    three = {"mean": Num(0.98, "m"), "std": Num(0.001, "s"), "n": 3}
    assert _words(spread(one, "num", 4, unit="seed")) == "0.9800 (a single seed: no spread)"
    assert _words(spread(one, "num", 4)) == "0.9800"
    assert _words(spread(three, "num", 4)) == "0.9800 ± 0.0010"


# One of everything the prose counts: one factor, replicate, CNN seed, noise level and noise
# seed, one generated digit per class, one epoch everywhere, on a slice of the data.
ONE_OF_EACH = """[profile]
n_train = 1200
n_test = 200
validation_size = 200
mlp_epochs = 1
sweep_epochs = 1
sweep_factors = [1e-4]
sweep_replicates = 1
variant_replicates = 1
variant_longer_epochs = 2
cnn_epochs = 1
cnn_seeds = 1
ae_epochs = 1
noise_aware_epochs = 1
noise_levels = [0.0]
noise_seeds = 1
generated_per_class = 1
"""
COUNTED = ("seeds|runs|replicates|epochs|factors|levels|codes|images|digits|errors|times|"
           "models|layers|units|MLPs")  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("factors", ["[1e-4]", "[1e-6, 1e-3]"], ids=["one-factor", "two-factors"])
def test_a_profile_of_one_of_each_count_builds_with_singular_words_and_no_nan(
    tmp_path, data_dir, factors
):
    # Two factors of one replicate each: comparisons between factors with a single seed.
    config = tmp_path / "report.toml"
    config.write_text(ONE_OF_EACH.replace("[1e-4]", factors))
    args = ["build", "--profile", "quick", "--config", str(config), "--data-dir", str(data_dir),
            "--store", str(tmp_path / "store"), "--out", str(tmp_path / "out"), "--no-pdf",
            "--scheduler", "none", "-q"]  # fmt: skip
    assert main(args) == 0
    sections = _sections((tmp_path / "out" / "report.html").read_text())
    text = _words(" ".join(sections.values()))
    assert not re.search(r"\bnan\b", text, flags=re.I)
    assert not re.search(rf"(?<![\d.,])1 (?:[\w-]+ )?(?:{COUNTED})\b", text), re.findall(
        rf".{{40}}(?<![\d.,])1 (?:[\w-]+ )?(?:{COUNTED})\b.{{20}}", text
    )
    # a standard deviation or a prediction interval of one value is said to be missing,
    # never printed as 0 or as the whole range [0, 1]
    assert "± 0.00" not in text and "1.0000]" not in text
    assert "with 1 replicate (one seed" in text and "1 noise seed per level" in text
    if factors != "[1e-4]":
        assert "same single seed, so no interval" in text and "rests on a single seed" in text
    assert "a single seed" in text and "1 code per class" in text


def test_config_with_unknown_key_exits_2_naming_the_key(tmp_path, data_dir, capsys):
    config = tmp_path / "report.toml"
    config.write_text('title = "x"\nauthor = "me"\n')
    code = main(["build", "--config", str(config), "--data-dir", str(data_dir), "--out",
                 str(tmp_path), "--store", str(tmp_path / "s")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert "unknown key 'author'" in err and str(config) in err and "Traceback" not in err


def test_wrong_type_in_config_names_key_and_file(tmp_path, capsys):
    config = tmp_path / "report.toml"
    config.write_text('[[authors]]\nname = "A"\nhours = "many"\n')
    assert main(["build", "--config", str(config)]) == 2
    assert "authors[0]: hours must be int or float, got str 'many'" in capsys.readouterr().err


def test_unknown_override_exits_2_listing_valid_keys(tmp_path, capsys):
    assert main(["build", "--set", "epochs=3", "--out", str(tmp_path)]) == 2
    assert "valid keys:" in capsys.readouterr().err


def test_missing_data_exits_1_with_one_clear_line(tmp_path, capsys):
    code = main(["build", "--data-dir", str(tmp_path / "nowhere"), "--out", str(tmp_path),
                 "--store", str(tmp_path / "s")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("report: error: MNIST folder") and err.count("\n") == 1


def test_status_explains_without_training(tmp_path, data_dir, capsys):
    assert main(["status", "--profile", "quick", "--data-dir", str(data_dir), "--store",
                 str(tmp_path / "empty")]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "q2a   stored" in out
    assert "q2d   6 runs would run: missing (never run)" in out
    assert not (tmp_path / "empty" / "entries").exists()


def test_status_reads_the_profile_table_of_report_toml_as_build_does(
    tmp_path, data_dir, capsys, monkeypatch
):
    # A report.toml in the current folder: build reads its [profile], so status must too,
    # or it counts runs that a build would never look up.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "report.toml").write_text("[profile]\nsweep_replicates = 1\n")
    assert main(["status", "--profile", "quick", "--data-dir", str(data_dir), "--store",
                 str(tmp_path / "empty")]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert out.startswith("profile quick+overrides;")
    assert "q2d   3 runs would run: missing (never run)" in out


def test_status_takes_the_config_option_of_build(tmp_path, data_dir, capsys):
    config = tmp_path / "elsewhere.toml"
    config.write_text("[profile]\nsweep_factors = [1e-4]\n")
    assert main(["status", "--profile", "quick", "--config", str(config), "--data-dir",
                 str(data_dir), "--store", str(tmp_path / "empty")]) == 0  # fmt: skip
    assert "q2d   2 runs would run: missing (never run)" in capsys.readouterr().out


def test_init_writes_a_config_that_loads(tmp_path, capsys):
    from report.config import load_config

    target = tmp_path / "report.toml"
    assert main(["init", "--config", str(target)]) == 0
    assert load_config(target).configured
    assert main(["init", "--config", str(target)]) == 2  # never overwrites silently


def test_every_commented_setting_of_init_loads_when_uncommented(tmp_path):
    """Each `# key = value` line of the template, uncommented where it stands with its
    commented table header if it has one (a top-level key once sat under [[authors]])."""
    from report.config import TEMPLATE, load_config

    text = TEMPLATE.format(title="t")
    target = tmp_path / "report.toml"
    header = None  # the commented table header the line stands under, if any
    for line in text.splitlines():
        if line.startswith("# [") or line.startswith("[["):
            header = line if line.startswith("# [") else None
        elif line.startswith("# ") and " = " in line and not line.startswith("# date"):
            uncommented = text.replace(line, line[2:])
            if header:
                uncommented = uncommented.replace(header, header[2:])
            target.write_text(uncommented)
            assert load_config(target).configured, line


def test_init_shows_the_eye_observation_commented_out_and_it_loads_when_filled_in(tmp_path):
    from report.config import load_config

    target = tmp_path / "report.toml"
    assert main(["init", "--config", str(target)]) == 0
    text = target.read_text()
    assert "# [observations]\n# hard_to_identify_by_eye = " in text
    assert load_config(target).hard_to_identify_by_eye is None
    target.write_text(text.replace("# [observations]", "[observations]")
                      .replace("# hard_to_identify_by_eye", "hard_to_identify_by_eye"))  # fmt: skip
    assert load_config(target).hard_to_identify_by_eye == 0.6


@pytest.mark.parametrize("value", ["1.5", "-0.1", "nan", '"0.6"', "true"])
def test_an_eye_observation_that_is_no_noise_level_exits_2_with_key_rule_value_and_fix(
    tmp_path, capsys, value
):
    config = tmp_path / "report.toml"
    config.write_text(f"[observations]\nhard_to_identify_by_eye = {value}\n")
    assert main(["build", "--config", str(config), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(config) in err
    assert "hard_to_identify_by_eye must be a noise level, a number from 0 to 1" in err
    assert "got " in err and "4b's grid" in err


def test_an_unknown_observation_exits_2_listing_the_valid_one(tmp_path, capsys):
    config = tmp_path / "report.toml"
    config.write_text("[observations]\nby_eye = 0.6\n")
    assert main(["build", "--config", str(config), "--out", str(tmp_path)]) == 2
    assert "unknown key 'by_eye'; valid keys: hard_to_identify_by_eye" in capsys.readouterr().err


def test_report_toml_says_where_runs_train_at_the_top_or_in_its_profile_table(tmp_path):
    from report.config import load_config

    config = tmp_path / "report.toml"
    config.write_text('scheduler = "local:2"\n[profile]\nsweep_epochs = 2\n')
    assert load_config(config).scheduler == "local:2"
    config.write_text('[profile]\nscheduler = "none"\nsweep_epochs = 2\n')  # as it was
    loaded = load_config(config)
    assert (loaded.scheduler, loaded.profile) == ("none", {"sweep_epochs": 2})


def test_a_bad_scheduler_in_report_toml_exits_2_naming_the_file(tmp_path, capsys):
    config = tmp_path / "report.toml"
    config.write_text('scheduler = "local:x"\n')
    assert main(["build", "--config", str(config), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert str(config) in err and "local:N" in err


def test_pdf_fetches_nothing_outside_the_build(tmp_path, caplog):
    html = ('<p>x</p><img src="file:///etc/hostname"><img src="http://127.0.0.1:9/a.png">'
            '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">')  # fmt: skip
    with caplog.at_level("WARNING"):
        write_pdf(html, tmp_path / "x.pdf")
    refused = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert any("file:///etc/hostname" in m for m in refused)
    assert any("http://127.0.0.1:9/a.png" in m for m in refused)
    assert not any("data:" in m for m in refused)


def test_the_builds_plan_is_what_the_quick_build_trained(first_build, quick_store, mnist):
    """Every planned run was found in the store (the first build trained them), and no
    planned sample is left but the retrain's: 2e plans its longest candidate."""
    import io

    from labnn.profiles import QUICK
    from labnn.progress import BuildProgress
    from report.pipeline import SECTIONS, run_sections

    progress = BuildProgress(io.StringIO())
    run_sections(QUICK, mnist, quick_store, only=list(SECTIONS), progress=progress)
    assert progress.runs_total > 10 and progress.runs_done == progress.runs_total
    slack = QUICK.variant_replicates * QUICK.variant_longer_epochs * (QUICK.n_train or 60000)
    assert 0 <= progress.samples_left <= slack
