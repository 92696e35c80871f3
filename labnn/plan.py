"""What a cold build of a profile trains, section by section, from the profile's own counts.

The build's progress line turns this into an estimate of the time left for the whole build.
The counts follow the experiments' protocols (labnn/experiments); a test compares them with
what a quick build stores, so a new run in an experiment fails it until it is planned here.
"""

from __future__ import annotations

from dataclasses import dataclass

from labnn.profiles import Profile

MNIST_TRAIN = 60_000


@dataclass(frozen=True)
class Work:
    """Training runs and their samples (epochs x training images, summed over the runs)."""

    runs: int
    samples: int

    def __add__(self, other: Work) -> Work:
        return Work(self.runs + other.runs, self.samples + other.samples)


def planned_work(profile: Profile, sections: list[str]) -> dict[str, Work]:
    """What a cold build of `sections` trains, per experiment (a run's `experiment`: the
    sections of question 4 share the autoencoder's "q4", 4b and 4c the noise-aware CNN's
    "q4-noise-aware"). Runs that a section needs from another, unselected one (4c's CNN,
    2e's baseline from 2d) are not planned; question 4's noise evaluation predicts and
    trains nothing."""
    all_train = profile.n_train or MNIST_TRAIN
    fit = all_train - profile.validation_size  # the images a run trains on, validation held out
    work = {
        "q2c": Work(1, profile.mlp_epochs * fit),
        "q2d": _sweep(profile, fit),
        "q2e": _variants(profile, fit) + _retrain(profile, all_train),
        "q3": Work(profile.cnn_seeds, profile.cnn_seeds * profile.cnn_epochs * fit),
        "q4": Work(1, profile.ae_epochs * fit),
        "q4-noise-aware": Work(1, profile.noise_aware_epochs * fit),
    }
    wanted = {experiment for name in sections for experiment in TRAINS.get(name, [name])}
    return {experiment: w for experiment, w in work.items() if experiment in wanted}


# The experiments whose runs a section trains, where they are not the section's own name.
TRAINS = {"q4a": ["q4"], "q4b": ["q4", "q4-noise-aware"], "q4c": ["q4", "q4-noise-aware"],
          "q4d": ["q4"]}  # fmt: skip


def _sweep(profile: Profile, fit: int) -> Work:
    runs = len(profile.sweep_factors) * profile.sweep_replicates
    return Work(runs, runs * profile.sweep_epochs * fit)


def _variant_epochs(profile: Profile, name: str) -> int:
    """Epochs a variant's run trains: 2d's, or for "longer" its own, less the epochs of
    2d's run it continues where it does (labnn.experiments.q2e._continues_2d)."""
    if name != "longer":
        return profile.sweep_epochs
    continues = profile.variant_replicates <= profile.sweep_replicates
    if profile.variant_longer_epochs > profile.sweep_epochs and continues:
        return profile.variant_longer_epochs - profile.sweep_epochs
    return profile.variant_longer_epochs


def _variants(profile: Profile, fit: int) -> Work:
    runs = profile.variant_replicates
    epochs = sum(_variant_epochs(profile, name) for name in profile.variants)
    return Work(runs * len(profile.variants), runs * epochs * fit)


def _retrain(profile: Profile, all_train: int) -> Work:
    """The chosen protocol retrained on every training image; which one is chosen is only
    known after the variants train, so this plans the longest candidate (an upper bound)."""
    candidates = [profile.sweep_epochs]  # the baseline, and every variant but "longer"
    if "longer" in profile.variants:
        candidates.append(profile.variant_longer_epochs)
    longest = max(candidates)
    runs = profile.variant_replicates
    return Work(runs, runs * longest * all_train)
