"""Matplotlib figures as SVG strings, ready to inline in HTML.

Figures are built on `matplotlib.figure.Figure` directly, never through
pyplot, so no global figure state is left behind.
"""

from __future__ import annotations

import io
import math
import re
from xml.sax.saxutils import escape

import matplotlib
import matplotlib.patches
import numpy as np
from matplotlib.figure import Figure

from labnn.data import NUM_CLASSES

BLUE, ORANGE, GREY, RED, GREEN = "#1f5fa8", "#d9772b", "#8a8a8a", "#b22222", "#2e8b57"
_STYLE = {
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "svg.fonttype": "none",  # text stays text: searchable in the PDF, crisp at any size
}


SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def scientific(value: float, digits: int = 3) -> tuple[float | None, int]:
    """The one rule for scientific notation, in figures and in the report's prose:
    (mantissa to `digits` significant digits, exponent); mantissa None when it is 1
    (10⁻⁶ rather than 1 × 10⁻⁶)."""
    exponent = math.floor(math.log10(abs(value)))
    mantissa = float(f"{value / 10**exponent:.{digits}g}")
    return (None if mantissa == 1 else mantissa), exponent


def sci_text(value: float, digits: int = 3) -> str:
    """Plain-text scientific notation by `scientific`'s rule: 0.000178 -> 1.78 × 10⁻⁴."""
    if value == 0:
        return "0"
    mantissa, exponent = scientific(value, digits)
    power = f"10{str(exponent).translate(SUPERSCRIPT)}"
    return power if mantissa is None else f"{mantissa:g}\u202f×\u202f{power}"


def sci_math(value: float, digits: int = 3) -> str:
    """`sci_text` as matplotlib mathtext, for legends and tick labels."""
    if value == 0:
        return "0"
    mantissa, exponent = scientific(value, digits)
    power = f"10^{{{exponent}}}"
    return f"${power}$" if mantissa is None else rf"${mantissa:g}\times{power}$"


def _pct(value: float, digits: int = 2) -> str:
    return f"{100 * value:.{digits}f}\u202f%"


def to_svg(figure: Figure, name: str, *, alt: str) -> str:
    """Render `figure` as an inline <svg> element with ids unique to `name`, whose
    <title> is `alt`: a description of what it shows, for a reader who cannot see it
    (screen readers, and the tagged PDF's alternative text)."""
    buffer = io.StringIO()
    # Matplotlib names clip paths by a hash; a per-figure salt keeps several
    # inline SVGs in one HTML page from sharing (and clobbering) ids.
    with matplotlib.rc_context({**_STYLE, "svg.hashsalt": name}):
        figure.savefig(buffer, format="svg", bbox_inches="tight")
    return _titled(_inline(buffer.getvalue(), name), alt)


def _titled(svg: str, alt: str) -> str:
    """Put `alt` as the <svg>'s first child <title>, where PDF taggers look for it."""
    if not alt.strip():
        raise ValueError("a figure needs a description (alt text)")
    return re.sub(r"(<svg[^>]*>)", lambda m: f"{m.group(1)}<title>{escape(alt)}</title>", svg,
                  count=1)  # fmt: skip


def _inline(svg: str, name: str) -> str:
    """Strip the XML preamble and metadata, and prefix every id with `name`:
    matplotlib numbers ids per figure ("figure_1"), which would clash in one page."""
    svg = svg[svg.index("<svg") :]  # drop the XML declaration and DOCTYPE
    svg = re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.S)
    svg = re.sub(r'\bid="([^"]+)"', rf'id="{name}-\1"', svg)
    svg = re.sub(r'href="#([^"]+)"', rf'href="#{name}-\1"', svg)
    return re.sub(r"url\(#([^)]+)\)", rf"url(#{name}-\1)", svg)


def _figure(width: float, height: float) -> Figure:
    with matplotlib.rc_context(_STYLE):
        return Figure(figsize=(width, height), layout="constrained")


def _epochs(count: int) -> str:
    """'1 epoch', '40 epochs': the alternative texts are read out with the report."""
    return f"{count} epoch" if count == 1 else f"{count} epochs"


