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


def test_readability_threshold_finds_the_first_level_below_the_fraction():
    levels = [0.0, 0.1, 0.2, 0.3, 0.4]
    accuracies = [0.99, 0.97, 0.90, 0.60, 0.30]
    result = answers.readability_threshold(levels, accuracies, 0.9)  # threshold 0.891
    assert result["crossing"]["level"] == 0.3
    assert result["crossing"]["interpolated"] == pytest.approx(0.2 + 0.1 * (0.9 - 0.891) / 0.3)
    assert answers.readability_threshold(levels, [0.99] * 5, 0.9)["crossing"] is None


def test_denoising_limit_is_where_the_gain_ends_for_good():
    levels = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    noisy = [0.99, 0.80, 0.40, 0.20, 0.12, 0.10]
    denoised = [0.98, 0.97, 0.90, 0.45, 0.125, 0.10]
    result = answers.denoising_limit(levels, noisy, denoised, margin=0.01)
    assert result["level"] == 0.8 and result["helps_at"] == [0.2, 0.4, 0.6]
    still_helping = answers.denoising_limit(levels, noisy, [d + 0.1 for d in noisy], 0.01)
    assert still_helping["level"] is None
