"""Issue 28's fuzz pass: report.toml and `--set key=value` under malformed input end in a
ConfigError with a one-line message, never in another exception."""

import math
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labnn.errors import LabnnError
from labnn.profiles import QUICK, Profile, override, parse_assignments
from report.config import load_config


def _toml_float(value: float) -> str:
    if math.isnan(value):
        return "nan"
    return ("-inf" if value < 0 else "inf") if math.isinf(value) else repr(value)


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

PROFILE_KEYS = [name for name in Profile.__dataclass_fields__ if name != "name"]
CONFIG_KEYS = ["title", "course", "institution", "date", "authors", "profile", "author", "日付",
               "observations"]  # fmt: skip
OBSERVATION_KEYS = ["hard_to_identify_by_eye", "by_eye"]
AUTHOR_KEYS = ["name", "affiliation", "email", "hours", "age"]

# TOML values a student could type, right or wrong: numbers at the edges, NaN and infinity,
# strings, arrays (also nested and mixed), tables, dates, booleans.
TOML_VALUES = st.one_of(
    st.sampled_from(
        [
            "nan",
            "+inf",
            "-inf",
            "-nan",
            "0",
            "-1",
            "1e400",
            "-0.0",
            "true",
            "9223372036854775807",
            "-9223372036854775808",
            "1979-05-27",
            "1979-05-27T07:32:00Z",
            "07:32:00",
            "[]",
            "[nan]",
            "[1, 2, 3]",
            "[0.0, 0.5, 1.0]",
            "[[1], [2]]",
            '["momentum", "cosine"]',
            "{a = 1}",
            '"none"',
            '"all"',
            '"auto"',
            '"local:0"',
            '""',
        ]
    ),
    st.integers().map(str),
    st.floats().map(_toml_float),
    st.text(max_size=20).map(lambda t: '"' + t.encode("unicode_escape").decode() + '"'),
    st.lists(st.floats(), max_size=4).map(lambda fs: "[" + ", ".join(map(_toml_float, fs)) + "]"),
)


def _toml(top: list, authors: list, profile: list, observations: list) -> str:
    lines = [f"{key} = {value}" for key, value in top]
    for author in authors:
        lines += ["[[authors]]", *(f"{key} = {value}" for key, value in author)]
    if profile:
        lines += ["[profile]", *(f"{key} = {value}" for key, value in profile)]
    if observations and not any(key == "observations" for key, _ in top):
        lines += ["[observations]", *(f"{key} = {value}" for key, value in observations)]
    return "\n".join(lines) + "\n"


STRUCTURED = st.builds(
    _toml,
    st.lists(
        st.tuples(st.sampled_from(CONFIG_KEYS[:4] + CONFIG_KEYS[6:]), TOML_VALUES),
        max_size=3,
        unique_by=lambda kv: kv[0],
    ),
    st.lists(
        st.lists(
            st.tuples(st.sampled_from(AUTHOR_KEYS), TOML_VALUES),
            max_size=3,
            unique_by=lambda kv: kv[0],
        ),
        max_size=2,
    ),
    st.lists(
        st.tuples(st.sampled_from([*PROFILE_KEYS, "epochs"]), TOML_VALUES),
        max_size=4,
        unique_by=lambda kv: kv[0],
    ),
    st.lists(
        st.tuples(st.sampled_from(OBSERVATION_KEYS), TOML_VALUES),
        max_size=2,
        unique_by=lambda kv: kv[0],
    ),
)


def assert_one_line_labnn_error(error: LabnnError):
    message = str(error)
    assert message.strip() and "\n" not in message, repr(message)


def load_with_profile(raw: bytes):
    """What `build --config` does with the file: load it, then apply its [profile]."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "report.toml"
        path.write_bytes(raw)
        try:
            config = load_config(path)
            override(QUICK, config.profile, origin=f"{path} [profile]")
        except LabnnError as error:
            assert_one_line_labnn_error(error)


@FUZZ
@given(st.text(max_size=300))
def test_random_text_as_report_toml_is_a_config_error_or_loads(text):
    load_with_profile(text.encode("utf-8", "surrogatepass"))


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes_as_report_toml_are_a_config_error_or_load(raw):
    load_with_profile(raw)


@FUZZ
@given(STRUCTURED)
def test_wrong_types_and_edge_values_in_report_toml_are_config_errors(text):
    load_with_profile(text.encode())


ASSIGNMENT = st.one_of(
    st.text(max_size=40),
    st.builds(
        "{}={}".format,
        st.sampled_from([*PROFILE_KEYS, "epochs", " seed ", ""]),
        st.one_of(
            st.text(max_size=20),
            TOML_VALUES,
            st.sampled_from(
                [
                    "nan",
                    "inf",
                    "-1",
                    "1e-4,nan",
                    "0,,1",
                    "9" * 5000,
                    "all",
                    "none",
                    "1_000",
                    "0x10",
                    "١٢",
                ]
            ),
        ),
    ),
)


@FUZZ
@given(st.lists(ASSIGNMENT, max_size=4))
def test_malformed_set_assignments_are_config_errors(items):
    try:
        override(QUICK, parse_assignments(items))
    except LabnnError as error:
        assert_one_line_labnn_error(error)
