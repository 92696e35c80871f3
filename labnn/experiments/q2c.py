"""Question 2c: the notebook MLP trained for 10 epochs, with its accuracy curves."""

from labnn.data import Mnist
from labnn.datasets import dataset
from labnn.experiments.common import final, provenance, train_run
from labnn.models import build_notebook_mlp
from labnn.profiles import Profile
from labnn.runs import Run
from labnn.store import Store


def run(
    profile: Profile, data: Mnist, store: Store, *, progress=None, scheduler: str = "auto"
) -> dict:
    run_ = Run(
        experiment="q2c",
        build=build_notebook_mlp,
        params={"learning_rate": profile.mlp_learning_rate},
        epochs=profile.mlp_epochs,
        batch_size=profile.mlp_batch_size,
        seed=profile.seed,
        label="q2c notebook MLP",
    )
    split_data = dataset(profile, data)
    entry = train_run(store, run_, split_data, progress=progress)
    history = entry.results["history"]
    return {
        "history": history,
        "epochs": profile.mlp_epochs,
        "batch_size": profile.mlp_batch_size,
        "learning_rate": profile.mlp_learning_rate,
        "final_accuracy": final(history, "accuracy"),
        "final_val_accuracy": final(history, "val_accuracy"),
        "best_val_accuracy": max(history["val_accuracy"]),
        "best_val_epoch": history["val_accuracy"].index(max(history["val_accuracy"])) + 1,
        # samples_per_second covers the epochs after the first, validation left out (see
        # labnn.training.throughput); the per-epoch times let the report say so.
        "samples_per_second": entry.results["samples_per_second"],
        "epoch_seconds": entry.results["epoch_seconds"],
        "train_size": len(split_data.split.x_train),
        "wall_time_s": entry.results["wall_time_s"],
        "runs": [provenance(entry)],
    }
