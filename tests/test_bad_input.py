"""Issue 28: every bad input ends in one line on stderr that says what to type next.

One test (or a few) per row of the issue's table; the CLI is called in-process.
"""

import json
import os
import subprocess
import sys

import pytest

from labnn.errors import DataError
from report.cli import main
from report.render import _inside, write_pdf
from tests.conftest import REPO


def one_line_error(capsys) -> str:
    """stderr of a failed command: exactly one line, no traceback."""
    err = capsys.readouterr().err
    assert err.startswith("report: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


def build_args(tmp_path, data_dir, *more):
    return ["build", "--profile", "quick", "--data-dir", str(data_dir), "--store",
            str(tmp_path / "store"), "--out", str(tmp_path / "out"), "--no-pdf", "-q",
            *more]  # fmt: skip


# -- 1: --store names a file ------------------------------------------------------------


def test_store_naming_a_file_exits_1_before_anything_runs(tmp_path, data_dir, capsys):
    blocker = tmp_path / "store.txt"
    blocker.write_text("notes")
    args = build_args(tmp_path, data_dir, "--only", "q2c")
    args[args.index("--store") + 1] = str(blocker)
    assert main(args) == 1
    err = one_line_error(capsys)
    assert f"{blocker} is a file, not a folder" in err and "--store" in err
    assert blocker.read_text() == "notes"


def test_status_with_a_store_naming_a_file_says_so(tmp_path, data_dir, capsys):
    blocker = tmp_path / "store.txt"
    blocker.write_text("")
    assert main(["status", "--data-dir", str(data_dir), "--store", str(blocker)]) == 1
    assert "is a file, not a folder" in one_line_error(capsys)


def test_out_naming_a_file_exits_2_before_anything_runs(tmp_path, data_dir, capsys):
    args = build_args(tmp_path, data_dir, "--only", "q2c")
    (tmp_path / "out").write_text("")
    assert main(args) == 2
    assert "--out" in one_line_error(capsys) and not (tmp_path / "store").exists()


# -- 2: a store that cannot be written, known before anything trains --------------------


def test_unwritable_store_fails_before_the_first_run_trains(tmp_path, data_dir, capsys):
    # A file in place of locks/ stands for a read-only store even as root, where chmod
    # does not stop writes (test_store.py has the chmod variant for other users).
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "locks").write_text("")
    assert main(build_args(tmp_path, data_dir, "--only", "q2c")) == 1
    err = one_line_error(capsys)
    assert "cannot write to the result store" in err and "locks is a file, not a folder" in err
    assert "--store" in err
    assert not list((tmp_path / "store").glob(".*")), "a temporary folder was left behind"


# -- 3: malformed benchmark files cost a warning and an appendix line --------------------


VALID_ROW = {"model": "cnn", "device_kind": "cpu", "device": "CPU", "path": "compiled loop",
             "backend": "tensorflow", "backend_version": "2.21", "batch_size": 128,
             "matmul_peak_gflops": 100.0, "ratio_to_fit": 1.5,
             "labnn": {"samples_per_second": 3000.0, "gflops": 10.0, "fraction_of_peak": 0.1},
             "fit": {"samples_per_second": 2000.0, "gflops": 6.7,
                     "fraction_of_peak": 0.07}}  # fmt: skip

MALFORMED = {
    "a_list.json": "[1, 2, 3]",
    "missing_keys.json": json.dumps({"benchmarks": [{"extra_info": {"ratio_to_fit": 1.0}}]}),
    "invalid.json": '{"benchmarks": [',
    "wrong_types.json": json.dumps(
        {"benchmarks": [{"extra_info": {**VALID_ROW, "batch_size": "many"}}]}
    ),
}


def save_malformed(folder):
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in MALFORMED.items():
        (folder / name).write_text(text)


def test_malformed_benchmark_files_cost_one_warning_not_the_report(tmp_path, caplog):
    from report.benchmarks import read_benchmarks

    save_malformed(tmp_path)
    with caplog.at_level("WARNING"):
        found = read_benchmarks(tmp_path)
    assert found.run is None
    assert all(name in found.unreadable for name in MALFORMED)
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "tox -e bench" in warnings[0].getMessage()


