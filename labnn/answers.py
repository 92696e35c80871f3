"""Derived quantities: what the questions ask, as plain functions of results.

Nothing here trains. Each function says in its docstring which question it answers.
"""

from __future__ import annotations

import math

import numpy as np

HINTON_TEST_ERROR = (
    0.0153  # MNIST page, "3-layer NN, 500+300 HU, softmax, cross entropy, weight decay"
)
HINTON_ACCURACY = 1 - HINTON_TEST_ERROR  # 0.9847

# Two-sided 95 % quantiles of Student's t, by degrees of freedom (any statistics table).
_T_975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306,
          9: 2.262, 10: 2.228, 12: 2.179, 15: 2.131, 20: 2.086, 30: 2.042}  # fmt: skip

CROSS_ENTROPY_LATEX = r"L = -\frac{1}{N}\sum_{n=1}^{N}\sum_{k=1}^{K} y_{nk}\,\log \hat{y}_{nk}"
BINARY_CROSS_ENTROPY_LATEX = (
    r"L = -\frac{1}{N D}\sum_{n=1}^{N}\sum_{d=1}^{D}"
    r"\left[x_{nd}\log \hat{x}_{nd} + (1 - x_{nd})\log(1 - \hat{x}_{nd})\right]"
)


def dense_params_by_formula(sizes: list[int]) -> list[dict]:
    """Q2a: parameters of each dense layer, in * out weights + out biases."""
    return [
        {"inputs": n_in, "outputs": n_out, "weights": n_in * n_out, "biases": n_out,
         "params": n_in * n_out + n_out}
        for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True)
    ]  # fmt: skip


def categorical_cross_entropy(y_true: np.ndarray, y_pred: np.ndarray, eps=1e-7) -> float:
    """Q2b: L = -(1/N) sum_n sum_k y_nk log p_nk, with p clipped as Keras clips it."""
    p = np.clip(y_pred.astype(np.float64), eps, 1 - eps)
    return float(-np.mean(np.sum(y_true * np.log(p), axis=1)))


def binary_cross_entropy(x_true: np.ndarray, x_pred: np.ndarray, eps=1e-7) -> float:
    """Q4a: mean over pixels of -[x log p + (1 - x) log(1 - p)], p clipped as Keras clips it."""
    p = np.clip(x_pred.astype(np.float64), eps, 1 - eps)
    x = x_true.astype(np.float64)
    return float(-np.mean(x * np.log(p) + (1 - x) * np.log(1 - p)))


def mean_std(values) -> dict:
    """Mean, sample standard deviation (ddof 1; 0 for a single value) and count."""
    arr = np.asarray(values, dtype=np.float64)
    std = float(arr.std(ddof=1)) if len(arr) > 1 else 0.0
    return {"mean": float(arr.mean()), "std": std, "n": len(arr)}


def t_quantile(df: int) -> float:
    """The two-sided 95 % quantile of Student's t with `df` degrees of freedom, from the
    table (the row at or below `df`, so conservative between rows and beyond 30)."""
    return _T_975[max(k for k in _T_975 if k <= df)]


def confidence_interval(values, *, spread: dict | None = None) -> dict:
    """A 95 % Student-t confidence interval for the mean of a few replicates; `spread`
    (from `pooled_std`) replaces their own standard deviation and degrees of freedom."""
    stats = mean_std(values)
    n = stats["n"]
    std, df = (stats["std"], n - 1) if spread is None else (spread["std"], spread["df"])
    if n < 1 or df < 1:
        return {**stats, "low": stats["mean"], "high": stats["mean"], "half_width": math.nan,
                "level": 0.95}  # fmt: skip
    t = t_quantile(df)
    half = t * std / math.sqrt(n)
    return {**stats, "low": stats["mean"] - half, "high": stats["mean"] + half,
            "half_width": half, "t": t, "level": 0.95}  # fmt: skip


def sweep_summary(runs: list[dict]) -> dict:
    """Q2d: per L2 factor the mean and std of final validation accuracy, the best
    factor (highest mean, chosen on validation data only) and the best single run."""
    factors = sorted({run["l2"] for run in runs})
    per_factor = []
    for factor in factors:
        own = [run for run in runs if run["l2"] == factor]
        accs = [run["val_accuracy"] for run in own]
        per_factor.append({"l2": factor, **mean_std(accs), "values": accs,
                           "seeds": [run["seed"] for run in own]})  # fmt: skip
    best = max(per_factor, key=lambda row: row["mean"])
    top = max(runs, key=lambda run: run["val_accuracy"])
    return {
        "per_factor": per_factor,
        "best_l2": best["l2"],
        "best_mean": best["mean"],
        "best_std": best["std"],
        "max_val_accuracy": top["val_accuracy"],
        "max_run": {"l2": top["l2"], "seed": top["seed"]},
        "mean_replicate_std": float(np.mean([row["std"] for row in per_factor])),
    }


