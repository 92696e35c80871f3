"""What the question-4 parts share: the trained autoencoder, the question-3 CNN, a
noise-aware CNN, and one evaluation of them on noisy test digits, each kept in the
store."""

from __future__ import annotations

import math
from functools import partial

import numpy as np

from labnn import engine
from labnn.answers import mean_std
from labnn.data import (
    IMAGE_SIDE,
    NOISE_VERSION,
    NUM_CLASSES,
    Mnist,
    Split,
    salt_and_pepper,
    salt_and_pepper_mixed,
)
from labnn.datasets import Dataset, dataset
from labnn.executor import run_all, site
from labnn.experiments import q3
from labnn.experiments.common import restore, train_run
from labnn.models import build_autoencoder, build_cnn
from labnn.profiles import Profile
from labnn.progress import BuildProgress
from labnn.runs import Run
from labnn.scheduler import Scheduler, parse_scheduler, resolve
from labnn.store import Entry, Store

# Test digits shown in the noise grid, one per class (in the evaluation's key): with
# four, a reader's "2 of 4" at a level says little, and a class it never sees cannot fail.
GRID_DIGITS = 10

# In the noise evaluation's store key: bump it when `evaluate_noise` changes its numbers.
# 2: a third reader, the noise-aware CNN, and its calls; 3: each reader's calls on the
# grid's digits, and ten of them
NOISE_EVALUATION_VERSION = 3


def train_autoencoder(profile: Profile, data: Mnist, store: Store, *, progress=None):
    """The autoencoder's stored run: noisy training images in, clean images out."""
    clean = dataset(profile, data, flatten=True)
    rng = np.random.default_rng([profile.seed, 4])  # one seeded noisy copy, as the notebook does
    noisy = Split(
        x_train=salt_and_pepper(clean.split.x_train, profile.ae_train_noise, rng),
        y_train=clean.split.x_train,
        x_val=salt_and_pepper(clean.split.x_val, profile.ae_train_noise, rng),
        y_val=clean.split.x_val,
    )
    spec = {
        **clean.spec,
        "noise": profile.ae_train_noise,
        "noise_seed": [profile.seed, 4],
        "noise_version": NOISE_VERSION,
    }
    run_ = Run(
        experiment="q4",
        build=build_autoencoder,
        params={"learning_rate": profile.ae_learning_rate},
        epochs=profile.ae_epochs,
        batch_size=profile.ae_batch_size,
        seed=profile.seed,
        keep_weights=True,
        label="q4 autoencoder",
    )
    entry = train_run(store, run_, Dataset(clean.prepared, noisy, spec), progress=progress)
    return entry, clean


def models(profile: Profile, data: Mnist, store: Store, *, progress=None, scheduler: str = "auto"):
    """(autoencoder entry, autoencoder, CNN entry, CNN, flat data) for question 4."""
    ae_entry, clean = train_autoencoder(profile, data, store, progress=progress)
    cnn_entry, _ = q3.train_cnn(profile, data, store, progress=progress, scheduler=scheduler)
    return (
        ae_entry,
        restore(ae_entry, build_autoencoder),
        cnn_entry,
        restore(cnn_entry, build_cnn),
        clean,
    )


def noisy_dataset(profile: Profile, mnist: Mnist) -> Dataset:
    """The question-3 CNN's data with half of the training and validation images noised,
    each at a level of its own drawn uniformly from [0, 1] (one seeded noisy copy, as
    for the autoencoder); labels unchanged. Trained on noisy images only, the CNN
    learns far more slowly (measured on 10,000 images, 3 epochs: 37 % clean accuracy
    against 85 % with half of them clean, both at learning rate 2e-3)."""
    clean = dataset(profile, mnist)
    rng = np.random.default_rng([profile.seed, 5])
    split = clean.split
    noisy = Split(
        x_train=salt_and_pepper_mixed(split.x_train, rng),
        y_train=split.y_train,
        x_val=salt_and_pepper_mixed(split.x_val, rng),
        y_val=split.y_val,
    )
    spec = {**clean.spec, "noise": "half clean, half at a uniform level in [0, 1]",
            "noise_seed": [profile.seed, 5], "noise_version": NOISE_VERSION}  # fmt: skip
    return Dataset(clean.prepared, noisy, spec)