def training_curves(history: dict, *, title: str, name: str) -> str:
    """Accuracy and loss per epoch, on training and validation data."""
    with matplotlib.rc_context(_STYLE):
        figure = _figure(7.0, 2.8)
        acc, loss = figure.subplots(1, 2)
        epochs = np.arange(1, len(history["accuracy"]) + 1)
        for axes, metric, label in ((acc, "accuracy", "accuracy"), (loss, "loss", "loss")):
            axes.plot(epochs, history[metric], "o-", color=BLUE, ms=3, label="training")
            axes.plot(epochs, history[f"val_{metric}"], "s-", color=ORANGE, ms=3,
                      label="validation")  # fmt: skip
            axes.set_xlabel("epoch")
            axes.set_ylabel(label)
            axes.xaxis.get_major_locator().set_params(integer=True)
        acc.legend(loc="lower right")
        figure.suptitle(title, fontsize=10)
        alt = (f"{title}: two line charts of accuracy (left) and loss (right) per epoch over "
               f"{_epochs(len(epochs))}, on training and validation images. After the last "
               f"epoch the training accuracy is {_pct(history['accuracy'][-1])} and the "
               f"validation accuracy {_pct(history['val_accuracy'][-1])}.")  # fmt: skip
        return to_svg(figure, name, alt=alt)


def sweep_accuracy(
    per_factor: list[dict],
    runs: list[dict],
    *,
    hinton: float,
    best_l2: float,
    test: dict,
    name: str,
) -> str:
    """Final validation accuracy against the L2 factor: mean with ±1 std error bars,
    each replicate as a dot. Hinton's accuracy is a test-set number, so it is drawn
    as a test-set reference beside the test accuracy of our chosen factor (`test`:
    mean and std), never as a target for the validation points."""
    with matplotlib.rc_context(_STYLE):
        figure = _figure(6.0, 3.2)
        axes = figure.subplots()
        factors = [row["l2"] for row in per_factor]
        means = [row["mean"] for row in per_factor]
        stds = [row["std"] for row in per_factor]
        replicated = min(row["n"] for row in per_factor) > 1  # one value has no spread
        axes.errorbar(factors, means, yerr=stds, fmt="o-", color=BLUE, capsize=4,
                      label="mean ± std over replicates" if replicated
                      else "one run per factor")  # fmt: skip
        axes.scatter([r["l2"] for r in runs], [r["val_accuracy"] for r in runs], s=10,
                     color=GREY, zorder=3, label="single runs")  # fmt: skip
        axes.axhline(hinton, color=RED, ls="--", lw=1,
                     label=f"Hinton, test set, one run ({hinton:.4f})")  # fmt: skip
        best = next(row for row in per_factor if row["l2"] == best_l2)
        axes.scatter([best_l2], [best["mean"]], s=90, facecolors="none", edgecolors=ORANGE,
                     lw=1.5, zorder=4, label="chosen on validation")  # fmt: skip
        axes.errorbar([best_l2], [test["mean"]], yerr=[test["std"]], fmt="s", color=RED,
                      mfc="white", capsize=3, zorder=5, label="chosen λ, test set")  # fmt: skip
        axes.set_xscale("log")
        axes.set_xlabel("L2 weight-decay factor")
        axes.set_ylabel("accuracy (validation; red: test set)")
        axes.legend(loc="lower left", fontsize=8)
        points = "; ".join(f"{sci_text(row['l2'])}: {row['mean']:.4f}"
                           + (f" ± {row['std']:.4f}" if replicated else "")
                           for row in per_factor)  # fmt: skip
        spread = ("mean ± one standard deviation over the replicates per factor" if replicated
                  else "one run per factor")  # fmt: skip
        alt = (f"Final validation accuracy against the L2 weight-decay factor on a log scale, "
               f"{spread} ({points}), "
               f"single runs as dots; the chosen factor {sci_text(best_l2)} is circled, and "
               f"Hinton's accuracy {hinton:.4f} is a dashed line.")  # fmt: skip
        return to_svg(figure, name, alt=alt)