def gap_to_hinton(accuracy: float) -> dict:
    """Q2d: how far an accuracy is from Hinton's 0.9847, in accuracy and in test error."""
    return {
        "hinton_accuracy": HINTON_ACCURACY,
        "hinton_error": HINTON_TEST_ERROR,
        "accuracy": accuracy,
        "gap": HINTON_ACCURACY - accuracy,
        "error": 1 - accuracy,
        "relative_error_increase": (1 - accuracy) / HINTON_TEST_ERROR - 1,
    }


def gap_versus_spread(values) -> dict:
    """Q2d: is the gap to Hinton larger than the replicate spread?

    Compares the gap with the replicates' standard deviation and checks whether
    0.9847 lies inside the 95 % confidence interval of their mean.
    """
    interval = confidence_interval(values)
    gap = HINTON_ACCURACY - interval["mean"]
    std = interval["std"]
    return {
        **interval,
        "gap": gap,
        "gap_in_stds": gap / std if std > 0 else math.inf,
        "hinton_inside_interval": interval["low"] <= HINTON_ACCURACY <= interval["high"],
        "gap_exceeds_spread": abs(gap) > 2 * std,
    }


# Q2d: a curve "still rises" when the slope over its last epochs exceeds what the
# epoch-to-epoch noise allows. The window is the last quarter of the epochs (10 of 40),
# at least 5 where the curve has them (fewer points leave the noise barely measured), at
# most 10 (the end, not the early climb, is what the question is about); a curve of
# fewer than 3 epochs is not judged (a slope and a residual need 3 points).
TREND_WINDOW = (5, 10)
FEWEST_EPOCHS = 3


