"""Derived quantities respond to their inputs as the questions define them."""

import numpy as np
import pytest

from labnn import answers


def test_sweep_summary_picks_the_factor_with_the_best_mean():
    runs = [
        {"l2": 1e-5, "seed": 0, "val_accuracy": 0.97},
        {"l2": 1e-5, "seed": 1, "val_accuracy": 0.99},
        {"l2": 1e-4, "seed": 0, "val_accuracy": 0.985},
        {"l2": 1e-4, "seed": 1, "val_accuracy": 0.984},
    ]
    summary = answers.sweep_summary(runs)
    assert summary["best_l2"] == 1e-4 and summary["max_val_accuracy"] == 0.99
    assert summary["per_factor"][0]["std"] == pytest.approx(np.std([0.97, 0.99], ddof=1))


def test_gap_versus_spread_finds_hinton_inside_a_wide_interval():
    assert answers.gap_versus_spread([0.983, 0.986, 0.985])["hinton_inside_interval"]
    narrow = answers.gap_versus_spread([0.9800, 0.9801, 0.9802])
    assert not narrow["hinton_inside_interval"] and narrow["gap_exceeds_spread"]


def test_confidence_interval_uses_students_t():
    interval = answers.confidence_interval([1.0, 2.0, 3.0])
    assert interval["half_width"] == pytest.approx(4.303 * 1.0 / np.sqrt(3))


def test_confusion_matrix_counts_true_by_predicted():
    matrix = answers.confusion_matrix(np.array([0, 1, 1, 2]), np.array([0, 1, 2, 2]), classes=3)
    assert matrix.tolist() == [[1, 0, 0], [0, 1, 1], [0, 0, 1]]
    assert answers.most_confused(matrix) == [{"true": 1, "predicted": 2, "count": 1}]


def test_cross_entropy_of_a_uniform_guess_is_log_k():
    y = np.eye(10)[[3, 7]]
    assert answers.categorical_cross_entropy(y, np.full((2, 10), 0.1)) == pytest.approx(np.log(10))


def test_first_crossing_finds_the_first_level_below_the_bar():
    levels = [0.0, 0.1, 0.2, 0.3, 0.4]
    accuracies = [0.99, 0.97, 0.90, 0.60, 0.30]
    result = answers.first_crossing(levels, accuracies, 0.891)
    assert result["level"] == 0.3
    assert result["interpolated"] == pytest.approx(0.2 + 0.1 * (0.9 - 0.891) / 0.3)
    assert answers.first_crossing(levels, [0.99] * 5, 0.9) is None


def test_noise_aware_reader_ahead_at_every_noisy_level_gives_its_smallest_and_largest_lead():
    levels = [0.0, 0.5, 1.0]
    lead = answers.lead(levels, [0.98, 0.88, 0.11], [0.96, 0.82, 0.10])
    assert lead["everywhere"] and lead["ahead_at"] == [0.5, 1.0] and lead["behind_at"] == []
    assert lead["smallest"] == pytest.approx(0.01) and lead["largest"] == pytest.approx(0.06)


def test_lead_ignores_clean_digits_and_names_the_levels_where_a_reader_is_behind():
    lead = answers.lead([0.0, 0.5, 1.0], [0.90, 0.88, 0.09], [0.96, 0.82, 0.10])
    assert not lead["everywhere"] and lead["ahead_at"] == [0.5] and lead["behind_at"] == [1.0]
    assert lead["smallest"] == pytest.approx(-0.01)
    assert answers.lead([0.0], [0.9], [0.8]) == {"differences": [], "ahead_at": [],
                                                 "behind_at": [], "everywhere": False,
                                                 "smallest": None, "largest": None}  # fmt: skip


def test_a_noise_level_is_written_with_the_decimals_it_needs():
    assert answers.level_digits(0.5) == 1 and answers.level_digits(0.6 - 0.1) == 1
    assert answers.level_digits(0.45) == 2
    assert answers.eye_against_measure(0.5, None, [0.0, 0.5, 1.0])["digits"] == 1