def sweep_curves(runs: list[dict], *, name: str) -> str:
    """Validation accuracy per epoch, averaged over replicates, one line per L2 factor."""
    with matplotlib.rc_context(_STYLE):
        figure = _figure(6.0, 3.0)
        axes = figure.subplots()
        factors = sorted({r["l2"] for r in runs})
        colours = matplotlib.colormaps["viridis"](np.linspace(0, 0.9, len(factors)))
        for factor, colour in zip(factors, colours, strict=True):
            curves = np.array([r["history"]["val_accuracy"] for r in runs if r["l2"] == factor])
            epochs = np.arange(1, curves.shape[1] + 1)
            axes.plot(epochs, curves.mean(axis=0), color=colour, lw=1.2,
                      label=f"λ = {sci_math(factor)}")  # fmt: skip
        axes.set_xlabel("epoch")
        axes.set_ylabel("validation accuracy (mean)")
        # Zoom on where the factors differ: the first epoch would flatten everything else.
        later = [np.mean([r["history"]["val_accuracy"][1:] for r in runs if r["l2"] == f], axis=0)
                 for f in factors]  # fmt: skip
        if later and len(later[0]):
            axes.set_ylim(bottom=float(np.min(later)) - 0.002)
        axes.legend(fontsize=7, ncols=2, loc="lower right")
        finals = "; ".join(f"{sci_text(f)}: {curve[-1]:.4f}" for f, curve in zip(
            factors, [np.mean([r["history"]["val_accuracy"] for r in runs if r["l2"] == f],
                              axis=0) for f in factors], strict=True))  # fmt: skip
        alt = (
            f"Line chart of the validation accuracy per epoch, averaged over the "
            f"replicates, one line per L2 weight-decay factor; at the last epoch: {finals}."
        )
        return to_svg(figure, name, alt=alt)


def variant_errors(
    rows: list[dict], final: dict, *, chosen: str, hinton_error: float, name: str
) -> str:
    """Test error per training protocol (mean ± std over replicates trained on the
    training part), the chosen protocol retrained on all training images, and
    Hinton's error as a line."""
    with matplotlib.rc_context(_STYLE):
        figure = _figure(6.0, 0.45 * (len(rows) + 1) + 1.0)
        axes = figure.subplots()
        labels = [row["name"] for row in rows] + [f"{chosen}, all training images"]
        means = [1 - row["test"]["mean"] for row in rows] + [1 - final["mean"]]
        stds = [row["test"]["std"] for row in rows] + [final["std"]]
        colours = [BLUE] * len(rows) + [ORANGE]
        replicated = min([row["test"]["n"] for row in rows] + [final["n"]]) > 1
        y = np.arange(len(labels))[::-1]
        for yi, mean, std, colour in zip(y, means, stds, colours, strict=True):
            axes.errorbar([100 * mean], [yi], xerr=[100 * std], fmt="o", color=colour, capsize=4)
        axes.axvline(100 * hinton_error, color=RED, ls="--", lw=1,
                     label=f"Hinton ({100 * hinton_error:.2f} %)")  # fmt: skip
        axes.set_yticks(y, labels)
        axes.set_xlabel("test error (%), mean ± std over replicates" if replicated
                        else "test error (%), one run each")  # fmt: skip
        axes.legend(loc="lower right", fontsize=8)
        points = "; ".join(
            f"{label}: {100 * mean:.2f}" + (f" ± {100 * std:.2f}" if replicated else "") + " %"
            for label, mean, std in zip(labels, means, stds, strict=True)
        )
        spread = ("mean ± one standard deviation over the replicates" if replicated
                  else "one run each")  # fmt: skip
        alt = (f"Test error per training protocol, {spread} ({points}); Hinton's error of "
               f"{100 * hinton_error:.2f} % is a dashed line.")  # fmt: skip
        return to_svg(figure, name, alt=alt)


def confusion_matrix(matrix: list[list[int]], *, name: str) -> str:
    """Counts of true digit (rows) by predicted digit (columns), errors emphasised."""
    counts = np.asarray(matrix)
    with matplotlib.rc_context(_STYLE):
        figure = _figure(4.2, 3.8)
        axes = figure.subplots()
        errors = counts.copy()
        np.fill_diagonal(errors, 0)
        axes.imshow(np.log1p(errors), cmap="Oranges")
        axes.grid(False)
        for (row, col), value in np.ndenumerate(counts):
            axes.text(col, row, str(value), ha="center", va="center", fontsize=6.5,
                      color="black" if row != col else BLUE,
                      fontweight="bold" if row == col else "normal")  # fmt: skip
        axes.set_xticks(range(10))
        axes.set_yticks(range(10))
        axes.set_xlabel("predicted digit")
        axes.set_ylabel("true digit")
        alt = (
            f"Confusion matrix of the {int(counts.sum()):,} test digits, true digit by row "
            f"and predicted digit by column: {int(np.trace(counts)):,} on the diagonal are "
            f"right, {int(errors.sum()):,} off it are errors, shaded by their count."
        )
        return to_svg(figure, name, alt=alt)