def train_noise_aware(
    profile: Profile, data: Mnist, store: Store, *, progress=None, scheduler: str = "auto"
) -> Entry:
    """The noise-aware reader's stored run: the question-3 architecture and recipe,
    trained for `noise_aware_epochs` on `noisy_dataset` at `noise_aware_learning_rate`,
    where `scheduler` says."""
    prepared = noisy_dataset(profile, data)
    steps = profile.noise_aware_epochs * math.ceil(
        len(prepared.split.x_train) / profile.cnn_batch_size
    )  # the cosine decay spans exactly the training steps, as in question 3
    run_ = Run(
        experiment="q4-noise-aware",
        build=build_cnn,
        params={"learning_rate": profile.noise_aware_learning_rate, "decay_steps": steps},
        epochs=profile.noise_aware_epochs,
        batch_size=profile.cnn_batch_size,
        seed=profile.seed,
        keep_weights=True,
        label="q4 noise-aware CNN",
    )
    (entry,) = run_all(store, [run_], prepared, recipe=partial(noisy_dataset, profile),
                       mnist=data, scheduler=scheduler, progress=progress)  # fmt: skip
    return entry


def grid_indices(labels: np.ndarray, count: int = GRID_DIGITS) -> list[int]:
    """The first test image of each of the first `count` digit classes."""
    return [int(np.flatnonzero(labels == digit)[0]) for digit in range(count)]


def noise_evaluation(
    profile: Profile, data: Mnist, store: Store, *, progress=None, scheduler: str = "auto"
) -> Entry:
    """The clean CNN's accuracy on noisy and on denoised test digits, the noise-aware
    CNN's on the noisy ones, and the reconstruction error, per noise level and noise
    seed; stored, since it classifies the test set 3 x levels x seeds times.
    Computed where `evaluation_site` says."""
    ae_entry, autoencoder, cnn_entry, cnn, clean = models(
        profile, data, store, progress=progress, scheduler=scheduler
    )
    aware_entry = train_noise_aware(profile, data, store, progress=progress, scheduler=scheduler)
    aware = restore(aware_entry, build_cnn)
    test = (clean.prepared.x_test, clean.prepared.labels_test)
    where = evaluation_site(profile, cnn, len(test[1]), scheduler=scheduler)
    at = site(where)  # its predictions' numbers depend on it as the paths' do
    spec = {
        "experiment": "q4-noise",
        "autoencoder": ae_entry.key,
        "cnn": cnn_entry.key,
        "noise_aware": aware_entry.key,
        "levels": list(profile.noise_levels),
        "seeds": profile.noise_seeds,
        "base_seed": profile.seed,
        "grid_digits": GRID_DIGITS,
        "noise_version": NOISE_VERSION,
        "version": NOISE_EVALUATION_VERSION,
        "paths": {"autoencoder": engine.choose(build_autoencoder).key(at),
                  "cnn": engine.choose(build_cnn).key(at)},
        "backend": engine.versions(),
    }  # fmt: skip
    what = "q4 noise evaluation: classifying noisy and denoised test digits"

    def compute():
        if where.kind == "none":
            if progress is not None:
                progress.note(what)
            computed = evaluate_noise(profile, autoencoder, cnn, aware, *test)
            return (*computed, engine.environment())
        from labnn.dask_runs import call_on_dask  # Dask is an optional extra

        return call_on_dask(where, what, evaluate_stored, profile, ae_entry, cnn_entry,
                            aware_entry, *test,
                            progress=progress or BuildProgress(quiet=True))  # fmt: skip

    return store.run(spec, compute)


def evaluation_site(profile: Profile, cnn, test_size: int, *, scheduler: str) -> Scheduler:
    """Where the noise evaluation runs: as `labnn.scheduler.resolve` places a CNN
    training run of as many samples as it classifies images. Under `auto` the full
    profile's (990,000 images) goes to a worker with oneDNN, where the CNN predicts
    about 2x faster (10,000 images in 1.1-1.2 s against 2.3-2.6 s here, measured on
    2 cores); the quick profile's stays here."""
    images = 3 * len(profile.noise_levels) * profile.noise_seeds * test_size
    onednn = engine.convolutional(cnn) and engine.onednn_for_workers()
    return resolve(parse_scheduler(scheduler), runs=1, samples=images, onednn=onednn)


