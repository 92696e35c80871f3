"""Each experiment of the quick profile runs end to end on real data."""

import numpy as np
import pytest

from labnn import answers
from labnn.experiments import q1, q2a, q2b, q2c, q2d, q3
from labnn.profiles import QUICK


@pytest.fixture(scope="module")
def store(quick_store):
    return quick_store


def test_q1_reports_facts_of_the_profiles_data(mnist, store):
    result = q1.run(QUICK, mnist, store)
    assert result["facts"]["raw"]["x_train_shape"] == [QUICK.n_train, 28, 28]
    assert result["train_size"] + result["validation_size"] == QUICK.n_train


def test_q2a_counts_by_keras_and_formula_agree(mnist, store):
    result = q2a.run(QUICK, mnist, store)
    assert result["total_by_keras"] == result["total_by_formula"] == 55050
    assert [row["params_by_formula"] for row in result["layers"][1:]] == [50240, 4160, 650]


def test_q2b_formula_equals_keras_loss_on_a_real_batch(mnist, store):
    result = q2b.run(QUICK, mnist, store)
    assert result["loss_by_formula"] == pytest.approx(result["loss_by_keras"], rel=1e-5)
    assert result["latex"].startswith("L = -")


def test_q2c_trains_once_and_reuses_the_stored_run(mnist, store):
    result = q2c.run(QUICK, mnist, store)
    assert len(result["history"]["val_accuracy"]) == QUICK.mlp_epochs
    assert result["final_val_accuracy"] > 0.5  # far above chance (0.1)
    computed = store.computed
    assert q2c.run(QUICK, mnist, store)["history"] == result["history"]
    assert store.computed == computed


def test_q2d_chooses_on_validation_and_reports_test_once(mnist, store):
    result = q2d.run(QUICK, mnist, store)
    runs = len(QUICK.sweep_factors) * QUICK.sweep_replicates
    assert len(result["runs"]) == runs
    best = max(result["summary"]["per_factor"], key=lambda row: row["mean"])
    assert result["test"]["l2"] == best["l2"]
    assert len(result["test"]["accuracies"]) == QUICK.sweep_replicates
    # the gap reported is the chosen factor's, not another accuracy's
    assert result["gap_best_mean"]["accuracy"] == result["summary"]["best_mean"]
    assert result["gap_max"]["accuracy"] == result["summary"]["max_val_accuracy"]


def test_q2d_counts_hintons_parameters_by_keras_and_formula(mnist, store):
    result = q2d.run(QUICK, mnist, store)
    params = result["hinton_params"]
    assert params["by_keras"] == params["by_formula"] == 784 * 500 + 500 + 500 * 300 + 300 + 3010


def test_q2d_holds_hintons_single_run_against_a_single_run_of_ours(mnist, store):
    result = q2d.run(QUICK, mnist, store)
    one, mean = result["single_run"], result["test"]
    # a single run scatters more than a mean: sqrt(1 + 1/n) against sqrt(1/n), same spread
    n = mean["n"]
    assert one["half_width"] == pytest.approx(one["t"] * one["std"] * np.sqrt(1 + 1 / n))
    assert one["half_width"] > one["t"] * one["std"] / np.sqrt(n)
    assert one["verdict"] in ("short", "exceeds", "not distinguishable")
    assert result["effects"]["runner_up"] in QUICK.sweep_factors
    assert result["runner_up_test"]["l2"] == result["effects"]["runner_up"]


def test_q2d_holds_hinton_against_the_seeds_spread_pooled_over_every_factor(mnist, store):
    result = q2d.run(QUICK, mnist, store)
    spread, one = result["test_spread"], result["single_run"]
    # the models of every factor that cannot be told from the chosen one, after the choice
    alike = len(QUICK.sweep_factors) - len(result["effects"]["worse"])
    assert spread["left_out"] == result["effects"]["worse"]
    assert spread["runs"] == alike * QUICK.sweep_replicates
    assert spread["df"] == alike * (QUICK.sweep_replicates - 1)
    assert one["pooled"] and one["std"] == spread["std"] and one["df"] == spread["df"]
    assert result["runner_up_test"]["std"] == spread["std"]
    # stacked runs hold shares of their stack's time: the cost is the stacks' time
    cost = result["cost"]
    assert cost["wall_time_s"] == pytest.approx(sum(r["wall_time_s"] for r in result["runs"]))
    assert 1 <= cost["jobs"] <= cost["runs"] == len(result["runs"])