def test_the_head_of_a_network_is_every_layer_after_its_last_pooling():
    layers = [{"kind": k} for k in ("Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D",
                                    "Flatten", "Dropout", "Dense", "Dropout", "Dense")]  # fmt: skip
    head = answers.layers_after(layers, "MaxPooling2D")
    assert [layer["kind"] for layer in head] == ["Flatten", "Dropout", "Dense", "Dropout", "Dense"]
    assert answers.layers_after(layers[4:], "MaxPooling2D") == layers[4:]


def test_denoising_limit_is_where_the_gain_ends_for_good():
    levels = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    noisy = [0.99, 0.80, 0.40, 0.20, 0.12, 0.10]
    denoised = [0.98, 0.97, 0.90, 0.45, 0.125, 0.10]
    result = answers.denoising_limit(levels, noisy, denoised, margin=0.01)
    assert result["level"] == 0.8 and result["helps_at"] == [0.2, 0.4, 0.6]
    still_helping = answers.denoising_limit(levels, noisy, [d + 0.1 for d in noisy], 0.01)
    assert still_helping["level"] is None


def test_prediction_interval_for_one_run_is_wider_than_the_means_by_sqrt_n_plus_1():
    values = [0.980, 0.982, 0.984]
    interval = answers.prediction_interval(values)
    assert interval["half_width"] == pytest.approx(4.303 * 0.002 * np.sqrt(1 + 1 / 3))
    mean_half = answers.confidence_interval(values)["half_width"]
    assert interval["half_width"] == pytest.approx(mean_half * np.sqrt(3 + 1))


def test_a_single_run_inside_the_prediction_interval_reads_not_distinguishable():
    # The mean's confidence interval [0.9795, 0.9845] would put 0.9847 above it; a single
    # run of ours ranges over [0.9770, 0.9870], so one run of his cannot be told apart.
    values = [0.9810, 0.9820, 0.9830]
    assert not answers.gap_versus_spread(values)["hinton_inside_interval"]
    verdict = answers.against_single_run(values, answers.HINTON_ACCURACY)
    assert verdict["verdict"] == "not distinguishable"
    assert verdict["low"] < answers.HINTON_ACCURACY < verdict["high"]


def test_a_single_run_above_the_whole_prediction_interval_reads_short():
    verdict = answers.against_single_run([0.9700, 0.9701, 0.9702], answers.HINTON_ACCURACY)
    assert verdict["verdict"] == "short"
    assert answers.against_single_run([0.99, 0.9901, 0.9902], 0.9847)["verdict"] == "exceeds"


def test_one_replicate_tells_nothing_about_a_single_run():
    assert answers.against_single_run([0.9], 0.95)["verdict"] == "not distinguishable"


def test_paired_differences_cancel_what_the_seed_shares():
    # Seeds move both protocols alike by up to 0.01; the second is always 0.001 better.
    first = {0: 0.970, 1: 0.980, 2: 0.975}
    second = {seed: value + 0.001 for seed, value in first.items()}
    second[1] += 0.0001
    difference = answers.paired_difference(second, first)
    assert difference["verdict"] == "higher" and difference["seeds"] == [0, 1, 2]
    assert difference["mean"] == pytest.approx(0.001 + 0.0001 / 3)


def test_paired_differences_use_only_shared_seeds():
    difference = answers.paired_difference({0: 0.9, 1: 0.8}, {1: 0.7, 2: 0.6})
    assert difference["seeds"] == [1] and difference["verdict"] == "not distinguishable"


def test_a_margin_inside_the_spread_reads_as_a_coin_flip():
    # 2e's case: a lead of 0.03 pp where seeds move the difference by about 0.05 pp.
    chosen = {0: 0.9862, 1: 0.9868, 2: 0.9856}
    runner_up = {0: 0.9865, 1: 0.9855, 2: 0.9857}
    decision = answers.choice_margin(chosen, runner_up)
    assert decision["margin"] == pytest.approx(0.0003)
    assert decision["margin"] <= decision["spread"]
    assert decision["verdict"] == "coin flip"


def test_a_margin_beyond_the_spread_but_inside_the_interval_is_not_distinguishable():
    decision = answers.choice_margin({0: 0.985, 1: 0.987, 2: 0.984}, {0: 0.984, 1: 0.985,
                                                                       2: 0.9835})  # fmt: skip
    assert decision["margin"] > decision["spread"]
    assert decision["verdict"] == "not distinguishable"
    assert decision["replicates_needed"] > 3


