"""Question 4d: new digits from the decoder.

One Gaussian per class is fitted to the encoder's codes of clean training
images; codes sampled from it are decoded, and the question-3 CNN judges
whether each generated digit is the class it was sampled for. The judgement is
read against its ceiling (the same CNN on the autoencoder's reconstructions of
clean test digits) and against codes drawn without classes (one Gaussian for all
digits, and uniform), whose decoded images the CNN also labels, confidently or
not; novelty and diversity are measured in pixels against real digits.
"""

import numpy as np

from labnn import answers
from labnn.data import NUM_CLASSES, Mnist
from labnn.experiments import q4
from labnn.experiments.common import provenance
from labnn.models import halves
from labnn.profiles import Profile
from labnn.store import Store

GRID_PER_CLASS = 8  # generated digits shown per class
RIDGE = 1e-3  # added to each covariance's diagonal so that it stays positive definite


def run(
    profile: Profile, data: Mnist, store: Store, *, progress=None, scheduler: str = "auto"
) -> dict:
    ae_entry, autoencoder, cnn_entry, cnn, clean = q4.models(profile, data, store,
                                                             progress=progress,
                                                             scheduler=scheduler)  # fmt: skip
    encoder, decoder = halves(autoencoder)
    codes = q4.denoise(encoder, clean.split.x_train)  # (n, 96), ReLU outputs, so >= 0
    labels = clean.prepared.labels_train[: len(codes)]
    rng = np.random.default_rng([profile.seed, 44])
    sampled_codes, sampled_labels = sample_codes(codes, labels, profile.generated_per_class, rng)
    images = q4.denoise(decoder, sampled_codes)  # (n, 784) in [0, 1]
    probs = q4.classify(cnn, images)
    predicted = probs.argmax(axis=1)
    agree = predicted == sampled_labels
    per_class = [float(agree[sampled_labels == k].mean()) for k in range(NUM_CLASSES)]
    grid = np.stack([images[sampled_labels == k][:GRID_PER_CLASS] for k in range(NUM_CLASSES)])
    return {
        "grid": grid.astype(np.float32),  # (10, GRID_PER_CLASS, 784)
        "per_class": profile.generated_per_class,
        "total": len(images),
        "agreement": float(agree.mean()),
        "agreement_per_class": per_class,
        "worst_class": int(np.argmin(per_class)),
        "mean_confidence": float(probs.max(axis=1).mean()),
        "mean_confidence_agreeing": float(probs.max(axis=1)[agree].mean()) if agree.any() else 0.0,
        "code_size": int(codes.shape[1]),
        "dead_units": int((codes.max(axis=0) == 0).sum()),
        "ridge": RIDGE,
        "ceiling": _ceiling(autoencoder, cnn, clean),
        "random_codes": _random_codes(codes, decoder, cnn, len(images), rng),
        "novelty": novelty(images, clean),
        "diversity": diversity(images, sampled_labels, clean),
        "runs": [provenance(ae_entry), provenance(cnn_entry)],
    }


def _ceiling(autoencoder, cnn, clean) -> dict:
    """The CNN on the autoencoder's reconstructions of clean test digits: the most
    agreement a decoded image can expect from this reader."""
    reconstructed = q4.denoise(autoencoder, clean.prepared.x_test)
    predicted = q4.classify(cnn, reconstructed).argmax(axis=1)
    return {"agreement": float((predicted == clean.prepared.labels_test).mean()),
            "test_size": len(predicted)}  # fmt: skip


def _random_codes(codes, decoder, cnn, count: int, rng: np.random.Generator) -> dict:
    """What the CNN makes of decoded codes drawn without any class: from one Gaussian
    fitted to all digits' codes, and uniformly within each unit's range; clipped at 0."""
    codes = codes.astype(np.float64)
    cov = np.cov(codes, rowvar=False) + RIDGE * np.eye(codes.shape[1])
    drawn = {
        "one_gaussian": rng.multivariate_normal(codes.mean(axis=0), cov, size=count),
        "uniform": rng.uniform(codes.min(axis=0), codes.max(axis=0), size=(count, codes.shape[1])),
    }
    result = {}
    for name, sample in drawn.items():
        probs = q4.classify(cnn, q4.denoise(decoder, np.clip(sample, 0, None).astype(np.float32)))
        calls = np.bincount(probs.argmax(axis=1), minlength=NUM_CLASSES)
        result[name] = {"mean_confidence": float(probs.max(axis=1).mean()),
                        "top_class": int(calls.argmax()),
                        "top_share": float(calls.max() / count)}  # fmt: skip
    return result


def novelty(images: np.ndarray, clean, *, reference: int = 1000, percentile: int = 5) -> dict:
    """How far each generated digit lies from its nearest training image, against the
    same distance for `reference` real test digits (pixels, Euclidean)."""
    train = clean.split.x_train
    generated = answers.nearest_distances(images, train)
    real = answers.nearest_distances(clean.prepared.x_test[:reference], train)
    low = float(np.percentile(real, percentile))
    return {
        "generated_median": float(np.median(generated)),
        "test_median": float(np.median(real)),
        "test_p5": low,
        # generated digits nearer a training image than all but `percentile` % of test
        # digits are: candidates for near copies
        "near_copies": float((generated < low).mean()),
        "percentile": percentile,
        "reference": reference,
        # what a distance is measured over: the pixel intensities, each in [0, 1]
        "pixels": int(images.shape[1]),
    }


def diversity(images: np.ndarray, labels: np.ndarray, clean) -> dict:
    """Mean pairwise distance within each class, generated digits against as many real
    test digits of that class."""
    test, test_labels = clean.prepared.x_test, clean.prepared.labels_test
    generated, real = [], []
    for k in range(NUM_CLASSES):
        own = images[labels == k]
        generated.append(answers.mean_pairwise_distance(own))
        real.append(answers.mean_pairwise_distance(test[test_labels == k][: len(own)]))
    return {"generated": float(np.mean(generated)), "real": float(np.mean(real)),
            # no variety to compare with where a class has one digit
            "ratio": float(np.mean(generated) / np.mean(real)) if np.mean(real) > 0 else None,
            "per_class_generated": generated, "per_class_real": real}  # fmt: skip


def sample_codes(codes, labels, per_class: int, rng: np.random.Generator):
    """Draw `per_class` codes from a Gaussian fitted to each class's codes.

    Samples are clipped at 0: the encoder ends in a ReLU, so the decoder has
    never seen a negative code.
    """
    drawn, drawn_labels = [], []
    for k in range(NUM_CLASSES):
        own = codes[labels == k].astype(np.float64)
        mean = own.mean(axis=0)
        cov = np.cov(own, rowvar=False) + RIDGE * np.eye(own.shape[1])
        drawn.append(np.clip(rng.multivariate_normal(mean, cov, size=per_class), 0, None))
        drawn_labels.append(np.full(per_class, k))
    return np.concatenate(drawn).astype(np.float32), np.concatenate(drawn_labels)
