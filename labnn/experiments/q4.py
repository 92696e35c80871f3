"""What the question-4 parts share: the trained autoencoder, the question-3 CNN,
and one evaluation of both on noisy test digits, each kept in the store."""

from __future__ import annotations

import numpy as np

from labnn import engine
from labnn.answers import mean_std
from labnn.data import IMAGE_SIDE, NOISE_VERSION, Mnist, Split, salt_and_pepper
from labnn.datasets import Dataset, dataset
from labnn.experiments import q3
from labnn.experiments.common import restore, train_run
from labnn.models import build_autoencoder, build_cnn
from labnn.profiles import Profile
from labnn.progress import BuildProgress
from labnn.runs import Run
from labnn.scheduler import Scheduler, parse_scheduler, resolve
from labnn.store import Entry, Store

GRID_DIGITS = 4  # test digits shown in the noise grid (in the evaluation's key)

# In the noise evaluation's store key: bump it when `evaluate_noise` changes its numbers.
NOISE_EVALUATION_VERSION = 1


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


def grid_indices(labels: np.ndarray, count: int = GRID_DIGITS) -> list[int]:
    """The first test image of each of the first `count` digit classes."""
    return [int(np.flatnonzero(labels == digit)[0]) for digit in range(count)]


def noise_evaluation(
    profile: Profile, data: Mnist, store: Store, *, progress=None, scheduler: str = "auto"
) -> Entry:
    """CNN accuracy and reconstruction error on noisy and on denoised test digits,
    per noise level and noise seed; stored, since it classifies the test set
    2 x levels x seeds times. Computed where `evaluation_site` says."""
    ae_entry, autoencoder, cnn_entry, cnn, clean = models(
        profile, data, store, progress=progress, scheduler=scheduler
    )
    spec = {
        "experiment": "q4-noise",
        "autoencoder": ae_entry.key,
        "cnn": cnn_entry.key,
        "levels": list(profile.noise_levels),
        "seeds": profile.noise_seeds,
        "base_seed": profile.seed,
        "grid_digits": GRID_DIGITS,
        "noise_version": NOISE_VERSION,
        "version": NOISE_EVALUATION_VERSION,
        "paths": {"autoencoder": engine.choose(build_autoencoder).key,
                  "cnn": engine.choose(build_cnn).key},
        "backend": engine.versions(),
    }  # fmt: skip
    test = (clean.prepared.x_test, clean.prepared.labels_test)
    what = "q4 noise evaluation: classifying noisy and denoised test digits"

    def compute():
        where = evaluation_site(profile, cnn, len(test[1]), scheduler=scheduler)
        if where.kind == "none":
            if progress is not None:
                progress.note(what)
            return (*evaluate_noise(profile, autoencoder, cnn, *test), engine.environment())
        from labnn.dask_runs import call_on_dask  # Dask is an optional extra

        return call_on_dask(where, what, evaluate_stored, profile, ae_entry, cnn_entry, *test,
                            progress=progress or BuildProgress(quiet=True))  # fmt: skip

    return store.run(spec, compute)


def evaluation_site(profile: Profile, cnn, test_size: int, *, scheduler: str) -> Scheduler:
    """Where the noise evaluation runs: as `labnn.scheduler.resolve` places a CNN
    training run of as many samples as it classifies images. Under `auto` the full
    profile's (660,000 images) goes to a worker with oneDNN, where the CNN predicts
    about 2x faster (10,000 images in 1.1-1.2 s against 2.3-2.6 s here, measured on
    2 cores); the quick profile's stays here."""
    images = 2 * len(profile.noise_levels) * profile.noise_seeds * test_size
    onednn = engine.convolutional(cnn) and engine.onednn_for_workers()
    return resolve(parse_scheduler(scheduler), runs=1, samples=images, onednn=onednn)


def evaluate_stored(profile: Profile, ae_entry: Entry, cnn_entry: Entry, x, labels):
    """`evaluate_noise` of the two stored models (on a worker)."""
    autoencoder = restore(ae_entry, build_autoencoder)
    cnn = restore(cnn_entry, build_cnn)
    return evaluate_noise(profile, autoencoder, cnn, x, labels)


def evaluate_noise(profile: Profile, autoencoder, cnn, x, labels) -> tuple[dict, dict]:
    """x: the (n, 784) clean test images in [0, 1]; labels: their digits."""
    shown = grid_indices(labels)
    shape = (len(profile.noise_levels), profile.noise_seeds)
    acc_noisy, acc_denoised = np.zeros(shape), np.zeros(shape)
    mse_noisy, mse_denoised = np.zeros(shape), np.zeros(shape)
    grid_noisy, grid_denoised = [], []
    for i, level in enumerate(profile.noise_levels):
        for s in range(profile.noise_seeds):
            rng = np.random.default_rng([profile.seed, s, i])
            noisy = salt_and_pepper(x, level, rng)
            denoised = denoise(autoencoder, noisy)
            acc_noisy[i, s] = _accuracy(cnn, noisy, labels)
            acc_denoised[i, s] = _accuracy(cnn, denoised, labels)
            mse_noisy[i, s] = float(np.mean((noisy - x) ** 2))
            mse_denoised[i, s] = float(np.mean((denoised - x) ** 2))
            if s == 0:
                grid_noisy.append(noisy[shown])
                grid_denoised.append(denoised[shown])
    results = {"levels": list(profile.noise_levels), "grid_digits": shown}
    arrays = {
        "accuracy_noisy": acc_noisy,
        "accuracy_denoised": acc_denoised,
        "mse_noisy": mse_noisy,
        "mse_denoised": mse_denoised,
        "grid_noisy": np.stack(grid_noisy).astype(np.float32),  # (levels, digits, 784)
        "grid_denoised": np.stack(grid_denoised).astype(np.float32),
    }
    return results, arrays


def classify(cnn, flat_images: np.ndarray) -> np.ndarray:
    """CNN class probabilities for (n, 784) images, on the CNN's training path."""
    images = flat_images.reshape(-1, IMAGE_SIDE, IMAGE_SIDE)
    return engine.choose(build_cnn).predict(cnn, images)


def denoise(autoencoder, x: np.ndarray) -> np.ndarray:
    """The outputs of the autoencoder (or one of its halves) for `x`, on its training path."""
    return engine.choose(build_autoencoder).predict(autoencoder, x)


def _accuracy(cnn, flat_images, labels) -> float:
    return float((classify(cnn, flat_images).argmax(axis=1) == labels).mean())


def per_level(levels, values: np.ndarray) -> list[dict]:
    """Mean and std over seeds (axis 1) for each noise level."""
    return [{"level": float(lv), **mean_std(row)} for lv, row in zip(levels, values, strict=True)]