def formula(latex: str, *, name: str, size: float = 12) -> str:
    """A LaTeX formula rendered with matplotlib's mathtext, as SVG (glyphs as paths,
    so the PDF needs no math font)."""
    with matplotlib.rc_context({**_STYLE, "svg.fonttype": "path", "mathtext.fontset": "cm"}):
        figure = Figure(figsize=(0.01, 0.01))
        figure.text(0, 0, f"${latex}$", fontsize=size)
        buffer = io.StringIO()
        with matplotlib.rc_context({"svg.hashsalt": name}):
            figure.savefig(buffer, format="svg", bbox_inches="tight", pad_inches=0.02,
                           transparent=True)  # fmt: skip
    # The LaTeX source is the formula's alternative text: readers and search keep it.
    return _titled(_inline(buffer.getvalue(), name), latex)


def _mosaic(tiles: np.ndarray) -> np.ndarray:
    """(rows, cols, 784) images -> one (rows*29, cols*29) picture with 1-pixel gaps."""
    rows, cols = tiles.shape[:2]
    side, gap = 28, 1
    canvas = np.zeros((rows * (side + gap) - gap, cols * (side + gap) - gap))  # white gaps
    for r in range(rows):
        for c in range(cols):
            y, x = r * (side + gap), c * (side + gap)
            canvas[y : y + side, x : x + side] = tiles[r, c].reshape(side, side)
    return canvas


# The noise grid's geometry, in image pixels: a digit is 28 pixels wide, its noisy and
# denoised versions sit 1 pixel apart, pairs 7 apart, and under each row a band holds
# the reader's calls.
_SIDE, _PAIR_GAP, _BAND = 28, 7, 14
_PAIR = 2 * _SIDE + 1
READER_NAMES = {"aware": "noise-aware", "denoised": "denoised"}


def _pair_mosaic(noisy: np.ndarray, denoised: np.ndarray) -> np.ndarray:
    """(levels, digits, 784) twice -> one picture: a row per level, per digit the noisy
    image left of the denoised one, white gaps and a white band under each row."""
    levels, digits = noisy.shape[:2]
    canvas = np.zeros((levels * (_SIDE + _BAND), digits * (_PAIR + _PAIR_GAP) - _PAIR_GAP))
    for i in range(levels):
        for j in range(digits):
            y, x = i * (_SIDE + _BAND), j * (_PAIR + _PAIR_GAP)
            canvas[y : y + _SIDE, x : x + _SIDE] = noisy[i, j].reshape(_SIDE, _SIDE)
            canvas[y : y + _SIDE, x + _SIDE + 1 : x + _PAIR] = denoised[i, j].reshape(_SIDE, _SIDE)
    return canvas


