"""Question 4c: the question-3 CNN's test accuracy against noise level, on noisy
digits and on the same digits denoised first, mean ± std over noise seeds."""

from labnn.data import Mnist
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
    rows = [
        {"level": n["level"], "noisy": n, "denoised": d, "gain": d["mean"] - n["mean"]}
        for n, d in zip(noisy, denoised, strict=True)
    ]
    return {
        "rows": rows,
        "levels": levels,
        "seeds": profile.noise_seeds,
        "test_size": len(data.x_test) if profile.n_test is None else profile.n_test,
        "key": entry.key,
    }