def test_a_clear_win_reads_as_a_win():
    decision = answers.choice_margin({0: 0.990, 1: 0.991, 2: 0.992}, {0: 0.980, 1: 0.982,
                                                                       2: 0.981})  # fmt: skip
    assert decision["verdict"] == "clear"
    assert decision["replicates_needed"] <= 3


def test_replicates_needed_grows_with_the_spread():
    assert answers.replicates_needed(0.001, 0.0005) < answers.replicates_needed(0.001, 0.002)
    assert answers.replicates_needed(0.0, 0.001) is None


def test_crossings_give_one_threshold_per_bar():
    levels, accuracies = [0.0, 0.2, 0.4, 0.6], [0.99, 0.93, 0.82, 0.40]
    found = answers.crossings(levels, accuracies, bars=(0.80, 0.90, 0.95))
    assert [row["crossing"]["level"] for row in found] == [0.6, 0.4, 0.2]
    assert answers.crossings(levels, accuracies, bars=(0.30,))[0]["crossing"] is None


def test_a_reader_calling_most_digits_one_class_has_collapsed():
    # (levels, seeds, classes): at level 0.8 the seeds call 920 and 600 of 1,000 digits 8s.
    calls = np.full((3, 2, 10), 100)
    calls[2, 0] = [10] * 8 + [920, 0]
    calls[2, 1] = [50] * 8 + [600, 0]
    result = answers.collapse([0.0, 0.4, 0.8], calls)
    assert result["levels"] == [0.8] and result["classes"] == [8] and result["from_then_on"]
    assert result["first"]["share"] == pytest.approx(1520 / 2000)
    assert result["rows"][0]["share"] == pytest.approx(0.1)  # even calls: no collapse


def test_nearest_distances_find_the_closest_reference_in_any_chunk():
    reference = np.array([[0.0, 0.0], [3.0, 4.0], [10.0, 0.0]])
    points = np.array([[3.0, 4.0], [9.0, 0.0], [0.0, 1.0]])
    found = answers.nearest_distances(points, reference, chunk=2)
    np.testing.assert_allclose(found, [0.0, 1.0, 1.0], atol=1e-5)


def test_mean_pairwise_distance_of_a_copied_image_is_zero():
    assert answers.mean_pairwise_distance(np.ones((5, 4))) == pytest.approx(0.0, abs=1e-6)
    square = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    assert answers.mean_pairwise_distance(square) == pytest.approx((4 + 2 * np.sqrt(2)) / 6)


def test_the_better_reader_is_the_one_with_the_higher_accuracy_aware_on_a_tie():
    readers = answers.better_readers([0.99, 0.90, 0.50], [0.98, 0.95, 0.50])
    assert readers == ["aware", "denoised", "aware"]


def test_grid_reading_takes_each_levels_calls_from_its_better_reader():
    calls = {
        "aware": np.array([[0, 1, 2, 3], [0, 1, 2, 3], [0, 1, 8, 8], [8, 8, 8, 8]]),
        "denoised": np.array([[0, 1, 2, 3], [0, 7, 2, 3], [0, 1, 2, 8], [8, 8, 8, 3]]),
    }
    reading = answers.grid_reading([0.0, 0.3, 0.6, 0.9], [0, 1, 2, 3], calls,
                                   ["aware", "denoised", "denoised", "aware"])  # fmt: skip
    assert [row["named"] for row in reading["rows"]] == [4, 3, 3, 0]
    assert reading["rows"][1]["calls"] == [0, 7, 2, 3]
    assert reading["rows"][1]["right"] == [True, False, True, True]
    assert reading["all_named_up_to"] == 0.0
    assert reading["first_miss"]["level"] == 0.3
    assert reading["first_below_half"]["level"] == 0.9


def test_grid_reading_that_never_misses_has_no_first_miss():
    calls = {"aware": np.array([[0, 1], [0, 1]])}
    reading = answers.grid_reading([0.0, 0.5], [0, 1], calls, ["aware", "aware"])
    assert reading["all_named_up_to"] == 0.5
    assert reading["first_miss"] is None and reading["first_below_half"] is None


