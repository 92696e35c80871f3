"""Question 2e: protocol variants from the profile, chosen without the test set."""

from dataclasses import replace

import numpy as np
import pytest

from labnn.datasets import Dataset, dataset
from labnn.errors import ConfigError
from labnn.experiments import q2e
from labnn.models import build_hinton_mlp, build_hinton_variant
from labnn.profiles import QUICK, override
from labnn.training import evaluate


class Sealed:
    """Stands in for the test set: any use of it fails the test."""

    def _touched(self, *args, **kwargs):
        raise AssertionError("the test set was touched before the choice was made")

    __getattr__ = __getitem__ = __len__ = __array__ = __iter__ = _touched


def sealed(data: Dataset) -> Dataset:
    prepared = replace(data.prepared, x_test=Sealed(), y_test=Sealed(), labels_test=Sealed())
    return Dataset(prepared, data.split, data.spec)


def test_variants_are_built_from_the_profile():
    profile = override(QUICK, {"variant_momentum": "0.5", "variant_momentum_learning_rate": "0.05",
                               "variant_dropout": "0.3", "variant_longer_epochs": "7"})  # fmt: skip
    settings = {name: q2e.variant_settings(profile, name, steps_per_epoch=40)
                for name in profile.variants}  # fmt: skip
    assert settings["momentum"]["params"] == {"momentum": 0.5, "learning_rate": 0.05}
    assert settings["cosine"]["params"] == {"decay_steps": profile.sweep_epochs * 40}
    assert settings["longer"]["epochs"] == 7
    model = build_hinton_variant(**settings["dropout"]["params"], **settings["momentum"]["params"])
    assert [layer.rate for layer in model.layers if "dropout" in layer.name] == [0.3, 0.3]
    assert float(model.optimizer.momentum) == 0.5


def test_an_unknown_variant_is_refused_with_the_valid_names():
    with pytest.raises(ConfigError, match="variants must be distinct names out of momentum"):
        override(QUICK, {"variants": "momentum,adam"})


def test_the_variant_builder_with_defaults_is_hintons_network():
    ours, theirs = build_hinton_variant(l2=1e-4, seed=3), build_hinton_mlp(l2=1e-4, seed=3)
    for a, b in zip(ours.get_weights(), theirs.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_the_seal_fails_when_the_test_set_is_used(mnist):
    data = sealed(dataset(QUICK, mnist))
    with pytest.raises(AssertionError, match="test set was touched"):
        evaluate(build_hinton_mlp(), data.prepared.x_test, data.prepared.y_test)


def test_the_choice_uses_no_test_data(mnist, quick_store):
    data = sealed(dataset(QUICK, mnist))
    variants, rows, chosen, l2 = q2e.select(QUICK, data, quick_store, data=mnist)
    assert [row["name"] for row in rows] == ["assignment", *QUICK.variants]
    assert chosen in rows
    assert all(len(entries) == QUICK.variant_replicates for entries in variants.values())


def test_the_longer_runs_train_on_from_2ds_runs(mnist, quick_store):
    variants, rows, _, _ = q2e.select(QUICK, dataset(QUICK, mnist), quick_store, data=mnist)
    baseline = {e.spec["training"]["seed"]: e for e in variants[q2e.BASELINE]}
    for entry in variants["longer"]:
        start = baseline[entry.spec["training"]["seed"]]
        assert entry.spec["training"]["resume"] == {"key": start.key,
                                                    "epochs": QUICK.sweep_epochs}  # fmt: skip
        history = entry.results["history"]
        assert len(history["val_accuracy"]) == QUICK.variant_longer_epochs
        for name, values in start.results["history"].items():
            assert history[name][: QUICK.sweep_epochs] == values
    longer = next(row for row in rows if row["name"] == "longer")
    assert "2d's runs, trained on for 3 more epochs" in longer["description"]


def test_the_best_mean_validation_accuracy_is_chosen_and_a_tie_keeps_the_baseline():
    def row(name, mean):
        return {"name": name, "validation": {"mean": mean}}

    assert (
        q2e.choose([row("assignment", 0.9), row("momentum", 0.95), row("cosine", 0.93)])["name"]
        == "momentum"
    )
    assert q2e.choose([row("momentum", 0.95), row("assignment", 0.95)])["name"] == "assignment"


def test_the_longer_variant_starts_over_where_2d_has_too_few_runs():
    assert q2e._continues_2d(QUICK)
    assert not q2e._continues_2d(override(QUICK, {"variant_replicates": "3"}))
    assert not q2e._continues_2d(override(QUICK, {"variant_longer_epochs": "3"}))


def test_q2e_retrains_the_choice_on_all_training_images(mnist, quick_store):
    result = q2e.run(QUICK, mnist, quick_store)
    final = result["final"]
    assert final["train_size"] == QUICK.n_train
    assert len(final["accuracies"]) == QUICK.variant_replicates
    assert final["n"] == len(final["accuracies"])  # the interval is of these runs
    assert min(final["accuracies"]) <= final["mean"] <= max(final["accuracies"])
    assert all(0.5 < row["test"]["mean"] <= 1 for row in result["rows"])  # far above chance
    longer = next(row for row in result["rows"] if row["name"] == "longer")
    assert longer["epochs"] == QUICK.variant_longer_epochs
    assert result["choice"]["runner_up"] != result["chosen"]
    assert result["choice"]["verdict"] in ("coin flip", "not distinguishable", "clear")
    # The gain over the assignment's protocol splits into the protocol and the data.
    total = final["mean"] - result["baseline_test"]["mean"]
    parts = result["gain_protocol"]["mean"] + result["gain_data"]["mean"]
    assert parts == pytest.approx(total)


def test_q2e_revisits_each_variant_against_the_assignments_protocol(mnist, quick_store):
    result = q2e.run(QUICK, mnist, quick_store)
    revisited = result["revisited"]["variants"]
    assert [h["name"] for h in revisited] == list(QUICK.variants)
    rows = {row["name"]: row for row in result["rows"]}
    for h in revisited:
        own, base = rows[h["name"]]["test"]["mean"], rows[q2e.BASELINE]["test"]["mean"]
        assert h["test"]["mean"] == pytest.approx(own - base)  # same seeds on both sides
    timing = result["timing"]
    assert timing["runs"] == QUICK.variant_replicates * (len(QUICK.variants) + 1)
    assert timing["n_paths"] == len(timing["paths"]) >= 1