def trend_at_end(curve) -> dict:
    """Q2d: is a validation-accuracy curve still rising at its last epoch?

    Fits a line by least squares to the last quarter of the epochs and holds its slope
    against the epoch-to-epoch noise, measured as the scatter of those epochs around the
    line: the slope's 95 % Student-t interval (n - 2 degrees of freedom).

    Returns:
        epochs (the window), slope (per epoch), noise (residual standard deviation),
        rise (slope times the epochs the window spans), low/high (the slope's interval),
        verdict: "rising" or "falling" when the interval excludes zero, "flat" when
        it includes it, None when the curve has fewer than 3 epochs to judge; and
        detectable_rise, the smallest rise over the window the test would tell from noise.
    """
    values = np.asarray(curve, dtype=np.float64)
    low_w, high_w = TREND_WINDOW
    window = min(max(len(values) // 4, low_w), high_w, len(values))
    if len(values) < FEWEST_EPOCHS:
        return {"epochs": len(values), "slope": None, "noise": None, "rise": None,
                "low": None, "high": None, "verdict": None,
                "detectable_rise": None}  # fmt: skip
    y = values[-window:]
    x = np.arange(window, dtype=np.float64) - (window - 1) / 2  # centred: slope = Sxy / Sxx
    slope = float(x @ (y - y.mean()) / (x @ x))
    residuals = y - y.mean() - slope * x
    noise = float(np.sqrt(residuals @ residuals / (window - 2)))
    half = t_quantile(window - 2) * noise / math.sqrt(x @ x)
    low, high = slope - half, slope + half
    verdict = "rising" if low > 0 else "falling" if high < 0 else "flat"
    # The test's power: the smallest rise over the window whose interval would exclude
    # zero at this noise. A "flat" verdict says no rise larger than this was seen, not
    # that there is none.
    return {"epochs": window, "slope": slope, "noise": noise, "rise": slope * (window - 1),
            "low": low, "high": high, "verdict": verdict,
            "detectable_rise": half * (window - 1)}  # fmt: skip


def curve_trends(runs: list[dict], metric: str = "val_accuracy") -> dict:
    """Q2d: `trend_at_end` of each factor's curve averaged over its replicates (the curves
    the report plots), and which factors' curves still rise."""
    factors = sorted({run["l2"] for run in runs})
    per_factor = []
    for factor in factors:
        curves = np.array([run["history"][metric] for run in runs if run["l2"] == factor])
        per_factor.append({"l2": factor, **trend_at_end(curves.mean(axis=0))})
    verdicts = [row["verdict"] for row in per_factor]
    return {
        "per_factor": per_factor,
        "rising": [row["l2"] for row in per_factor if row["verdict"] == "rising"],
        "all_rising": all(v == "rising" for v in verdicts),
        "none_rising": all(v != "rising" for v in verdicts),
        "judged": None not in verdicts,
    }


def accuracies_differ(first: float, first_size: int, second: float, second_size: int) -> dict:
    """Q2d: whether two accuracies measured on different image sets (test and validation)
    differ by more than the sampling noise of sets of these sizes: a two-proportion
    z-test at 95 %, each accuracy read as a share of correct images. Averaging models
    does not shrink this noise: every model sees the same images."""
    pooled = (first * first_size + second * second_size) / (first_size + second_size)
    se = math.sqrt(pooled * (1 - pooled) * (1 / first_size + 1 / second_size))
    difference = first - second
    z = difference / se if se > 0 else (math.inf if difference else 0.0)
    return {"difference": difference, "standard_error": se, "z": z, "differ": abs(z) > 1.96}


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, classes: int = 10) -> np.ndarray:
    """Q3: counts[true, predicted]."""
    matrix = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(matrix, (labels.astype(int), predicted.astype(int)), 1)
    return matrix


def layers_after(layers: list[dict], kind: str) -> list[dict]:
    """Q3: the layers (`describe_layers` rows) after the last one of `kind`, the network's
    head after its last pooling, say; all of them when there is none of that kind."""
    last = max((i for i, layer in enumerate(layers) if layer["kind"] == kind), default=-1)
    return layers[last + 1 :]


def most_confused(matrix: np.ndarray, top: int = 3) -> list[dict]:
    """Q3: the off-diagonal cells with the most errors (true digit read as another)."""
    off = matrix.copy()
    np.fill_diagonal(off, 0)
    order = np.argsort(off, axis=None)[::-1][:top]
    cells = [np.unravel_index(i, off.shape) for i in order]
    return [{"true": int(t), "predicted": int(p), "count": int(off[t, p])} for t, p in cells
            if off[t, p] > 0]  # fmt: skip


def first_crossing(levels, values, threshold: float) -> dict | None:
    """The first noise level where `values` fall below `threshold`: the grid level,
    and the level found by linear interpolation from the grid point before it."""
    for i, (level, value) in enumerate(zip(levels, values, strict=True)):
        if value < threshold:
            if i == 0:
                return {"level": float(level), "interpolated": float(level)}
            x0, y0 = levels[i - 1], values[i - 1]
            fraction = (y0 - threshold) / (y0 - value)
            return {"level": float(level), "interpolated": float(x0 + fraction * (level - x0))}
    return None


def denoising_limit(levels, noisy, denoised, margin: float) -> dict:
    """Q4b: where denoising stops working, defined as the lowest noise level above 0
    from which on (at it and at every higher level) denoising adds no more than
    `margin` to the CNN's accuracy. None when it still helps at the highest level."""
    gains = [d - n for n, d in zip(noisy, denoised, strict=True)]
    limit = None
    for level, gain in reversed(list(zip(levels, gains, strict=True))):
        if level == 0 or gain > margin:
            break
        limit = float(level)
    helped = [float(lv) for lv, g in zip(levels, gains, strict=True) if lv > 0 and g > margin]
    return {
        "margin": margin,
        "gains": gains,
        "level": limit,
        "helps_at": helped,
        "best_gain": max(gains),
        "best_gain_level": float(levels[gains.index(max(gains))]),
    }


# Verdicts of a comparison, in the words the report prints.
NOT_DISTINGUISHABLE = "not distinguishable"
COIN_FLIP = "coin flip"


def pooled_std(groups) -> dict:
    """The standard deviation pooled over groups of replicates that share one spread (the
    runs of several settings trained with the same seeds): sqrt(sum((n_i - 1) s_i^2) /
    sum(n_i - 1)), with sum(n_i - 1) degrees of freedom. A group of one value adds
    nothing; with no degree of freedom the spread is unknown (nan)."""
    groups = [np.asarray(g, dtype=np.float64) for g in groups]
    df = sum(len(g) - 1 for g in groups if len(g) > 1)
    squares = sum(float(((g - g.mean()) ** 2).sum()) for g in groups if len(g) > 1)
    return {"std": math.sqrt(squares / df) if df else math.nan, "df": df,
            "groups": sum(len(g) > 1 for g in groups),
            "runs": sum(len(g) for g in groups)}  # fmt: skip


def prediction_interval(values, *, spread: dict | None = None) -> dict:
    """A 95 % prediction interval for ONE new run of the protocol that gave `values`:
    mean ± t·s·sqrt(1 + 1/n), t with n - 1 degrees of freedom.

    This, not the mean's confidence interval, is what a single published run (such as
    Hinton's) is compared with: his number is one draw, and a single run of ours
    scatters by the replicate spread, not by the spread of a mean. With fewer than two
    values nothing is known of the spread, and the interval is unbounded.

    `spread` (from `pooled_std`) replaces the values' own standard deviation and degrees
    of freedom: a few replicates' own spread can be far from the seeds' true spread.
    """
    stats = mean_std(values)
    n = stats["n"]
    std, df = (stats["std"], n - 1) if spread is None else (spread["std"], spread["df"])
    if n < 1 or df < 1:
        half, t = math.inf, math.inf
    else:
        t = t_quantile(df)
        half = t * std * math.sqrt(1 + 1 / n)
    return {**stats, "std": std, "df": df, "pooled": spread is not None,
            "low": stats["mean"] - half, "high": stats["mean"] + half,
            "half_width": half, "t": t, "level": 0.95}  # fmt: skip


def against_single_run(values, target: float, *, spread: dict | None = None) -> dict:
    """Where one published run `target` lies against a single run of our protocol
    (accuracies: the interval is cut to [0, 1]); `spread` as in `prediction_interval`.

    verdict: "short" when the whole prediction interval lies below `target`,
    "exceeds" when it lies above, else "not distinguishable" (at this replicate count).
    gap_in_stds: the gap from our mean to `target` in the interval's standard deviations.
    """
    interval = prediction_interval(values, spread=spread)
    # Accuracies cannot leave [0, 1]; a wide interval of few runs can.
    interval["low"], interval["high"] = max(interval["low"], 0.0), min(interval["high"], 1.0)
    if interval["high"] < target:
        verdict = "short"
    elif interval["low"] > target:
        verdict = "exceeds"
    else:
        verdict = NOT_DISTINGUISHABLE
    gap, std = target - interval["mean"], interval["std"]
    in_stds = gap / std if std > 0 and math.isfinite(std) else None
    return {**interval, "target": target, "gap": gap, "gap_in_stds": in_stds,
            "verdict": verdict}  # fmt: skip


def paired_difference(first: dict, second: dict) -> dict:
    """`first` minus `second`, seed by seed, over the seeds both share ({seed: value}).

    Runs with the same seed share initial weights and batch order, so their
    difference cancels much of the seed's luck. verdict: "higher" or "lower" when
    the 95 % confidence interval of the mean difference excludes 0, else
    "not distinguishable" (always so with fewer than two shared seeds).
    """
    seeds = sorted(set(first) & set(second))
    differences = [first[seed] - second[seed] for seed in seeds]
    if len(differences) < 2:
        stats = mean_std(differences) if differences else {"mean": math.nan, "std": math.nan,
                                                           "n": 0}  # fmt: skip
        return {**stats, "seeds": seeds, "differences": differences, "low": -math.inf,
                "high": math.inf, "verdict": NOT_DISTINGUISHABLE}  # fmt: skip
    interval = confidence_interval(differences)
    if interval["low"] > 0:
        verdict = "higher"
    elif interval["high"] < 0:
        verdict = "lower"
    else:
        verdict = NOT_DISTINGUISHABLE
    return {**interval, "seeds": seeds, "differences": differences, "verdict": verdict}


def choice_margin(chosen: dict, runner_up: dict) -> dict:
    """How firm a choice is: the chosen candidate against the runner-up, per seed.

    verdict: "coin flip" when the mean margin is no larger than the standard
    deviation of the per-seed differences (another set of seeds could well reverse
    it); "not distinguishable" when it is larger but the 95 % interval of the mean
    difference still includes 0; "clear" otherwise. `replicates_needed` is the
    replicate count at which an interval as wide as this spread implies would
    exclude 0 at this margin (None without a positive margin and spread).
    """
    difference = paired_difference(chosen, runner_up)
    margin, spread = difference["mean"], difference["std"]
    if difference["n"] < 2 or not margin > spread:
        verdict = COIN_FLIP
    elif difference["verdict"] == "higher":
        verdict = "clear"
    else:
        verdict = NOT_DISTINGUISHABLE
    return {**difference, "margin": margin, "spread": spread, "verdict": verdict,
            "replicates_needed": replicates_needed(margin, spread)}  # fmt: skip


def replicates_needed(margin: float, spread: float, *, limit: int = 100_000) -> int | None:
    """The smallest n at which t(n-1) · spread / sqrt(n) < margin: the replicates that
    would tell a mean difference of `margin` from 0, if the spread stays as measured."""
    if not (margin > 0 and spread > 0) or math.isnan(margin + spread):
        return None
    for n in range(2, limit):
        if t_quantile(n - 1) * spread / math.sqrt(n) < margin:
            return n
    return None


def by_seed(row: dict, key: str = "values") -> dict:
    """{seed: value} of a row holding parallel lists `seeds` and `key`."""
    return dict(zip(row["seeds"], row[key], strict=True))


def factor_effects(per_factor: list[dict], best_l2: float) -> dict:
    """Q2d: every other factor against the chosen one, paired by seed (all factors
    share the seeds); which factors are distinguishably worse; how far apart the
    means of the others (the chosen one included) lie; and the choice's margin over
    the runner-up."""
    best = next(row for row in per_factor if row["l2"] == best_l2)
    others = [row for row in per_factor if row["l2"] != best_l2]
    comparisons = [{"l2": row["l2"], **paired_difference(by_seed(best), by_seed(row))}
                   for row in others]  # fmt: skip
    worse = [c["l2"] for c in comparisons if c["verdict"] == "higher"]
    alike = [row["mean"] for row in per_factor if row["l2"] not in worse]
    runner_up = max(others, key=lambda row: row["mean"]) if others else None
    return {
        "comparisons": comparisons,
        "worse": worse,
        "n_alike": len(alike),
        "range_alike": max(alike) - min(alike),
        "runner_up": runner_up["l2"] if runner_up else None,
        "choice": choice_margin(by_seed(best), by_seed(runner_up)) if runner_up else None,
    }


# Q4b: the bars whose thresholds the report shows, to show how much a threshold
# depends on where its bar is set.
READABLE_BARS = (0.80, 0.85, 0.90, 0.95)
# Q4c: a reader that gives one class to more than this share of the digits (ten
# classes, about a tenth each) has collapsed onto that class rather than guessed.
COLLAPSE_SHARE = 0.5


def crossings(levels, values, bars=READABLE_BARS) -> list[dict]:
    """Q4b: for each accuracy bar, the first noise level where `values` fall below it."""
    return [{"bar": bar, "crossing": first_crossing(levels, values, bar)} for bar in bars]


def better_readers(aware, denoised) -> list[str]:
    """Q4b: per noise level, the reader with the higher accuracy, whose accuracy makes
    the "hard to identify" curve: "aware" (the noise-aware CNN on the noisy digits) or
    "denoised" (the clean CNN after the autoencoder); "aware" on a tie, which needs no
    autoencoder."""
    return ["aware" if a >= d else "denoised" for a, d in zip(aware, denoised, strict=True)]


def grid_reading(levels, labels, calls: dict, readers: list[str]) -> dict:
    """Q4b: what the better reader of each level calls the digits the grid shows.

    Args:
        labels: the grid digits' true classes.
        calls: {reader: (levels, digits) classes it called}, one noise draw per level.
        readers: the reader of each level (`better_readers`).

    Returns: per level the reader, its calls, which are right and how many; the last
    level up to which (from level 0 on) it names every digit, the first level where it
    misses one, and the first where it names fewer than half.
    """
    labels = [int(label) for label in labels]
    rows = []
    for i, (level, reader) in enumerate(zip(levels, readers, strict=True)):
        called = [int(c) for c in np.asarray(calls[reader])[i]]
        right = [c == t for c, t in zip(called, labels, strict=True)]
        rows.append({"level": float(level), "reader": reader, "calls": called,
                     "right": right, "named": sum(right)})  # fmt: skip
    shown = len(labels)
    missed = [row for row in rows if row["named"] < shown]
    below_half = [row for row in rows if 2 * row["named"] < shown]
    first_miss = missed[0] if missed else None
    before = rows[: rows.index(first_miss)] if first_miss else rows
    return {
        "rows": rows,
        "shown": shown,
        "labels": labels,
        "all_named_up_to": before[-1]["level"] if before else None,
        "first_miss": first_miss,
        "first_below_half": below_half[0] if below_half else None,
    }


# Verdicts of the eye against the measurement, in the words the report prints.
EYE_EARLIER, EYE_LATER, EYE_AGREES = "earlier", "later", "agrees"


def level_digits(level: float) -> int:
    """Q4b: the decimals a noise level needs, one or two: 0.5 as the measured levels are
    written, 0.45 where a level lies between them."""
    return 1 if abs(round(level, 1) - level) < 1e-9 else 2


def eye_against_measure(eye: float, crossing: dict | None, levels) -> dict:
    """Q4b: the level from which on the student, looking at the grid, finds the digits
    hard to identify (`eye`), against the measured threshold (`crossing`, from
    `first_crossing`: None when the readers never fall below the bar).

    The measurement is only as fine as its grid of levels, so the two agree when they
    lie within one level step (the spacing of the measured levels at the crossing) of
    each other. Else the eye is "earlier" (a person gives up on digits that the reader
    still names) or "later" (the reader, a lower bound on the best reader, fails on
    digits a person still reads). With no measured crossing, any eye inside the
    measured range is earlier.
    """
    levels = [float(level) for level in levels]
    digits = level_digits(eye)
    if crossing is None:
        return {"eye": eye, "digits": digits, "measured": None, "step": None,
                "difference": None,
                "verdict": EYE_EARLIER if eye <= levels[-1] else EYE_AGREES}  # fmt: skip
    index = levels.index(crossing["level"])
    # the step below the crossing; above it when it is at the first level; none of one
    neighbour = levels[index - 1] if index > 0 else levels[min(1, len(levels) - 1)]
    step = abs(levels[index] - neighbour)
    measured = crossing["interpolated"]
    difference = eye - measured
    # Within a step, with room for float rounding (0.6 - 0.5 is 0.0999...).
    if abs(difference) <= step + 1e-9:
        verdict = EYE_AGREES
    else:
        verdict = EYE_EARLIER if difference < 0 else EYE_LATER
    return {"eye": eye, "digits": digits, "measured": measured, "step": step,
            "step_digits": level_digits(step), "difference": abs(difference),
            "verdict": verdict}  # fmt: skip


def collapse(levels, calls: np.ndarray, *, share: float = COLLAPSE_SHARE) -> dict:
    """Q4c: per noise level, the class a reader calls most often and its share of all
    its calls (summed over noise seeds); the levels where that share exceeds `share`.

    Args:
        calls: (levels, seeds, classes) counts of the classes a reader called.
    """
    totals = np.asarray(calls).sum(axis=1)  # (levels, classes)
    top = totals.argmax(axis=1)
    shares = totals.max(axis=1) / totals.sum(axis=1)
    rows = [{"level": float(lv), "class": int(k), "share": float(sh)}
            for lv, k, sh in zip(levels, top, shares, strict=True)]  # fmt: skip
    collapsed = [row for row in rows if row["share"] > share]
    return {
        "rows": rows,
        "threshold": share,
        "levels": [row["level"] for row in collapsed],
        "first": collapsed[0] if collapsed else None,
        # whether every level from the first collapsed one on is collapsed too
        "from_then_on": bool(collapsed) and collapsed == rows[rows.index(collapsed[0]) :],
        "classes": sorted({row["class"] for row in collapsed}),
    }


def holds_longer(levels, noisy, denoised, bar: float) -> dict:
    """Q4c: whether the CNN on denoised digits holds its accuracy to higher noise than on
    the noisy digits themselves: the first level where each falls below `bar` (the same
    absolute accuracy bar as 4b's thresholds), and whether the denoised digits' level is
    higher (or never comes). None without a noisy level to compare, and when the CNN is
    below the bar on clean digits already: then it has no accuracy to hold."""
    noisy_level = first_crossing(levels, noisy, bar)
    denoised_level = first_crossing(levels, denoised, bar)
    if len(levels) < 2 or (noisy_level is not None and noisy_level["level"] == levels[0]):
        longer = None
    elif noisy_level is None:
        longer = False
    else:
        longer = denoised_level is None or denoised_level["level"] > noisy_level["level"]
    return {"bar": bar, "noisy": noisy_level, "denoised": denoised_level,
            "longer": longer}  # fmt: skip


def lead(levels, first, second) -> dict:
    """Q4b: how far reader `first` is ahead of reader `second` (accuracy differences,
    `first` minus `second`) at the noisy levels (above 0): where it is ahead, where
    behind, whether it is ahead at every one of them, and the smallest and largest
    difference there. None for the range when there is no noisy level."""
    noisy = [(float(lv), a - b) for lv, a, b in zip(levels, first, second, strict=True) if lv > 0]
    differences = [d for _, d in noisy]
    ahead = [lv for lv, d in noisy if d > 0]
    return {
        "differences": differences,
        "ahead_at": ahead,
        "behind_at": [lv for lv, d in noisy if d < 0],
        "everywhere": bool(noisy) and len(ahead) == len(noisy),
        "smallest": min(differences) if noisy else None,
        "largest": max(differences) if noisy else None,
    }


def nearest_distances(points: np.ndarray, reference: np.ndarray, *, chunk: int = 8192):
    """Q4d: for each row of `points`, the Euclidean distance to its nearest row of
    `reference` (both (n, d)); computed in chunks of `reference` to bound memory."""
    a = np.asarray(points, dtype=np.float32)
    a_sq = (a**2).sum(axis=1)[:, None]  # (n, 1)
    best = np.full(len(a), np.inf, dtype=np.float32)
    for start in range(0, len(reference), chunk):
        b = np.asarray(reference[start : start + chunk], dtype=np.float32)
        squared = a_sq - 2 * a @ b.T + (b**2).sum(axis=1)[None, :]  # (n, chunk)
        best = np.minimum(best, squared.min(axis=1))
    return np.sqrt(np.maximum(best, 0))


def mean_pairwise_distance(points: np.ndarray) -> float:
    """Q4d: the mean Euclidean distance between distinct rows of `points` (n, d): how
    varied a set of images is."""
    a = np.asarray(points, dtype=np.float64)
    if len(a) < 2:
        return 0.0
    sq = (a**2).sum(axis=1)
    squared = sq[:, None] - 2 * a @ a.T + sq[None, :]
    distances = np.sqrt(np.maximum(squared, 0))
    return float(distances.sum() / (len(a) * (len(a) - 1)))


def training_cost(runs: list[dict]) -> dict:
    """Q2d/Q2e: what training a set of runs cost, from each run's `wall_time_s` and
    `stack` ({"size", "wall_time_s"} when it trained stacked with others, else None).

    A stacked run's wall time is its share of its stack's (training.stack_results), so
    the shares add up to the stacks' own wall times: the sum is the real cost, and a
    stack of k runs counts as 1/k of a training job per run.
    """
    jobs = sum(1 / run["stack"]["size"] if run["stack"] else 1 for run in runs)
    return {"wall_time_s": sum(run["wall_time_s"] for run in runs), "runs": len(runs),
            "jobs": round(jobs), "stacked": any(run["stack"] for run in runs)}  # fmt: skip


def overlapping_runs(intervals: list[tuple[float, float]]) -> int:
    """How many of the (start, end) training intervals overlap another in time: runs
    that shared the machine's cores, whose wall times include the contention."""
    overlapping = 0
    for i, (start, end) in enumerate(intervals):
        if any(s < end and start < e for j, (s, e) in enumerate(intervals) if j != i):
            overlapping += 1
    return overlapping


def hypotheses_revisited(rows: list[dict], baseline: str, target: float) -> dict:
    """Q2e: each variant against the baseline protocol, seed by seed, on validation and
    on the test set (read after the choice), and the test gain's share of the baseline's
    mean test gap to `target` (Hinton's accuracy; None when the baseline is not short)."""
    base = next(row for row in rows if row["name"] == baseline)
    gap = target - float(np.mean(base["test_values"]))
    revisited = []
    for row in rows:
        if row["name"] == baseline:
            continue
        test = paired_difference(by_seed(row, "test_values"), by_seed(base, "test_values"))
        revisited.append({
            "name": row["name"],
            "validation": paired_difference(by_seed(row, "validation_values"),
                                            by_seed(base, "validation_values")),
            "test": test,
            "share_of_gap": test["mean"] / gap if gap > 0 else None,
        })  # fmt: skip
    return {"gap": gap, "variants": revisited}