def test_grid_reading_missing_a_clean_digit_names_all_up_to_no_level():
    calls = {"aware": np.array([[0, 7], [0, 1]])}
    reading = answers.grid_reading([0.0, 0.5], [0, 1], calls, ["aware", "aware"])
    assert reading["all_named_up_to"] is None and reading["first_miss"]["level"] == 0.0


LEVELS = [i / 10 for i in range(11)]  # the full profile's levels
CROSSING = {"level": 0.6, "interpolated": 0.57}


@pytest.mark.parametrize("eye", [0.5, 0.6, 0.67, 0.47])
def test_an_eye_within_one_level_step_of_the_measurement_agrees(eye):
    compared = answers.eye_against_measure(eye, CROSSING, LEVELS)
    assert compared["verdict"] == answers.EYE_AGREES
    assert compared["step"] == pytest.approx(0.1)


def test_an_eye_more_than_a_step_below_the_measurement_is_earlier():
    compared = answers.eye_against_measure(0.4, CROSSING, LEVELS)
    assert compared["verdict"] == answers.EYE_EARLIER
    assert compared["difference"] == pytest.approx(0.17)  # unsigned: the verdict says which way


def test_an_eye_more_than_a_step_above_the_measurement_is_later():
    compared = answers.eye_against_measure(0.8, CROSSING, LEVELS)
    assert compared["verdict"] == answers.EYE_LATER
    assert compared["difference"] == pytest.approx(0.23)


def test_the_level_step_is_the_spacing_of_the_measured_levels_at_the_crossing():
    levels = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]  # the quick profile's
    crossing = {"level": 0.4, "interpolated": 0.31}
    assert answers.eye_against_measure(0.5, crossing, levels)["verdict"] == answers.EYE_AGREES
    assert answers.eye_against_measure(0.52, crossing, levels)["verdict"] == answers.EYE_LATER
    # a crossing at the first level takes the step after it
    first = {"level": 0.0, "interpolated": 0.0}
    assert answers.eye_against_measure(0.2, first, levels)["step"] == pytest.approx(0.2)


def test_an_eye_inside_the_levels_is_earlier_than_a_measurement_that_never_crosses():
    compared = answers.eye_against_measure(0.9, None, LEVELS)
    assert compared["verdict"] == answers.EYE_EARLIER and compared["measured"] is None


def test_a_single_measured_level_leaves_no_step_to_agree_within():
    crossing = {"level": 0.0, "interpolated": 0.0}
    compared = answers.eye_against_measure(0.0, crossing, [0.0])
    assert compared["step"] == 0 and compared["verdict"] == answers.EYE_AGREES
    assert answers.eye_against_measure(0.3, crossing, [0.0])["verdict"] == answers.EYE_LATER


EPOCHS = np.arange(1, 41)


def test_a_curve_still_climbing_at_its_end_is_rising():
    # Saturating like a validation curve: at epoch 40 it still gains about 1e-4 an epoch,
    # ten times what the noise (std 1e-5) hides.
    noise = np.random.default_rng(0).normal(0, 1e-5, len(EPOCHS))
    curve = 0.98 - 0.02 * np.exp(-EPOCHS / 15) + noise
    trend = answers.trend_at_end(curve)
    assert trend["verdict"] == "rising" and trend["epochs"] == 10
    assert trend["low"] > 0 and trend["slope"] == pytest.approx(1e-4, rel=0.5)


def test_a_curve_that_rose_early_and_is_flat_at_its_end_is_flat():
    curve = np.minimum(0.9 + 0.01 * EPOCHS, 0.98)  # flat from epoch 8 on, exactly
    trend = answers.trend_at_end(curve)
    assert trend["verdict"] == "flat" and trend["slope"] == pytest.approx(0, abs=1e-12)


def test_a_small_slope_inside_the_epoch_to_epoch_noise_is_flat():
    # 1e-5 an epoch, 0.01 pp over the window, against epoch-to-epoch noise of 0.2 pp: a
    # 95 % test calls such a curve rising (or falling) about once in 20 draws, never often.
    verdicts = []
    for seed in range(200):
        noise = np.random.default_rng(seed).normal(0, 2e-3, len(EPOCHS))
        trend = answers.trend_at_end(0.98 + 1e-5 * EPOCHS + noise)
        verdicts.append(trend["verdict"])
    assert verdicts.count("flat") / len(verdicts) > 0.9
    assert verdicts.count("rising") / len(verdicts) < 0.08


