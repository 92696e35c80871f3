"""Profiles are data; overrides are checked before anything runs."""

import dataclasses

import pytest

from labnn.errors import ConfigError
from labnn.plan import planned_work
from labnn.profiles import FULL, GPU, QUICK, get_profile, log_spaced, override, parse_assignments


def test_full_profile_is_the_assignments_protocol():
    assert (FULL.mlp_epochs, FULL.mlp_batch_size, FULL.mlp_learning_rate) == (10, 128, 0.1)
    assert (FULL.sweep_epochs, FULL.sweep_replicates) == (40, 3)
    assert FULL.sweep_factors == (1e-6, 5.62e-6, 3.16e-5, 1.78e-4, 1e-3)
    assert FULL.n_train is None and FULL.n_test is None


def test_quick_profile_shrinks_data_and_epochs():
    assert QUICK.n_train < 60000 and QUICK.sweep_epochs < FULL.sweep_epochs
    assert get_profile("quick") is QUICK


def test_the_gpu_profile_is_the_full_protocol_with_more_replicates():
    changed = {
        f.name for f in dataclasses.fields(GPU) if getattr(GPU, f.name) != getattr(FULL, f.name)
    }
    assert changed == {"name", "sweep_replicates", "variant_replicates", "cnn_seeds"}
    assert get_profile("gpu") is GPU
    assert GPU.variant_replicates >= 10 * FULL.variant_replicates
    full, gpu = planned_work(FULL, ["q2e"])["q2e"], planned_work(GPU, ["q2e"])["q2e"]
    assert gpu.runs == 10 * full.runs


def test_log_spaced_spans_both_ends():
    assert log_spaced(1e-6, 1e-3, 4) == (1e-6, 1e-5, 1e-4, 1e-3)


def test_override_converts_strings_by_the_fields_type():
    changed = override(QUICK, parse_assignments(["sweep_epochs=5", "sweep_factors=1e-5,1e-4"]))
    assert changed.sweep_epochs == 5 and changed.sweep_factors == (1e-5, 1e-4)
    assert changed.name == "quick+overrides"
    assert override(QUICK, {"n_train": "all"}).n_train is None


def test_unknown_override_key_lists_valid_keys():
    with pytest.raises(ConfigError, match="unknown profile key 'epochs'; valid keys: .*mlp_epochs"):
        override(QUICK, {"epochs": "3"})


def test_wrong_type_names_the_key_and_the_value():
    with pytest.raises(ConfigError, match="sweep_epochs must be an integer, got 'many'"):
        override(QUICK, {"sweep_epochs": "many"})
    with pytest.raises(ConfigError, match="mlp_learning_rate must be a number, got True"):
        override(QUICK, {"mlp_learning_rate": True})


def test_inconsistent_values_are_rejected():
    with pytest.raises(ConfigError, match="validation_size must be between 1 and n_train - 1"):
        override(QUICK, {"validation_size": "6000"})


def test_assignment_without_equals_sign_is_an_error():
    with pytest.raises(ConfigError, match="--set expects key=value, got 'epochs'"):
        parse_assignments(["epochs"])


def test_unknown_profile_lists_the_valid_ones():
    with pytest.raises(ConfigError, match="unknown profile 'fast'; choose one of: full, quick"):
        get_profile("fast")


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("seed", "-5", "seed must be between 0 and 2147483647, got -5"),
        ("seed", str(2**40), "seed must be between 0 and 2147483647"),
        ("mlp_learning_rate", "nan", "mlp_learning_rate must be a finite number, got nan"),
        ("sweep_learning_rate", "-inf", "sweep_learning_rate must be a finite number, got -inf"),
        ("cnn_learning_rate", "0", "cnn_learning_rate must be greater than 0, got 0.0"),
        ("variant_momentum_learning_rate", "nan", "must be a finite number, got nan"),
        ("sweep_factors", "1e-5,nan", "sweep_factors must be a finite number, got nan"),
        ("sweep_factors", "1e-5,inf", "sweep_factors must be a finite number, got inf"),
        ("noise_levels", "0,nan", "noise_levels must be a finite number, got nan"),
        ("ae_train_noise", "1e400", "ae_train_noise must be a finite number, got inf"),
        ("denoising_margin", "nan", "denoising_margin must be a finite number, got nan"),
    ],
)
def test_values_out_of_range_name_the_key_the_rule_and_the_value(key, value, words):
    with pytest.raises(ConfigError, match=f"^--set: invalid profile: .*{words}"):
        override(QUICK, {key: value})


def test_a_number_too_large_for_a_float_is_a_config_error():
    with pytest.raises(ConfigError, match="mlp_learning_rate must be a number"):
        override(QUICK, {"mlp_learning_rate": 10**400})


def test_more_replicates_are_still_the_assignments_protocol():
    from report.context import _profile_view

    gpu, quick = _profile_view(GPU), _profile_view(QUICK)
    assert gpu["is_assignment"] and gpu["changed"] == []
    assert gpu["repeats"] == ["sweep_replicates", "variant_replicates", "cnn_seeds"]
    assert not quick["is_assignment"] and "n_train" in quick["changed"]