def evaluate_stored(profile: Profile, ae_entry: Entry, cnn_entry: Entry, aware_entry: Entry,
                    x, labels):  # fmt: skip
    """`evaluate_noise` of the three stored models (on a worker)."""
    autoencoder = restore(ae_entry, build_autoencoder)
    cnn = restore(cnn_entry, build_cnn)
    aware = restore(aware_entry, build_cnn)
    return evaluate_noise(profile, autoencoder, cnn, aware, x, labels)


def evaluate_noise(profile: Profile, autoencoder, cnn, aware, x, labels) -> tuple[dict, dict]:
    """x: the (n, 784) clean test images in [0, 1]; labels: their digits. Three
    readers of the same noisy digits: the clean CNN, the clean CNN after the
    autoencoder, and the noise-aware CNN; with how many images each calls each class
    (a reader that calls nearly everything one class has collapsed, not guessed), and
    what each calls the grid's digits: the first noise draw of each level, the one the
    grid shows, so that a reader of the report can hold their eye against them."""
    shown = grid_indices(labels)
    shape = (len(profile.noise_levels), profile.noise_seeds)
    acc_noisy, acc_denoised, acc_aware = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    calls = {name: np.zeros((*shape, NUM_CLASSES), dtype=np.int64)
             for name in ("noisy", "denoised", "aware")}  # fmt: skip
    mse_noisy, mse_denoised = np.zeros(shape), np.zeros(shape)
    grid_noisy, grid_denoised = [], []
    grid_calls = {name: np.zeros((shape[0], len(shown)), dtype=np.int64) for name in calls}
    for i, level in enumerate(profile.noise_levels):
        for s in range(profile.noise_seeds):
            rng = np.random.default_rng([profile.seed, s, i])
            noisy = salt_and_pepper(x, level, rng)
            denoised = denoise(autoencoder, noisy)
            for name, model, images, accuracy in (("noisy", cnn, noisy, acc_noisy),
                                                  ("denoised", cnn, denoised, acc_denoised),
                                                  ("aware", aware, noisy, acc_aware)):  # fmt: skip
                predicted = classify(model, images).argmax(axis=1)
                accuracy[i, s] = float((predicted == labels).mean())
                calls[name][i, s] = np.bincount(predicted, minlength=NUM_CLASSES)
                if s == 0:
                    grid_calls[name][i] = predicted[shown]
            mse_noisy[i, s] = float(np.mean((noisy - x) ** 2))
            mse_denoised[i, s] = float(np.mean((denoised - x) ** 2))
            if s == 0:
                grid_noisy.append(noisy[shown])
                grid_denoised.append(denoised[shown])
    results = {"levels": list(profile.noise_levels), "grid_digits": shown,
               "grid_labels": [int(labels[j]) for j in shown]}  # fmt: skip
    arrays = {
        "accuracy_noisy": acc_noisy,
        "accuracy_denoised": acc_denoised,
        "accuracy_aware": acc_aware,
        **{f"calls_{name}": counts for name, counts in calls.items()},  # (levels, seeds, 10)
        "mse_noisy": mse_noisy,
        "mse_denoised": mse_denoised,
        "grid_noisy": np.stack(grid_noisy).astype(np.float32),  # (levels, digits, 784)
        "grid_denoised": np.stack(grid_denoised).astype(np.float32),
        # (levels, digits): the class each reader calls each grid digit at each level
        **{f"grid_calls_{name}": called for name, called in grid_calls.items()},
    }
    return results, arrays


def classify(cnn, flat_images: np.ndarray) -> np.ndarray:
    """CNN class probabilities for (n, 784) images, on the CNN's training path."""
    images = flat_images.reshape(-1, IMAGE_SIDE, IMAGE_SIDE)
    return engine.choose(build_cnn).predict(cnn, images)


def denoise(autoencoder, x: np.ndarray) -> np.ndarray:
    """The outputs of the autoencoder (or one of its halves) for `x`, on its training path."""
    return engine.choose(build_autoencoder).predict(autoencoder, x)


def per_level(levels, values: np.ndarray) -> list[dict]:
    """Mean and std over seeds (axis 1) for each noise level."""
    return [{"level": float(lv), **mean_std(row)} for lv, row in zip(levels, values, strict=True)]
