"""The --scheduler setting: its values, and where explicit ones send runs (no Dask needed)."""

import pytest

from labnn.errors import ConfigError
from labnn.profiles import QUICK, override
from labnn.scheduler import ONEDNN, parse_scheduler, resolve


@pytest.mark.parametrize("text", ["local:0", "local:x", "dask", "tcp://host", "127.0.0.1:8786"])
def test_a_bad_scheduler_value_names_the_valid_forms(text):
    with pytest.raises(ConfigError, match="none, local:N .* tcp://host:port"):
        parse_scheduler(text)


def test_scheduler_values_parse():
    assert parse_scheduler("none").kind == "none"
    assert parse_scheduler("local:2").workers == 2
    assert parse_scheduler("tcp://10.0.0.5:8786").address == "tcp://10.0.0.5:8786"


def test_where_runs_train_is_not_a_profile_setting():
    with pytest.raises(ConfigError, match="unknown profile key 'scheduler'"):
        override(QUICK, {"scheduler": "local:2"})


def test_an_explicit_place_is_kept_and_local_workers_get_onednn_for_convolutions():
    local = parse_scheduler("local:2")
    assert resolve(local, runs=3, samples=1, stacked=True) == local
    assert dict(resolve(local, runs=1, samples=1, onednn=True).env) == ONEDNN
    address = parse_scheduler("tcp://10.0.0.1:8786")  # remote workers are set up by their owner
    assert resolve(address, runs=1, samples=10**9, onednn=True) == address
    assert resolve(parse_scheduler("none"), runs=9, samples=10**9) == parse_scheduler("none")
