"""Question 4d: new digits from the decoder.

One Gaussian per class is fitted to the encoder's codes of clean training
images; codes sampled from it are decoded, and the question-3 CNN judges
whether each generated digit is the class it was sampled for.
"""

import numpy as np

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
        "runs": [provenance(ae_entry), provenance(cnn_entry)],
    }


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