def test_a_readable_older_benchmark_run_is_still_shown(tmp_path):
    from report.benchmarks import read_benchmarks

    (tmp_path / "old.json").write_text(json.dumps({"benchmarks": [{"extra_info": VALID_ROW}]}))
    os.utime(tmp_path / "old.json", (1, 1))
    save_malformed(tmp_path)
    found = read_benchmarks(tmp_path)
    assert found.run["file"] == "old.json" and len(found.run["rows"]) == 2


def test_build_with_malformed_benchmarks_says_so_in_the_appendix(tmp_path, data_dir, caplog):
    save_malformed(tmp_path / "bench")
    args = build_args(tmp_path, data_dir, "--only", "q2a", "--benchmarks", str(tmp_path / "bench"))
    with caplog.at_level("WARNING"):
        assert main(args) == 0
    assert caplog.text.count("benchmark files in") == 1
    html = (tmp_path / "out" / "report.html").read_text()
    assert "The saved benchmark runs could not be read" in html and "a_list.json" in html


# -- 4: report.toml not UTF-8, --config naming a folder --------------------------------


def test_config_that_is_not_utf8_exits_2_saying_so(tmp_path, capsys):
    config = tmp_path / "report.toml"
    config.write_bytes('title = "Caf\u00e9"\n'.encode("latin-1"))
    assert main(["build", "--config", str(config), "--out", str(tmp_path)]) == 2
    err = one_line_error(capsys)
    assert str(config) in err and "not UTF-8" in err and "save it as UTF-8" in err


def test_config_naming_a_folder_exits_2_saying_so(tmp_path, capsys):
    assert main(["build", "--config", str(tmp_path), "--out", str(tmp_path)]) == 2
    err = one_line_error(capsys)
    assert "is a folder, not a file" in err and str(tmp_path / "report.toml") in err


# -- 5: init --config into a folder that does not exist ---------------------------------


def test_init_into_a_missing_folder_exits_2_saying_how_to_create_it(tmp_path, capsys):
    target = tmp_path / "nowhere" / "report.toml"
    assert main(["init", "--config", str(target)]) == 2
    err = one_line_error(capsys)
    assert f"{tmp_path / 'nowhere'} does not exist" in err and "mkdir -p" in err


def test_init_naming_a_folder_exits_2(tmp_path, capsys):
    assert main(["init", "--config", str(tmp_path)]) == 2
    assert "is a folder, not a file" in one_line_error(capsys)


# -- 6 and 7: profile values out of range, NaN and infinity -----------------------------


@pytest.mark.parametrize(
    ("assignment", "words"),
    [
        ("seed=-5", "seed must be between 0 and 2147483647, got -5"),
        ("mlp_learning_rate=nan", "mlp_learning_rate must be a finite number, got nan"),
        ("mlp_learning_rate=-1", "mlp_learning_rate must be greater than 0, got -1.0"),
        ("ae_learning_rate=inf", "ae_learning_rate must be a finite number, got inf"),
        ("sweep_factors=1e-4,nan", "sweep_factors must be a finite number, got nan"),
        ("sweep_factors=-1e-4", "sweep_factors must be one or more numbers of at least 0"),
        ("cnn_epochs=0", "cnn_epochs must be at least 1, got 0"),
    ],
)
def test_out_of_range_override_exits_2_with_key_rule_and_value(tmp_path, capsys, assignment,
                                                                words):  # fmt: skip
    assert main(["build", "--set", assignment, "--out", str(tmp_path)]) == 2
    err = one_line_error(capsys)
    assert words in err and "--set" in err


def test_nan_in_the_config_profile_table_exits_2_naming_the_file(tmp_path, capsys):
    config = tmp_path / "report.toml"
    config.write_text("[profile]\nsweep_learning_rate = nan\n")
    assert main(["build", "--config", str(config), "--out", str(tmp_path)]) == 2
    err = one_line_error(capsys)
    assert f"{config} [profile]" in err and "sweep_learning_rate must be a finite number" in err


# -- 10: the PDF's URL fetcher decodes before it compares -------------------------------


def test_percent_encoded_dot_dot_cannot_leave_the_build_folder(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "figure one.svg").write_text("<svg/>")
    escape = f"file://{out}/%2e%2e/%2E%2E/{'%2e%2e/' * 10}etc/passwd"
    assert not _inside(escape, out)
    assert not _inside(f"file://{out}/..%2fsecret", out)
    assert not _inside(f"file://elsewhere{out}/a.svg", out)
    assert _inside(f"file://{out}/figure%20one.svg", out)


