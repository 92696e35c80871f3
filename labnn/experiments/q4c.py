"""Question 4c: test accuracy against noise level of three readers of the same noisy
digits: the question-3 CNN, the same CNN after the autoencoder, and the noise-aware
CNN; mean ± std over noise seeds (one trained model of each: the ± covers the noise
draws only, not training seeds)."""

import numpy as np

from labnn import answers
from labnn.data import NUM_CLASSES, Mnist, subset
from labnn.experiments import q4
from labnn.profiles import Profile
from labnn.store import Store


def run(
    profile: Profile, data: Mnist, store: Store, *, progress=None, scheduler: str = "auto"
) -> dict:
    entry = q4.noise_evaluation(profile, data, store, progress=progress, scheduler=scheduler)
    levels = entry.results["levels"]
    noisy = q4.per_level(levels, entry.arrays["accuracy_noisy"])
    denoised = q4.per_level(levels, entry.arrays["accuracy_denoised"])
    aware = q4.per_level(levels, entry.arrays["accuracy_aware"])
    rows = [
        {"level": n["level"], "noisy": n, "denoised": d, "aware": a, "gain": d["mean"] - n["mean"]}
        for n, d, a in zip(noisy, denoised, aware, strict=True)
    ]
    clean_error, denoised_error = 1 - noisy[0]["mean"], 1 - denoised[0]["mean"]
    labels = subset(data, n_test=profile.n_test).y_test
    collapse = {name: answers.collapse(levels, entry.arrays[f"calls_{name}"])
                for name in ("noisy", "denoised", "aware")}  # fmt: skip
    class_share = np.bincount(labels, minlength=NUM_CLASSES) / len(labels)
    for result in collapse.values():  # a collapsed reader is right on its class's digits only
        result["class_share"] = (
            float(class_share[result["first"]["class"]]) if result["first"] else None
        )
    return {
        "rows": rows,
        "levels": levels,
        "seeds": profile.noise_seeds,
        "bar": profile.readable_bar,
        "chance": 1 / NUM_CLASSES,  # one class in ten: a reader that sees no digit
        "test_size": len(data.x_test) if profile.n_test is None else profile.n_test,
        # On clean digits accuracy near 1 hides the change: say it in errors.
        "clean_errors": {
            "cnn": clean_error,
            "denoised": denoised_error,
            "ratio": denoised_error / clean_error if clean_error else None,
        },  # fmt: skip
        "collapse": collapse,
        # Whether the denoised digits keep the CNN's accuracy above 4b's bar to higher
        # noise than the noisy ones do.
        "holds": answers.holds_longer(
            levels,
            [n["mean"] for n in noisy],
            [d["mean"] for d in denoised],
            profile.readable_bar,
        ),
        # Whether the noise-aware reader reads the noisy digits at least as well as the
        # CNN reads them denoised, at every noisy level.
        "aware_at_least_denoised": all(
            a["mean"] >= d["mean"] for a, d in zip(aware[1:], denoised[1:], strict=True)
        ),
        "key": entry.key,
    }
