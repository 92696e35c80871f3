"""Question 2a: the notebook MLP's layers, neurons, activations and parameter count."""

from labnn import answers
from labnn.data import IMAGE_SIDE, NUM_CLASSES, Mnist
from labnn.models import build_notebook_mlp, describe_layers
from labnn.profiles import Profile
from labnn.store import Store


def run(
    profile: Profile, data: Mnist, store: Store, *, progress=None, scheduler: str = "auto"
) -> dict:
    model = build_notebook_mlp(learning_rate=profile.mlp_learning_rate, seed=profile.seed)
    layers = describe_layers(model)
    dense = [row for row in layers if row["kind"] == "Dense"]
    sizes = [IMAGE_SIDE * IMAGE_SIDE] + [row["units"] for row in dense]
    by_formula = answers.dense_params_by_formula(sizes)
    for row, formula in zip(dense, by_formula, strict=True):
        row["params_by_formula"] = formula["params"]
    return {
        "layers": layers,
        "dense_sizes": sizes,
        "by_formula": by_formula,
        "total_by_keras": int(model.count_params()),
        "total_by_formula": sum(row["params"] for row in by_formula),
        "input_size": IMAGE_SIDE * IMAGE_SIDE,
        "image_side": IMAGE_SIDE,
        "output_size": NUM_CLASSES,
        "hidden_activation": dense[0]["activation"],
        "output_activation": dense[-1]["activation"],
    }
