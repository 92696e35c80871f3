"""Question 4b: noisy and denoised digits for noise levels 0 to 1, and two
thresholds computed from data.

"Hard to identify" is not where the question-3 CNN fails: trained on clean digits
only, it fails early under a change of distribution while the digits are still
legible (the autoencoder recovers them). It is where the better, level by level,
of two readers built for noise reads fewer than `readable_bar` of the digits
correctly: a CNN trained on noise of every level (`q4.train_noise_aware`) and the
clean CNN after the autoencoder; together a lower bound on the best reader.
The assignment's "denoising stops working" is measured where the CNN reads fewer
than that of the denoised digits: the denoised digits fall below the bar, which is
not where denoising stops helping (it still adds tens of points there) nor where
nothing works any more (level 1). Each threshold is shown for bars from 80 % to
95 %. One bar, absolute, serves every reader: the clean CNN's brittleness is where
it falls below the same bar, not below a share of its own clean accuracy.

Whether a digit is hard to read is also a judgement of the eye, which no program
makes: the grid marks what the better reader of each level calls each digit it
shows, so the student can set their own reading against it (report.toml's
`[observations]`, compared in the report).
"""

from labnn import answers
from labnn.data import Mnist
from labnn.experiments import q4
from labnn.profiles import Profile
from labnn.store import Store


def run(
    profile: Profile, data: Mnist, store: Store, *, progress=None, scheduler: str = "auto"
) -> dict:
    entry = q4.noise_evaluation(profile, data, store, progress=progress, scheduler=scheduler)
    levels = entry.results["levels"]
    noisy = entry.arrays["accuracy_noisy"].mean(axis=1).tolist()
    denoised = entry.arrays["accuracy_denoised"].mean(axis=1).tolist()
    aware = entry.arrays["accuracy_aware"].mean(axis=1).tolist()
    mse_noisy = entry.arrays["mse_noisy"].mean(axis=1).tolist()
    mse_denoised = entry.arrays["mse_denoised"].mean(axis=1).tolist()
    bar = profile.readable_bar
    best = [max(a, d) for a, d in zip(aware, denoised, strict=True)]
    readers = answers.better_readers(aware, denoised)
    gains = [d - n for n, d in zip(noisy, denoised, strict=True)]
    crossing = answers.first_crossing(levels, denoised, bar)
    # what denoising still adds where the denoised digits fall below the bar
    below = {"bar": bar, "crossing": crossing,
             "gain": gains[levels.index(crossing["level"])] if crossing else None}  # fmt: skip
    grid_calls = {name: entry.arrays[f"grid_calls_{name}"] for name in ("aware", "denoised")}
    readings = {"best": best, "aware": aware, "denoised": denoised}
    by_bar = {name: answers.crossings(levels, values) for name, values in readings.items()}
    return {
        "levels": levels,
        "grid_noisy": entry.arrays["grid_noisy"],
        "grid_denoised": entry.arrays["grid_denoised"],
        "grid_digits": entry.results["grid_digits"],
        # what the reader behind `hard` calls the grid's digits, level by level
        "grid": answers.grid_reading(levels, entry.results["grid_labels"], grid_calls, readers),
        "bar": bar,
        "hard": {"bar": bar, "crossing": answers.first_crossing(levels, best, bar)},
        "hard_by_bar": by_bar["best"],
        # the noise-aware CNN alone, and where it is the better of the two readers
        "aware_by_bar": by_bar["aware"],
        "aware_better_at": [lv for lv, a, d in zip(levels, aware, denoised, strict=True) if a > d],
        "denoised_below": below,
        "denoised_below_by_bar": by_bar["denoised"],
        # whether Table 8 has a reader that never falls below some bar (a dash)
        "some_bar_never_crossed": any(
            row["crossing"] is None for rows in by_bar.values() for row in rows
        ),
        # Where the clean CNN breaks: a measure of its brittleness, not of the digits.
        "readable": {"bar": bar, "crossing": answers.first_crossing(levels, noisy, bar)},
        "denoising": answers.denoising_limit(levels, noisy, denoised, profile.denoising_margin),
        # The noise-aware reader of the noisy digits against denoise-then-classify.
        "aware_lead": answers.lead(levels, aware, denoised),
        "aware": aware,
        "aware_epochs": profile.noise_aware_epochs,
        "mse_noisy": mse_noisy,
        "mse_denoised": mse_denoised,
        "mse_always_lower": all(
            d < n for n, d in zip(mse_noisy, mse_denoised, strict=True) if n > 0
        ),  # fmt: skip
        "key": entry.key,
    }
