"""Question 2b: the categorical cross-entropy, its formula, and a check against Keras."""

import math

import keras

from labnn import answers
from labnn.data import NUM_CLASSES, Mnist
from labnn.datasets import dataset
from labnn.engine import choose
from labnn.models import build_notebook_mlp
from labnn.profiles import Profile
from labnn.store import Store

CHECK_BATCH = 128  # one training batch of the notebook's protocol


def run(
    profile: Profile, data: Mnist, store: Store, *, progress=None, scheduler: str = "auto"
) -> dict:
    split = dataset(profile, data).split
    x, y = split.x_train[:CHECK_BATCH], split.y_train[:CHECK_BATCH]
    # An untrained network: its outputs are near uniform, so the loss should be near ln 10.
    model = build_notebook_mlp(learning_rate=profile.mlp_learning_rate, seed=profile.seed)
    probs = choose(build_notebook_mlp).predict(model, x)
    by_keras = float(keras.ops.convert_to_numpy(keras.losses.CategoricalCrossentropy()(y, probs)))
    by_formula = answers.categorical_cross_entropy(y, probs)
    return {
        "latex": answers.CROSS_ENTROPY_LATEX,
        "batch_size": CHECK_BATCH,
        "loss_by_formula": by_formula,
        "loss_by_keras": by_keras,
        "abs_difference": abs(by_formula - by_keras),
        "uniform_loss": math.log(NUM_CLASSES),
        "classes": NUM_CLASSES,
    }
