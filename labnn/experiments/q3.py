"""Question 3: a convolutional network, its curves, test accuracy and confusion matrix,
over `cnn_seeds` seeds (mean ± std), and the ensemble of those seeds' models."""

import math
from functools import partial

import numpy as np

from labnn import answers, engine
from labnn.data import Mnist
from labnn.datasets import Dataset, dataset
from labnn.executor import run_all
from labnn.experiments.common import final, provenance, restore
from labnn.models import build_cnn, describe_layers
from labnn.profiles import Profile
from labnn.runs import After, Run
from labnn.store import Store


def cnn_params(profile: Profile, train_size: int) -> dict:
    """The CNN's builder arguments; the cosine decay spans exactly the training steps."""
    steps = profile.cnn_epochs * math.ceil(train_size / profile.cnn_batch_size)
    return {"learning_rate": profile.cnn_learning_rate, "decay_steps": steps}


def train_cnn(
    profile: Profile, data: Mnist, store: Store, *, progress=None, scheduler: str = "auto"
):
    """The question-3 CNN's stored run of the first seed (question 4 classifies with
    it), and the data."""
    entries, prepared = train_cnns(profile, data, store, progress=progress, scheduler=scheduler,
                                   seeds=1)  # fmt: skip
    return entries[0], prepared


def train_cnns(profile: Profile, data: Mnist, store: Store, *, progress=None,
               scheduler: str = "auto", seeds: int | None = None):  # fmt: skip
    """The question-3 CNN's stored runs, one per seed (weights kept), trained where
    `scheduler` says: by default in workers with TensorFlow's oneDNN kernels
    (`labnn.scheduler.resolve` says why)."""
    prepared = dataset(profile, data)
    runs = [
        Run(
            experiment="q3",
            build=build_cnn,
            params=cnn_params(profile, len(prepared.split.x_train)),
            epochs=profile.cnn_epochs,
            batch_size=profile.cnn_batch_size,
            seed=profile.seed + i,
            keep_weights=True,
            after=After(test_predictions, version=TEST_PREDICTIONS_VERSION),
            label="q3 CNN" if i == 0 else f"q3 CNN seed={profile.seed + i}",
        )
        for i in range(profile.cnn_seeds if seeds is None else seeds)
    ]
    entries = run_all(store, runs, prepared, recipe=partial(dataset, profile), mnist=data,
                      scheduler=scheduler, progress=progress)  # fmt: skip
    return entries, prepared


# In the CNN run's store key: bump it when `test_predictions` changes its numbers.
TEST_PREDICTIONS_VERSION = 1


def test_predictions(model, data: Dataset, path) -> tuple[dict, dict]:
    """The trained CNN's class and confidence for every test image, predicted on the
    run's training path."""
    probs = path.predict(model, data.prepared.x_test)
    predicted = probs.argmax(axis=1).astype(np.uint8)
    accuracy = float((predicted == data.prepared.labels_test).mean())
    arrays = {"test_predicted": predicted, "test_confidence": probs.max(axis=1)}
    return {"test_accuracy": accuracy}, arrays


def ensemble(entries, prepared: Dataset) -> dict:
    """The seeds' models as one: their class probabilities on the test set averaged."""
    probs = [engine.choose(build_cnn).predict(restore(entry, build_cnn), prepared.prepared.x_test)
             for entry in entries]  # fmt: skip
    predicted = np.mean(probs, axis=0).argmax(axis=1)
    labels = prepared.prepared.labels_test
    return {"models": len(entries), "test_accuracy": float((predicted == labels).mean()),
            "test_errors": int((predicted != labels).sum())}  # fmt: skip


def run(
    profile: Profile, data: Mnist, store: Store, *, progress=None, scheduler: str = "auto"
) -> dict:
    entries, prepared = train_cnns(profile, data, store, progress=progress, scheduler=scheduler)
    entry = entries[0]  # the first seed's model: curves, confusion matrix, question 4
    labels = prepared.prepared.labels_test
    matrix = answers.confusion_matrix(labels, entry.arrays["test_predicted"])
    model = build_cnn(**cnn_params(profile, len(prepared.split.x_train)), seed=profile.seed)
    history = entry.results["history"]
    layers = describe_layers(model)
    return {
        "layers": layers,
        # what follows the convolutional blocks, as the text describes it
        "head": answers.layers_after(layers, "MaxPooling2D"),
        "params": int(model.count_params()),
        "history": history,
        "epochs": profile.cnn_epochs,
        "batch_size": profile.cnn_batch_size,
        "learning_rate": profile.cnn_learning_rate,
        "final_val_accuracy": final(history, "val_accuracy"),
        "test_accuracy": entry.results["test_accuracy"],
        "test_errors": int(matrix.sum() - np.trace(matrix)),
        "test_size": int(matrix.sum()),
        "confusion": matrix.tolist(),
        "most_confused": answers.most_confused(matrix),
        "wall_time_s": entry.results["wall_time_s"],
        "samples_per_second": entry.results["samples_per_second"],
        "seeds": {
            "seeds": [e.spec["training"]["seed"] for e in entries],
            "test_accuracies": [e.results["test_accuracy"] for e in entries],
            "test": answers.mean_std([e.results["test_accuracy"] for e in entries]),
            "validation": answers.mean_std(
                [final(e.results["history"], "val_accuracy") for e in entries]
            ),
            "wall_time_s": sum(e.results["wall_time_s"] for e in entries),
        },
        "ensemble": ensemble(entries, prepared) if len(entries) > 1 else None,
        "runs": [provenance(e) for e in entries],
    }