def test_pdf_refuses_a_percent_encoded_escape(tmp_path, caplog):
    escape = f"file://{tmp_path}/%2e%2e/%2e%2e/{'%2e%2e/' * 10}etc/passwd"
    with caplog.at_level("WARNING"):
        write_pdf(f'<p>x</p><img src="{escape}">', tmp_path / "x.pdf")
    assert any(escape in r.getMessage() and "refused" in r.getMessage() for r in caplog.records)


# -- 11: --help and init load neither Keras nor TensorFlow ------------------------------


@pytest.mark.parametrize("argv", [["--help"], ["build", "--help"], ["init", "--config", "{tmp}"]])
def test_help_and_init_do_not_load_keras(tmp_path, argv):
    argv = [a.replace("{tmp}", str(tmp_path / "report.toml")) for a in argv]
    script = (
        "import runpy, sys\n"
        f"sys.argv = ['report', *{argv!r}]\n"
        "try:\n    runpy.run_module('report', run_name='__main__')\n"
        "except SystemExit as done:\n    assert done.code in (0, None), done.code\n"
        "loaded = sorted({m.split('.')[0] for m in sys.modules} & {'keras', 'tensorflow'})\n"
        "assert not loaded, loaded\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True,
                          text=True, timeout=120, env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.mark.parametrize("problem", ["store", "only"])
def test_a_terminal_sees_one_line_without_tensorflows_start_up_lines(tmp_path, data_dir,
                                                                     problem):  # fmt: skip
    """In a fresh process: TensorFlow's C++ start-up lines (in-process tests never see
    them) must not precede the error, whether the check runs before Keras loads or after."""
    blocker = tmp_path / "store.txt"
    blocker.write_text("")
    args = ["build", "--data-dir", str(data_dir), "--out", str(tmp_path / "out")]
    args += ["--store", str(blocker)] if problem == "store" else ["--only", "q9"]
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    done = subprocess.run([sys.executable, "-m", "report", *args], cwd=tmp_path, text=True,
                          capture_output=True, timeout=300,
                          env={**env, "PYTHONPATH": str(REPO)})  # fmt: skip
    assert done.returncode == (1 if problem == "store" else 2)
    assert done.stderr.startswith("report: error: ") and done.stderr.count("\n") == 1, done.stderr


# -- 12: --data-dir naming a file; messages that name the right flag --------------------


def test_data_dir_naming_a_file_says_it_is_a_file(tmp_path, capsys):
    archive = tmp_path / "mnist.npz"
    archive.write_bytes(b"")
    code = main(["build", "--data-dir", str(archive), "--store", str(tmp_path / "s"),
                 "--out", str(tmp_path)])  # fmt: skip
    assert code == 1
    err = one_line_error(capsys)
    assert f"{archive} (from --data-dir) is a file, not a folder" in err
    assert "leave out --data-dir" in err and "unset --data-dir" not in err


def test_missing_data_dir_flag_is_not_called_a_variable_to_unset(tmp_path, capsys):
    main(["build", "--data-dir", str(tmp_path / "nowhere"), "--out", str(tmp_path)])
    err = one_line_error(capsys)
    assert "does not exist" in err and "leave out --data-dir" in err and "unset" not in err


def test_missing_labnn_data_dir_says_unset_the_variable(tmp_path, monkeypatch):
    from labnn.data import load_mnist

    monkeypatch.setenv("LABNN_DATA_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(DataError, match="from LABNN_DATA_DIR.*unset LABNN_DATA_DIR"):
        load_mnist()


def test_bad_npz_in_a_named_folder_does_not_suggest_a_download(tmp_path):
    from labnn.data import load_mnist

    (tmp_path / "mnist.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(DataError) as error:
        load_mnist(tmp_path)
    assert "download" not in str(error.value) and "Replace it" in str(error.value)


def test_bad_npz_in_the_keras_cache_still_says_it_is_downloaded_again(tmp_path, monkeypatch):
    from labnn.data import load_mnist

    monkeypatch.delenv("LABNN_DATA_DIR", raising=False)
    (tmp_path / "mnist.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(DataError, match="downloaded again"):
        load_mnist(cache_dir=tmp_path, download=False)