def test_a_curve_falling_at_its_end_is_falling():
    noise = np.random.default_rng(1).normal(0, 1e-4, len(EPOCHS))
    assert answers.trend_at_end(0.99 - 1e-3 * EPOCHS + noise)["verdict"] == "falling"


def test_a_curve_of_two_epochs_is_not_judged():
    trend = answers.trend_at_end([0.9, 0.95])
    assert trend["verdict"] is None and trend["slope"] is None


def test_curve_trends_judge_each_factors_mean_curve():
    rising = list(0.98 - 0.02 * np.exp(-EPOCHS / 15))
    flat = [0.97] * len(EPOCHS)
    runs = [{"l2": 1e-4, "history": {"val_accuracy": rising}},
            {"l2": 1e-4, "history": {"val_accuracy": [v + 1e-3 for v in rising]}},
            {"l2": 1e-3, "history": {"val_accuracy": flat}}]  # fmt: skip
    trends = answers.curve_trends(runs)
    assert trends["rising"] == [1e-4] and trends["judged"]
    assert not trends["all_rising"] and not trends["none_rising"]


def test_accuracies_on_two_image_sets_differ_only_beyond_their_sampling_noise():
    # 10,000 test and 5,000 validation images at about 98 %: the noise of the difference
    # is about 0.24 pp, so 0.1 pp is noise and 1 pp is not.
    assert not answers.accuracies_differ(0.981, 10000, 0.980, 5000)["differ"]
    assert answers.accuracies_differ(0.985, 10000, 0.975, 5000)["differ"]


def test_denoised_digits_hold_longer_when_their_accuracy_falls_at_a_higher_level():
    levels = [0.0, 0.2, 0.4, 0.6]
    holds = answers.holds_longer(levels, [0.99, 0.6, 0.2, 0.1], [0.96, 0.95, 0.9, 0.3], 0.9)
    assert holds["longer"] and holds["noisy"]["level"] == 0.2 and holds["denoised"]["level"] == 0.6
    assert not answers.holds_longer(levels, [0.99, 0.6, 0.2, 0.1], [0.9, 0.5, 0.2, 0.1], 0.9)[
        "longer"
    ]
    assert answers.holds_longer([0.0], [0.99], [0.96], 0.9)["longer"] is None


def test_pooled_spread_weighs_each_group_by_its_degrees_of_freedom():
    # Sums of squares 0.000008 and 0.000032 (n 3 each; the single run adds nothing):
    # pooled variance 0.00004 / 4 degrees of freedom.
    pooled = answers.pooled_std([[0.980, 0.982, 0.984], [0.970, 0.974, 0.978], [0.99]])
    assert pooled["std"] == pytest.approx(np.sqrt(0.00004 / 4))
    assert (pooled["df"], pooled["groups"], pooled["runs"]) == (4, 2, 7)
    assert np.isnan(answers.pooled_std([[0.98], [0.97]])["std"])


def test_a_pooled_spread_replaces_a_few_runs_own_spread_in_the_prediction_interval():
    # Three runs that happen to agree closely: their own spread calls Hinton's value out
    # of reach; the seeds' spread pooled over the sweep (10 df) does not.
    values = [0.9815, 0.9819, 0.9823]
    own = answers.against_single_run(values, answers.HINTON_ACCURACY)
    spread = {"std": 0.0013, "df": 10}
    pooled = answers.against_single_run(values, answers.HINTON_ACCURACY, spread=spread)
    assert own["verdict"] == "short" and pooled["verdict"] == "not distinguishable"
    assert pooled["half_width"] == pytest.approx(2.228 * 0.0013 * np.sqrt(1 + 1 / 3))
    assert pooled["std"] == 0.0013 and pooled["pooled"] and not own["pooled"]
    assert pooled["gap_in_stds"] == pytest.approx((answers.HINTON_ACCURACY - 0.9819) / 0.0013)


