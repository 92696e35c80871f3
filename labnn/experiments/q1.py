"""Question 1: what pre-processing does to the images and labels, measured."""

from labnn.data import Mnist, preprocessing_facts, subset
from labnn.profiles import Profile
from labnn.store import Store


def run(
    profile: Profile, data: Mnist, store: Store, *, progress=None, scheduler: str = "auto"
) -> dict:
    part = subset(data, n_train=profile.n_train, n_test=profile.n_test)
    return {
        "facts": preprocessing_facts(part),
        "validation_size": profile.validation_size,
        "train_size": len(part.x_train) - profile.validation_size,
        "test_size": len(part.x_test),
        "fingerprint": data.fingerprint,
        "source": data.source,
    }
