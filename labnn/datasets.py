"""The data a run trains on: the profile's slice of MNIST, prepared and split, with
the spec that identifies it in a store key."""

from __future__ import annotations

from dataclasses import dataclass

from labnn.data import RECIPE_VERSION, Mnist, Prepared, Split, holdout, preprocess, subset
from labnn.profiles import Profile


@dataclass(frozen=True, eq=False)
class Dataset:
    """The profile's slice of MNIST, prepared, with its train/validation split."""

    prepared: Prepared
    split: Split
    spec: dict  # what identifies these data in a store key


def dataset(profile: Profile, mnist: Mnist, *, flatten: bool = False) -> Dataset:
    """Slice MNIST as the profile says, scale it, and hold out the validation images."""
    part = subset(mnist, n_train=profile.n_train, n_test=profile.n_test)
    prepared = preprocess(part, flatten=flatten)
    spec = {
        "recipe": RECIPE_VERSION,
        "fingerprint": mnist.fingerprint,
        "n_train": len(part.x_train),
        "n_test": len(part.x_test),
        "validation_size": profile.validation_size,
        "flatten": flatten,
    }
    return Dataset(prepared, holdout(prepared, validation_size=profile.validation_size), spec)
