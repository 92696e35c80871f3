"""Question 4b: noisy and denoised digits for noise levels 0 to 1, and two
thresholds computed from data: where digits become hard to identify, and
where denoising stops working."""

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
    mse_noisy = entry.arrays["mse_noisy"].mean(axis=1).tolist()
    mse_denoised = entry.arrays["mse_denoised"].mean(axis=1).tolist()
    return {
        "levels": levels,
        "grid_noisy": entry.arrays["grid_noisy"],
        "grid_denoised": entry.arrays["grid_denoised"],
        "grid_digits": entry.results["grid_digits"],
        "readable": answers.readability_threshold(levels, noisy, profile.readable_fraction),
        "readable_denoised": answers.readability_threshold(
            levels, denoised, profile.readable_fraction
        ),
        "denoising": answers.denoising_limit(levels, noisy, denoised, profile.denoising_margin),
        "mse_noisy": mse_noisy,
        "mse_denoised": mse_denoised,
        "mse_always_lower": all(
            d < n for n, d in zip(mse_noisy, mse_denoised, strict=True) if n > 0
        ),  # fmt: skip
        "key": entry.key,
    }