def test_q3_reports_accuracy_consistent_with_its_confusion_matrix(mnist, store):
    result = q3.run(QUICK, mnist, store)
    matrix = np.array(result["confusion"])
    assert matrix.sum() == QUICK.n_test
    assert result["test_accuracy"] == pytest.approx(np.trace(matrix) / matrix.sum())
    assert result["test_accuracy"] > 0.5


def test_q3_trains_one_cnn_per_seed_and_reads_with_their_ensemble(mnist, store):
    result = q3.run(QUICK, mnist, store)
    seeds = result["seeds"]
    assert seeds["seeds"] == [QUICK.seed + i for i in range(QUICK.cnn_seeds)]
    assert seeds["test_accuracies"][0] == result["test_accuracy"]  # the first seed's model
    assert len(set(seeds["test_accuracies"])) == QUICK.cnn_seeds  # different models
    assert result["ensemble"]["models"] == QUICK.cnn_seeds
    assert 0.5 < result["ensemble"]["test_accuracy"] <= 1


def test_q4a_autoencoder_trains_and_its_loss_formula_matches_keras(mnist, store):
    from labnn.experiments import q4a

    result = q4a.run(QUICK, mnist, store)
    assert result["total_by_keras"] == result["total_by_formula"] == 226416
    check = result["loss_check"]
    assert check["loss_by_formula"] == pytest.approx(check["loss_by_keras"], rel=1e-5)
    assert len(result["history"]["val_loss"]) == QUICK.ae_epochs


def test_q4b_and_q4c_share_one_stored_noise_evaluation(mnist, store):
    from labnn.experiments import q4, q4b, q4c

    thresholds = q4b.run(QUICK, mnist, store)
    computed = store.computed
    curve = q4c.run(QUICK, mnist, store)
    assert store.computed == computed  # q4c reused everything q4b stored
    assert thresholds["key"] == curve["key"]
    assert [row["level"] for row in curve["rows"]] == list(QUICK.noise_levels)
    assert all(row["noisy"]["n"] == QUICK.noise_seeds for row in curve["rows"])
    assert thresholds["grid_noisy"].shape == (len(QUICK.noise_levels), q4.GRID_DIGITS, 784)
    # one bar for every reader: 4b's thresholds and 4c's sentence use the same
    assert thresholds["readable"]["bar"] == curve["holds"]["bar"] == thresholds["hard"]["bar"]
    assert all(row["aware"]["n"] == QUICK.noise_seeds for row in curve["rows"])
    assert [row["bar"] for row in thresholds["hard_by_bar"]] == list(answers.READABLE_BARS)
    assert set(curve["collapse"]) == {"noisy", "denoised", "aware"}
    grid = thresholds["grid"]
    assert grid["labels"] == list(range(10))  # one digit per class, 0 to 9
    assert [row["level"] for row in grid["rows"]] == list(QUICK.noise_levels)


def test_q4d_generates_images_in_unit_range_per_class(mnist, store):
    from labnn.experiments import q4d

    result = q4d.run(QUICK, mnist, store)
    grid = result["grid"]
    assert grid.shape == (10, q4d.GRID_PER_CLASS, 784)
    assert grid.min() >= 0 and grid.max() <= 1
    assert result["total"] == 10 * QUICK.generated_per_class
    # the CNN recognizes most generated digits as the class they were drawn for: far
    # above chance (0.1); the quick profile's measured 0.705
    assert result["agreement"] > 0.4
    assert 0.5 < result["ceiling"]["agreement"] <= 1  # the CNN reads reconstructions
    assert set(result["random_codes"]) == {"one_gaussian", "uniform"}
    novelty = result["novelty"]
    assert 0 < novelty["test_p5"] <= novelty["test_median"]
    assert result["diversity"]["generated"] > 0 and result["diversity"]["real"] > 0
