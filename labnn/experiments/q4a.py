"""Question 4a: the denoising autoencoder's architecture, curves, and its loss."""

import keras
import numpy as np

from labnn import answers
from labnn.data import IMAGE_SIDE, Mnist, salt_and_pepper
from labnn.experiments import q4
from labnn.experiments.common import final, provenance, restore
from labnn.models import build_autoencoder, describe_layers
from labnn.profiles import Profile
from labnn.store import Store

CHECK_BATCH = 64  # one training batch of the assignment's protocol


def run(
    profile: Profile, data: Mnist, store: Store, *, progress=None, scheduler: str = "auto"
) -> dict:
    entry, clean = q4.train_autoencoder(profile, data, store, progress=progress)
    autoencoder = restore(entry, build_autoencoder)
    layers = [row for row in describe_layers(autoencoder) if row["kind"] == "Dense"]
    sizes = [IMAGE_SIDE * IMAGE_SIDE] + [row["units"] for row in layers]
    by_formula = answers.dense_params_by_formula(sizes)
    for row, formula in zip(layers, by_formula, strict=True):
        row["params_by_formula"] = formula["params"]
    history = entry.results["history"]
    return {
        "layers": layers,
        "sizes": sizes,
        "total_by_keras": int(autoencoder.count_params()),
        "total_by_formula": sum(row["params"] for row in by_formula),
        "encoder_params": int(autoencoder.get_layer("encoder").count_params()),
        "decoder_params": int(autoencoder.get_layer("decoder").count_params()),
        "history": history,
        "final_loss": final(history, "loss"),
        "final_val_loss": final(history, "val_loss"),
        "epochs": profile.ae_epochs,
        "batch_size": profile.ae_batch_size,
        "learning_rate": profile.ae_learning_rate,
        "train_noise": profile.ae_train_noise,
        "loss_check": _loss_check(autoencoder, clean, profile),
        "wall_time_s": entry.results["wall_time_s"],
        "samples_per_second": entry.results["samples_per_second"],
        "runs": [provenance(entry)],
    }


def _loss_check(autoencoder, clean, profile: Profile) -> dict:
    """Our binary cross-entropy formula against Keras's, on a real batch of
    noisy validation digits and their clean targets."""
    target = clean.split.x_val[:CHECK_BATCH]
    noisy = salt_and_pepper(target, profile.ae_train_noise, np.random.default_rng(profile.seed))
    output = q4.denoise(autoencoder, noisy)
    by_keras = keras.losses.BinaryCrossentropy()(target, output)
    by_keras = float(keras.ops.convert_to_numpy(by_keras))
    by_formula = answers.binary_cross_entropy(target, output)
    return {
        "latex": answers.BINARY_CROSS_ENTROPY_LATEX,
        "batch_size": CHECK_BATCH,
        "pixels": int(target.shape[1]),
        "loss_by_formula": by_formula,
        "loss_by_keras": by_keras,
        "abs_difference": abs(by_formula - by_keras),
    }