def test_a_flat_verdict_comes_with_the_smallest_rise_the_test_would_have_seen():
    noisy = 0.98 + 0.0005 * np.array([1, -1] * 20)
    trend = answers.trend_at_end(noisy)
    assert trend["verdict"] == "flat"
    half = (trend["high"] - trend["low"]) / 2
    assert trend["detectable_rise"] == pytest.approx(half * (trend["epochs"] - 1))
    assert trend["detectable_rise"] > abs(trend["rise"])
    # the same curve with a tenth of the noise detects a rise a tenth as large
    quiet = answers.trend_at_end(0.98 + 0.00005 * np.array([1, -1] * 20))
    assert quiet["detectable_rise"] == pytest.approx(trend["detectable_rise"] / 10)


def test_training_cost_of_stacked_runs_is_their_stacks_wall_time():
    # Two stacks of 3 runs (90 s and 60 s), each run holding its share, and one run alone.
    runs = [{"wall_time_s": 30.0, "stack": {"size": 3, "wall_time_s": 90.0}}] * 3
    runs += [{"wall_time_s": 20.0, "stack": {"size": 3, "wall_time_s": 60.0}}] * 3
    runs += [{"wall_time_s": 45.0, "stack": None}]
    cost = answers.training_cost(runs)
    assert cost["wall_time_s"] == pytest.approx(90 + 60 + 45)
    assert (cost["runs"], cost["jobs"], cost["stacked"]) == (7, 3, True)
    assert not answers.training_cost([{"wall_time_s": 1.0, "stack": None}])["stacked"]


def test_runs_that_trained_at_the_same_time_are_counted_as_overlapping():
    assert answers.overlapping_runs([(0, 10), (5, 15), (20, 30)]) == 2
    assert answers.overlapping_runs([(0, 10), (10, 20)]) == 0  # one after the other
    assert answers.overlapping_runs([]) == 0


def test_each_hypothesis_is_revisited_against_the_baseline_seed_by_seed():
    def row(name, validation, test):
        return {"name": name, "seeds": [0, 1, 2], "validation_values": validation,
                "test_values": test}  # fmt: skip

    rows = [row("assignment", [0.985, 0.986, 0.984], [0.981, 0.982, 0.983]),
            row("longer", [0.986, 0.987, 0.985], [0.982, 0.983, 0.984]),
            row("cosine", [0.985, 0.986, 0.985], [0.980, 0.983, 0.981])]  # fmt: skip
    revisited = answers.hypotheses_revisited(rows, "assignment", 0.9847)
    assert revisited["gap"] == pytest.approx(0.9847 - 0.982)
    longer, cosine = revisited["variants"]
    assert longer["name"] == "longer" and longer["test"]["verdict"] == "higher"
    assert longer["test"]["mean"] == pytest.approx(0.001)
    assert longer["share_of_gap"] == pytest.approx(0.001 / 0.0027)
    assert cosine["test"]["verdict"] == "not distinguishable"
    assert (
        answers.hypotheses_revisited(rows, "assignment", 0.98)["variants"][0]["share_of_gap"]
        is None
    )


def test_a_pooled_spread_sets_the_confidence_interval_of_the_mean_too():
    interval = answers.confidence_interval(
        [0.9815, 0.9819, 0.9823], spread={"std": 0.0013, "df": 10}
    )
    assert interval["half_width"] == pytest.approx(2.228 * 0.0013 / np.sqrt(3))
    assert interval["mean"] == pytest.approx(0.9819)


def test_holding_up_is_measured_against_the_absolute_bar_not_a_share_of_clean_accuracy():
    # Denoised digits start at 0.92: 90 % of that (0.828) is passed at 0.4, the bar of 0.9
    # is not; 4b's bar and 4c's sentence must give the same level.
    levels = [0.0, 0.2, 0.4, 0.6]
    holds = answers.holds_longer(levels, [0.99, 0.6, 0.2, 0.1], [0.92, 0.91, 0.85, 0.3], 0.9)
    assert holds["bar"] == 0.9 and holds["denoised"]["level"] == 0.4


def test_a_cnn_below_the_bar_on_clean_digits_has_nothing_to_hold():
    holds = answers.holds_longer([0.0, 0.2, 0.4], [0.89, 0.6, 0.2], [0.80, 0.7, 0.3], 0.9)
    assert holds["longer"] is None and holds["noisy"]["level"] == 0.0
