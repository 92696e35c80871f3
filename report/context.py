"""From section results to the template context: traced numbers, figures as SVG,
numbered figures, tables and equations."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
from markupsafe import Markup

from labnn import answers, engine, figures
from labnn.machine import machine
from labnn.profiles import FULL, REPEATS, Profile
from report.config import ReportConfig
from report.pipeline import SectionResult
from report.values import wrap

# Numbered items per section, in the order the templates show them.
ITEMS = {
    "q1": [("table", "tab-q1-facts"), ("table", "tab-q1-counts")],
    "q2a": [("table", "tab-q2a-layers")],
    "q2b": [("equation", "eq-ce")],
    "q2c": [("figure", "fig-q2c-curves")],
    "q2d": [("figure", "fig-q2d-sweep"), ("table", "tab-q2d-factors"),
            ("figure", "fig-q2d-curves")],
    "q2e": [("table", "tab-q2e-variants"), ("figure", "fig-q2e-errors")],
    "q3": [("table", "tab-q3-layers"), ("figure", "fig-q3-curves"),
           ("figure", "fig-q3-confusion")],
    "q4a": [("figure", "fig-q4a-diagram"), ("table", "tab-q4a-layers"), ("equation", "eq-bce"),
            ("figure", "fig-q4a-curves")],
    "q4b": [("figure", "fig-q4b-grid"), ("table", "tab-q4b-bars"),
            ("table", "tab-q4b-thresholds")],
    "q4c": [("figure", "fig-q4c-accuracy"), ("table", "tab-q4c-accuracy")],
    "q4d": [("figure", "fig-q4d-generated"), ("table", "tab-q4d-agreement")],
    "appendix": [("table", "tab-profile"), ("table", "tab-environment")],
    # The HTML alone shows these (the PDF carries them as provenance.json): numbered last,
    # so the PDF's numbers run without a hole.
    "provenance": [("table", "tab-provenance"), ("table", "tab-benchmarks")],
}  # fmt: skip
LABELS = {"figure": "Figure", "table": "Table", "equation": "Equation"}
# A train-minus-validation accuracy gap above this counts as starting to over-fit.
OVERFIT_GAP = 0.02
# Classes count as close to balanced when the rarest has at least this share of the
# commonest's images (MNIST's training set: 5,421 fives against 6,742 ones, 0.80): then
# accuracy cannot hide a neglected class behind a dominant one.
BALANCED_RATIO = 0.75
# An untrained network's loss counts as close to ln K when within this share of it.
UNIFORM_TOLERANCE = 0.1


class Numbering:
    """Figure, table and equation numbers, fixed before rendering so that the
    prose can refer forward as well as back."""

    def __init__(self, done: set[str], absent: frozenset[str] = frozenset()):
        self.numbers: dict[str, tuple[str, int]] = {}
        counters = {kind: 0 for kind in LABELS}
        for section, items in ITEMS.items():
            if section not in done:
                continue
            for kind, item in items:
                if item in absent:
                    continue
                counters[kind] += 1
                self.numbers[item] = (kind, counters[kind])

    def label(self, item: str) -> str:
        kind, number = self.numbers[item]
        return f"{LABELS[kind]} {number}" if kind != "equation" else f"({number})"

    def ref(self, item: str) -> Markup:
        """A cross-reference link: 'Figure 3', or 'Equation (2)'."""
        if item not in self.numbers:
            raise KeyError(f"reference to {item!r}, which is not in the report")
        kind, _ = self.numbers[item]
        text = self.label(item) if kind != "equation" else f"Equation {self.label(item)}"
        return Markup('<a class="ref n" href="#{}">{}</a>').format(item, text)


def build_context(
    *,
    sections: dict[str, SectionResult],
    profile: Profile,
    config: ReportConfig,
    fingerprint: str,
    benchmarks: dict | None = None,
    benchmarks_unreadable: str = "",
) -> dict:
    """Everything the templates may show, every number wrapped with its source.

    No path of the build machine goes in: the report is handed in, the machine is not."""
    done = {name for name, s in sections.items() if s.status == "done"}
    done |= {"appendix", "provenance"}
    numbering = Numbering(done, frozenset() if benchmarks else {"tab-benchmarks"})
    svg = {}
    s = {}
    for name, section in sections.items():
        view = {"status": section.status, "reason": section.reason}
        if section.status == "done":
            result = section.result
            svg.update(_figures(name, result, sections))
            view.update(wrap(_plain(result), name))
            view["derived"] = wrap(_derived(name, result), f"{name}/derived")
            view["seconds"] = wrap(section.seconds, f"{name}/seconds")
            if name == "q4b":
                view["eye"] = wrap(_eye(config, result), "q4b/eye")
        s[name] = view
    return {
        "config": config,
        "profile": _profile_view(profile),
        "s": s,
        "svg": svg,
        "numbering": numbering,
        "env": {**machine(), **engine.environment(), "created": _now()},
        "fingerprint": fingerprint,
        "provenance": wrap(_provenance(sections), "provenance"),
        "hinton": wrap(
            {"accuracy": answers.HINTON_ACCURACY, "error": answers.HINTON_TEST_ERROR},
            "answers/hinton",
        ),  # fmt: skip
        "benchmarks": wrap(benchmarks, "benchmarks") if benchmarks else None,
        # Saved benchmark files that could not be read (names and reasons), when none could.
        "benchmarks_unreadable": benchmarks_unreadable,
    }


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _plain(result: dict) -> dict:
    """The JSON-able part of a result (images go to figures, not to templates)."""
    return {k: v for k, v in result.items() if not isinstance(v, np.ndarray)}


def _profile_view(profile: Profile) -> dict:
    # Where the runs trained (the scheduler) changes no result: it is no part of the protocol.
    fields = [(f.name, getattr(profile, f.name)) for f in dataclasses.fields(profile)
              if f.name != "scheduler"]  # fmt: skip
    differs = [name for name, value in fields if name != "name" and getattr(FULL, name) != value]
    sci = {"sweep_factors"}
    rows = [{"key": name, "value": _show(value, scientific=name in sci),
             "assignment": _show(getattr(FULL, name), scientific=name in sci),
             "changed": name in differs} for name, value in fields if name != "name"]  # fmt: skip
    # Two settings per table row, read down the left column first: half the height, so the
    # appendix fits one page.
    half = (len(rows) + 1) // 2
    pairs = list(zip(rows[:half], rows[half:] + [None] * (2 * half - len(rows)), strict=True))
    protocol = [name for name in differs if name not in REPEATS]
    repeats = [name for name in differs if name in REPEATS]
    return {"name": profile.name, "is_assignment": not protocol, "rows": rows, "pairs": pairs,
            "changed": protocol, "repeats": repeats}  # fmt: skip


def _show(value, *, scientific: bool = False) -> str:
    """A setting as the appendix prints it; `scientific` for the weight-decay factors, which
    the prose and figures write as 3.16 × 10⁻⁵."""
    if value is None:
        return "all"
    if isinstance(value, tuple):
        return ", ".join(_show(v, scientific=scientific) for v in value)
    if isinstance(value, float):
        return figures.sci_text(value) if scientific else f"{value:g}"
    return str(value)


def _provenance(sections: dict[str, SectionResult]) -> list[dict]:
    """One row per stored entry, naming every section that uses it (2e reuses 2d's runs as
    its baseline; 4b and 4c share one noise evaluation)."""
    rows: dict[str, dict] = {}
    for name, section in sections.items():
        if section.status != "done":
            continue
        result = section.result
        entries = [run for run in result.get("runs", []) + result.get("provenance", [])
                   if isinstance(run, dict) and "key" in run and "experiment" in run]  # fmt: skip
        if "key" in result and isinstance(result["key"], str):
            entries.append({"key": result["key"], "experiment": "evaluation", "trainer": None,
                            "seed": None, "wall_time_s": None, "created": None})  # fmt: skip
        for entry in entries:
            row = rows.setdefault(entry["key"], {"section": name, **entry})
            if name not in row["section"].split(", "):
                row["section"] += f", {name}"
    return list(rows.values())


def _derived(name: str, r: dict) -> dict:
    """Small differences the prose states, computed here so templates do no arithmetic."""
    if name == "q1":
        counts = r["facts"]["class_counts_train"]
        rarest, commonest = counts.index(min(counts)), counts.index(max(counts))
        return {"rarest": rarest, "rarest_count": counts[rarest], "commonest": commonest,
                "commonest_count": counts[commonest],
                "balanced": counts[rarest] >= BALANCED_RATIO * counts[commonest]}  # fmt: skip
    if name == "q2a":
        weights = [layer for layer in r["layers"] if layer["params"] > 0]
        return {"weight_layers": len(weights), "hidden_layers": len(weights) - 1,
                "first_layer_share": weights[0]["params"] / r["total_by_keras"]}  # fmt: skip
    if name == "q2b":
        gap = abs(r["loss_by_keras"] - r["uniform_loss"])
        return {"uniform_gap": gap, "near_uniform": gap < UNIFORM_TOLERANCE * r["uniform_loss"]}
    if name == "q2c":
        gap = r["final_accuracy"] - r["final_val_accuracy"]
        later = r["epoch_seconds"][1:]
        return {"train_minus_val": gap, "overfitting": gap > OVERFIT_GAP,
                # whether the validation curve still rises at its end (labnn.answers)
                "trend": answers.trend_at_end(r["history"]["val_accuracy"]),
                "first_epoch_s": r["epoch_seconds"][0],
                "later_epoch_s": sum(later) / len(later) if later else None}  # fmt: skip
    if name == "q2d":
        spread = r["summary"]["per_factor"]
        range_of_means = max(x["mean"] for x in spread) - min(x["mean"] for x in spread)
        return {
            "runs": len(r["runs"]),
            "range_of_means": range_of_means,
            # The factor matters when some factor is distinguishably worse than the
            # chosen one, paired by seed (labnn.answers.factor_effects).
            "factor_matters": bool(r["effects"]["worse"]),
            # Whether the factors that cannot be told apart move the mean by less
            # than the test gap to Hinton.
            "alike_below_gap": r["effects"]["range_alike"] < r["test"]["gap"],
            "test_minus_val": r["test"]["mean"] - r["summary"]["best_mean"],
            "short_of_hinton": r["test"]["gap"] > 0,
            "test_error": 1 - r["test"]["mean"],
        }
    if name == "q2e":
        final, baseline = r["final"], r["baseline_test"]
        return {
            "test_error": 1 - final["mean"],
            "gain_over_baseline": final["mean"] - baseline["mean"],
            # Hinton's is one run, so it is held against the prediction interval of one
            # run of ours: above it is short of him, inside it cannot be told from him.
            "short_of_hinton": final["single_run"]["verdict"] == "short",
            "exceeds_hinton": final["single_run"]["verdict"] == "exceeds",
            "chosen_is_baseline": r["chosen"] == "assignment",
            "best_variant_gain": max(row["validation"]["mean"] for row in r["rows"])
            - next(row["validation"]["mean"] for row in r["rows"] if row["name"] == "assignment"),
        }
    if name == "q4d":
        novelty = r["novelty"]
        return {"share_of_ceiling": r["agreement"] / r["ceiling"]["agreement"],
                "closer_than_real": novelty["generated_median"] < novelty["test_median"],
                # near-copies: more of the generated digits than of the test digits, whose
                # share the rule fixes at its percentile
                "more_copies_than_real": novelty["near_copies"]
                > novelty["percentile"] / 100,
                # confident on images decoded from codes no class's digits produce
                "confident_away": min(c["mean_confidence"] for c in r["random_codes"].values())
                > 0.5}  # fmt: skip
    if name == "q3":
        ensemble = r["ensemble"]["test_accuracy"] if r["ensemble"] else r["test_accuracy"]
        return {"test_error": 1 - r["test_accuracy"],
                "ensemble_gain": ensemble - r["seeds"]["test"]["mean"],
                "conv_blocks": sum(layer["kind"] == "Conv2D" for layer in r["layers"]),
                "beats_hinton": r["test_accuracy"] > answers.HINTON_ACCURACY}  # fmt: skip
    return {}


def _figures(name: str, r: dict, sections: dict[str, SectionResult]) -> dict[str, Markup]:
    """The SVGs of one section, keyed by item id."""
    made = {}
    if name == "q2b":
        made["eq-ce"] = _equation(r["latex"], "eq-ce")
    elif name == "q2c":
        made["fig-q2c-curves"] = figures.training_curves(
            r["history"], title="Notebook MLP", name="q2c"
        )
    elif name == "q2d":
        s = r["summary"]
        made["fig-q2d-sweep"] = figures.sweep_accuracy(
            s["per_factor"],
            r["runs"],
            hinton=answers.HINTON_ACCURACY,
            best_l2=s["best_l2"],
            test=r["test"],
            name="q2d-sweep",
        )
        made["fig-q2d-curves"] = figures.sweep_curves(r["runs"], name="q2d-curves")
    elif name == "q2e":
        made["fig-q2e-errors"] = figures.variant_errors(
            r["rows"],
            r["final"],
            chosen=r["chosen"],
            hinton_error=answers.HINTON_TEST_ERROR,
            name="q2e",
        )
    elif name == "q3":
        made["fig-q3-curves"] = figures.training_curves(r["history"], title="CNN", name="q3c")
        made["fig-q3-confusion"] = figures.confusion_matrix(r["confusion"], name="q3m")
    elif name == "q4a":
        made["fig-q4a-diagram"] = figures.autoencoder_diagram(r["layers"], name="q4a-d")
        made["eq-bce"] = _equation(r["loss_check"]["latex"], "eq-bce")
        made["fig-q4a-curves"] = figures.loss_curves(
            r["history"], title="Autoencoder", name="q4a-c"
        )
    elif name == "q4b":
        made["fig-q4b-grid"] = figures.noise_grid(
            r["levels"], r["grid_noisy"], r["grid_denoised"], reading=r["grid"], name="q4b"
        )
    elif name == "q4c":
        bar, readable, limit = _thresholds(sections["q4b"])
        made["fig-q4c-accuracy"] = figures.accuracy_under_noise(
            r["rows"], bar=bar, readable=readable, limit=limit, name="q4c"
        )
    elif name == "q4d":
        made["fig-q4d-generated"] = figures.generated_digits(r["grid"], name="q4d")
    return {k: Markup(v) for k, v in made.items() if v is not None}  # fmt: skip


def _eye(config: ReportConfig, q4b: dict) -> dict | None:
    """The student's own reading of 4b's grid (report.toml) against the measured
    threshold; None when they gave none."""
    eye = config.hard_to_identify_by_eye
    if eye is None:
        return None
    compared = answers.eye_against_measure(eye, q4b["hard"]["crossing"], q4b["levels"])
    # how many of the grid's digits the better reader names in the row the eye chose
    row = next((row for row in q4b["grid"]["rows"] if abs(row["level"] - eye) < 1e-9), None)
    return {**compared, "grid_named": row["named"] if row else None}


def _thresholds(q4b: SectionResult) -> tuple[float | None, float | None, float | None]:
    """4b's bar and its two thresholds (interpolated), marked on 4c's figure when 4b
    was built."""
    if q4b.status != "done":
        return None, None, None
    r = q4b.result
    hard, fails = r["hard"]["crossing"], r["denoised_below"]["crossing"]
    return (r["bar"], hard["interpolated"] if hard else None,
            fails["interpolated"] if fails else None)  # fmt: skip


def _equation(latex: str, name: str) -> str:
    """A formula as SVG whose <title> keeps the LaTeX source, for readers and search."""
    return figures.formula(latex, name=name)


def provenance_record(
    *,
    sections: dict[str, SectionResult],
    profile: Profile,
    fingerprint: str,
    env: dict,
    benchmarks: dict | None,
) -> dict:
    """The evidence behind the report as plain data, for provenance.json: every stored
    run (key, seed, wall time), the data's fingerprint, the software and machine, every
    profile setting beside the assignment's, and the latest benchmark run."""
    settings = dataclasses.asdict(profile)
    assignment = dataclasses.asdict(FULL)
    return {
        "profile": profile.name,
        "settings": settings,
        "differs_from_assignment": {
            k: {"this_report": v, "assignment": assignment[k]}
            for k, v in settings.items()
            if k != "name" and v != assignment[k]
        },  # fmt: skip
        "data": {
            "dataset": "MNIST",
            "fingerprint": fingerprint,
            "verified": "every file against its published SHA-256",
        },  # fmt: skip
        "environment": env,
        "runs": [{**row, "data_fingerprint": fingerprint} for row in _provenance(sections)],
        "benchmarks": benchmarks,
    }