def noise_grid(levels, noisy: np.ndarray, denoised: np.ndarray, *, reading: dict,
               name: str) -> str:  # fmt: skip
    """One row per noise level; per shown digit its noisy version left of its denoised
    one, and under the pair the class that level's better reader calls it, marked
    right (✓, green) or wrong (✗, red); at the row's end how many it names and which
    reader it is. `noisy`/`denoised`: (levels, digits, 784); `reading`:
    `labnn.answers.grid_reading`."""
    rows, shown = reading["rows"], reading["shown"]
    with matplotlib.rc_context(_STYLE):
        mosaic = _pair_mosaic(noisy, denoised)
        height, width = mosaic.shape
        figure = _figure(width / 95 + 1.3, height / 95 + 0.5)
        axes = figure.subplots()
        axes.imshow(mosaic, cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
        axes.grid(False)
        pitch = _SIDE + _BAND
        axes.set_yticks([i * pitch + _SIDE / 2 for i in range(len(levels))],
                        [f"{lv:.1f}" for lv in levels])  # fmt: skip
        axes.set_ylabel("noise level")
        axes.set_xticks([j * (_PAIR + _PAIR_GAP) + _SIDE for j in range(shown)],
                        [str(label) for label in reading["labels"]])  # fmt: skip
        axes.xaxis.tick_top()
        axes.tick_params(length=0)
        for spine in axes.spines.values():
            spine.set_visible(False)
        for i, row in enumerate(rows):
            y = i * pitch + _SIDE + _BAND / 2
            for j, (call, right) in enumerate(zip(row["calls"], row["right"], strict=True)):
                axes.text(j * (_PAIR + _PAIR_GAP) + _SIDE, y, f"{call} {'✓' if right else '✗'}",
                          ha="center", va="center", fontsize=8,
                          color=GREEN if right else RED, fontweight="bold")  # fmt: skip
            axes.text(width + 6, i * pitch + _SIDE / 2,
                      f"{row['named']}/{shown}\n{READER_NAMES[row['reader']]}", ha="left",
                      va="center", fontsize=7.5, linespacing=1.1)  # fmt: skip
        named = ", ".join(f"{row['named']} at {row['level']:g}" for row in rows)
        alt = (f"Grid of {shown} test digits (columns) at the salt-and-pepper noise levels "
               f"{', '.join(f'{lv:g}' for lv in levels)} (rows); for each digit the noisy "
               f"input is drawn left of the autoencoder's denoised output, and under them the "
               f"class the better reader of that level calls it, marked right or wrong. "
               f"Digits named correctly, of {shown}: {named}.")  # fmt: skip
        return to_svg(figure, name, alt=alt)


def accuracy_under_noise(
    rows: list[dict],
    *,
    bar: float | None = None,
    readable=None,
    limit=None,
    name: str,
    chance: float = 1 / NUM_CLASSES,
) -> str:
    """Test accuracy against noise level of three readers (the clean CNN on noisy and
    on denoised digits, the noise-aware CNN on noisy ones), mean with a ±1 std band,
    the accuracy bar, the two thresholds where they exist, and `chance` (one class
    in ten: where every reader ends when no digit is left)."""
    levels = np.array([row["level"] for row in rows])
    with matplotlib.rc_context(_STYLE):
        figure = _figure(6.0, 3.4)
        axes = figure.subplots()
        for key, colour, label in (("noisy", ORANGE, "CNN, noisy input"),
                                   ("denoised", BLUE, "CNN, denoised first"),
                                   ("aware", GREEN, "noise-aware CNN, noisy input")):  # fmt: skip
            mean = np.array([row[key]["mean"] for row in rows])
            std = np.array([row[key]["std"] for row in rows])
            axes.plot(levels, mean, "o-", color=colour, ms=3, label=label)
            axes.fill_between(levels, mean - std, mean + std, color=colour, alpha=0.2, lw=0)
        if bar is not None:
            axes.axhline(bar, color=GREY, ls="-.", lw=0.8, label=f"bar ({100 * bar:.0f} %)")
        if readable is not None:
            axes.axvline(readable, color=GREY, ls="--", lw=1,
                         label=f"hard to identify ({readable:.2f})")  # fmt: skip
        if limit is not None:
            axes.axvline(limit, color=RED, ls=":", lw=1.2,
                         label=f"denoised digits below the bar ({limit:.2f})")  # fmt: skip
        axes.axhline(chance, color=GREY, lw=0.8, alpha=0.6, label=f"chance ({100 * chance:.0f} %)")
        axes.set_xlabel("salt-and-pepper noise level")
        axes.set_ylabel("test accuracy")
        axes.set_ylim(0, 1.02)
        axes.legend(fontsize=7, loc="lower left")
        readers = (("noisy", "the CNN on noisy digits"), ("denoised", "the CNN on denoised digits"),
                   ("aware", "the noise-aware CNN on noisy digits"))  # fmt: skip
        ends = [(text, rows[0][key]["mean"], rows[-1][key]["mean"]) for key, text in readers]
        marks = ([f"digits become hard to identify at about {readable:.2f}"] if readable
                 is not None else []) + ([f"the denoised digits fall below the bar at about "
                                          f"{limit:.2f}"] if limit is not None else [])  # fmt: skip
        alt = (
            f"Line chart of test accuracy against the noise level from "
            f"{levels[0]:g} to {levels[-1]:g}, mean ± one standard deviation over noise "
            f"seeds: "
            + "; ".join(f"{text} from {_pct(a)} to {_pct(b)}" for text, a, b in ends)
            + (f"; a horizontal line marks the bar of {_pct(bar)}" if bar is not None else "")
            + f"; a faint one chance, {_pct(chance)}"
            + ("; vertical lines mark where " + " and ".join(marks) if marks else "")
            + "."
        )
        return to_svg(figure, name, alt=alt)


def generated_digits(grid: np.ndarray, *, name: str) -> str:
    """Decoded samples, one row per class. `grid`: (10, per_class, 784)."""
    with matplotlib.rc_context(_STYLE):
        figure = _figure(0.5 * grid.shape[1] + 0.6, 0.5 * grid.shape[0] + 0.2)
        axes = figure.subplots()
        axes.imshow(_mosaic(grid), cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
        axes.grid(False)
        axes.set_xticks([])
        axes.set_yticks([r * 29 + 13.5 for r in range(grid.shape[0])],
                        [str(k) for k in range(grid.shape[0])])  # fmt: skip
        axes.set_ylabel("class sampled")
        axes.tick_params(length=0)
        for spine in axes.spines.values():
            spine.set_visible(False)
        alt = (f"Grid of digits generated by the decoder, {grid.shape[1]} per class, one row "
               f"per class from 0 to {grid.shape[0] - 1}.")  # fmt: skip
        return to_svg(figure, name, alt=alt)


def autoencoder_diagram(layers: list[dict], *, name: str) -> str:
    """Boxes for the input and each dense layer, height by width of the layer,
    labelled with size and activation, grouped into encoder and decoder."""
    # A dense layer's parameters are inputs * units + units, which gives the input size.
    inputs = layers[0]["params"] // layers[0]["units"] - 1
    boxes = [{"units": inputs, "activation": "input", "part": "input"}] + layers
    with matplotlib.rc_context(_STYLE):
        figure = _figure(6.4, 2.6)
        axes = figure.subplots()
        axes.set_axis_off()
        largest = max(b["units"] for b in boxes)
        colours = {"input": "#e8e8e8", "encoder": "#cfe0f3", "decoder": "#f6dcc6"}
        for i, box in enumerate(boxes):
            height = 0.25 + 0.75 * box["units"] / largest
            axes.add_patch(matplotlib.patches.FancyBboxPatch(
                (i * 1.4, -height / 2), 0.9, height, boxstyle="round,pad=0.02",
                facecolor=colours[box["part"]], edgecolor="#444444", lw=0.8))  # fmt: skip
            axes.text(i * 1.4 + 0.45, 0, f"{box['units']}", ha="center", va="center",
                      fontsize=9, fontweight="bold")  # fmt: skip
            axes.text(i * 1.4 + 0.45, -0.62, box["activation"], ha="center", fontsize=8)
            if i:
                axes.annotate("", xy=(i * 1.4 - 0.02, 0), xytext=(i * 1.4 - 0.48, 0),
                              arrowprops={"arrowstyle": "->", "lw": 0.8})  # fmt: skip
        for part in ("encoder", "decoder"):
            xs = [i * 1.4 for i, b in enumerate(boxes) if b["part"] == part]
            axes.text((min(xs) + max(xs) + 0.9) / 2, 0.62, part, ha="center", fontsize=9,
                      style="italic")  # fmt: skip
        axes.set_xlim(-0.1, len(boxes) * 1.4 - 0.4)
        axes.set_ylim(-0.75, 0.75)
        chain = " → ".join(f"{b['units']} ({b['activation']})" for b in boxes)
        alt = (
            f"Diagram of the autoencoder's layers from input to output, units and "
            f"activation: {chain}; the encoder is drawn blue, the decoder orange."
        )
        return to_svg(figure, name, alt=alt)


def loss_curves(history: dict, *, title: str, name: str) -> str:
    """Loss per epoch on training and validation data (for models without accuracy)."""
    with matplotlib.rc_context(_STYLE):
        figure = _figure(5.0, 2.8)
        axes = figure.subplots()
        epochs = np.arange(1, len(history["loss"]) + 1)
        axes.plot(epochs, history["loss"], "o-", color=BLUE, ms=3, label="training")
        axes.plot(epochs, history["val_loss"], "s-", color=ORANGE, ms=3, label="validation")
        axes.set_xlabel("epoch")
        axes.set_ylabel("binary cross-entropy")
        axes.xaxis.get_major_locator().set_params(integer=True)
        axes.legend()
        axes.set_title(title, fontsize=10)
        alt = (f"{title}: line chart of the binary cross-entropy per epoch over "
               f"{_epochs(len(epochs))}: on training images it falls to "
               f"{history['loss'][-1]:.4f}, on validation images to "
               f"{history['val_loss'][-1]:.4f}.")  # fmt: skip
        return to_svg(figure, name, alt=alt)
