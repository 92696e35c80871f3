"""`python -m report`: build the report, show what is stored, write a report.toml."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

from labnn.errors import ConfigError, LabnnError

EXAMPLE = """examples:
  python -m report build --profile quick          # a few minutes: try it out
  python -m report build                          # the assignment's full protocol
  python -m report build --only q2d --set sweep_replicates=5
  python -m report build --scheduler local:2      # the sweep on a local Dask cluster
  python -m report status                         # what is stored, what would run
  python -m report init                           # write a report.toml to fill in
"""


def default_store() -> Path:
    """$LABNN_STORE, else the user cache: $XDG_CACHE_HOME/labnn/store or ~/.cache/labnn/store."""
    if os.environ.get("LABNN_STORE"):
        return Path(os.environ["LABNN_STORE"])
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "labnn" / "store"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m report",
        description="Turn the MNIST assignment's experiments into report.html and report.pdf.",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    build = commands.add_parser(
        "build",
        help="run what is not stored yet, then render",
        description="Run every experiment that is not in the store yet, "
        "then write report.html and report.pdf.",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common(build)
    build.add_argument("--out", type=Path, default=Path("build"),
                       help="output folder (default: build/)")  # fmt: skip
    build.add_argument("--only", metavar="SECTIONS",
                       help="comma-separated sections to build, e.g. q2d,q3; the others "
                       "come from the store or are marked not run")  # fmt: skip
    build.add_argument("--force", action="store_true", help="re-run even what is stored")
    build.add_argument("--no-pdf", action="store_true", help="write the HTML only")
    build.add_argument("--benchmarks", type=Path, default=Path(".benchmarks"),
                       help="saved `tox -e bench` runs; the latest goes into the appendix "
                       "(default: .benchmarks/)")  # fmt: skip
    build.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    build.add_argument("-v", "--verbose", action="store_true", help="log details on stderr")
    build.set_defaults(handler=cmd_build)

    status = commands.add_parser("status", help="show, per section, what is stored and why "
                                 "the rest would run; trains nothing")  # fmt: skip
    _common(status)
    status.set_defaults(handler=cmd_status)

    init = commands.add_parser("init", help="write a commented report.toml to fill in")
    init.add_argument("--config", type=Path, default=Path("report.toml"),
                      help="where to write it (default: report.toml)")  # fmt: skip
    init.add_argument("--force", action="store_true", help="overwrite an existing file")
    init.set_defaults(handler=cmd_init)
    return parser


def _common(parser: argparse.ArgumentParser):
    parser.add_argument("--profile", default="full", choices=["full", "quick", "gpu"],
                        help="full: the assignment's protocol (default); quick: minutes, "
                        "for trying things; gpu: full with 30 replicates, for a GPU")  # fmt: skip
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="folder with the four MNIST IDX files or mnist.npz (default: "
                        "$LABNN_DATA_DIR, else the Keras cache, else a verified "
                        "download)")  # fmt: skip
    parser.add_argument(
        "--store",
        type=Path,
        default=None,
        help=f"result store (default: $LABNN_STORE or {default_store()})",
    )
    parser.add_argument("--config", type=Path, default=None,
                        help="report.toml: the title page and profile overrides in its "
                        "[profile] table (default: ./report.toml if it exists)")  # fmt: skip
    parser.add_argument("--scheduler", default=None, metavar="WHERE",
                       help="where the sweeps' independent runs, the CNN and question 4's "
                       "noise evaluation run: auto (default: a local Dask cluster of "
                       "single-threaded workers where there is enough training to repay "
                       "its start, one worker with oneDNN for the CNN where TensorFlow runs "
                       "without it; stacks and short builds in this process), none (in "
                       "this process), "
                       "local:N (N Dask workers here) or tcp://host:port (a running Dask "
                       "scheduler). Where runs train is in the keys of those whose numbers "
                        "depend on it, so status asks it too")  # fmt: skip
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a profile field, e.g. --set sweep_epochs=20 "
                        "(repeatable; applied after report.toml's [profile])")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    verbose = getattr(args, "verbose", False)
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # TensorFlow warns about retracing when many small models predict in turn; harmless here.
    logging.getLogger("tensorflow").setLevel(logging.INFO if verbose else logging.ERROR)
    # WeasyPrint warns about every SVG presentation attribute it reads as CSS; its real
    # problems surface as errors. Our own fetcher refusals log under report.render.
    logging.getLogger("weasyprint").setLevel(logging.INFO if verbose else logging.ERROR)
    # Dask logs every worker and client coming and going at INFO; runs report as they
    # finish. Dask reads its log level from the environment at import, as its workers do.
    os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "info" if verbose else "warning")
    try:
        return args.handler(args)
    except ConfigError as error:
        if args.debug:
            raise
        print(f"report: error: {_one_line(error)}", file=sys.stderr)
        return 2
    except LabnnError as error:
        if args.debug:
            raise
        print(f"report: error: {_one_line(error)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("report: interrupted; finished runs are stored and the next build resumes "
              "from them", file=sys.stderr)  # fmt: skip
        return 130


def _one_line(error: Exception) -> str:
    """The message on one line: some carry a library's multi-line text (a download's)."""
    return " ".join(str(error).split())


def load_backend():
    """Import Keras (and its backend, seconds) with TensorFlow's C++ start-up lines kept
    off the user's terminal: the log level must be set before TensorFlow loads, and a
    few lines (the CUDA probe) ignore it, so the native stderr is muted meanwhile.
    Python errors still surface. Only the commands that need it call this."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from labnn.quiet import native_stderr_muted

    with native_stderr_muted():
        import keras  # noqa: F401


def _settings(args):
    """report.toml, the profile to run (--profile, then report.toml's [profile], then
    --set) and where runs train (--scheduler, else report.toml's, else auto; checked).
    The one place that decides them, so that `status` looks up the runs (and keys) that
    `build` would."""
    from labnn.scheduler import parse_scheduler

    config = _config(args)
    scheduler = args.scheduler or config.scheduler or "auto"  # not part of the profile
    parse_scheduler(scheduler)  # a bad value fails here, with the valid forms
    return config, _profile(args, config), scheduler


def _profile(args, config):
    from labnn.profiles import get_profile, override, parse_assignments

    profile = get_profile(args.profile)
    if config is not None and config.profile:
        profile = override(profile, config.profile, origin=f"{config.path} [profile]")
    return override(profile, parse_assignments(args.set))


def _config(args):
    from report.config import load_config

    path = args.config
    if path is None and Path("report.toml").is_file():
        path = Path("report.toml")
    return load_config(path)


def _data(args):
    from labnn.data import load_mnist

    return load_mnist(args.data_dir)


def cmd_build(args) -> int:
    from labnn.scheduler import require_dask

    # Everything the user typed is checked before Keras loads and anything trains.
    config, profile, scheduler = _settings(args)
    require_dask(scheduler)  # before any training, not after the first sections
    _check_data_dir(args)
    root = _store_folder(args)
    if args.out.exists() and not args.out.is_dir():  # else known only after training
        raise ConfigError(f"--out {args.out} is a file, not a folder; name a folder for "
                          "report.html and report.pdf (it is created if missing)")  # fmt: skip

    only = _only(args.only)  # loads Keras: the sections are the experiments' modules
    from labnn.progress import BuildProgress
    from labnn.store import Store
    from report.build import build

    progress = BuildProgress(quiet=args.quiet)
    started = time.perf_counter()
    data = _data(args)
    store = Store(root, force=args.force)
    progress.note(f"profile {profile.name}, data {data.source}, store {store.root}")
    try:
        written = build(profile=profile, data=data, store=store, config=config, only=only,
                        out=args.out, pdf=not args.no_pdf, progress=progress,
                        benchmarks=args.benchmarks, scheduler=scheduler)  # fmt: skip
    finally:
        progress.close()  # the live line ends; what follows are lines of their own
    progress.note(f"trained {store.computed} run(s), reused {store.reused} from the store, "
                  f"{time.perf_counter() - started:.0f} s in all")  # fmt: skip
    if config.is_draft:
        # A warning even with -q: a draft must not be handed in by mistake.
        where = f"{config.path} names no author" if config.configured else "no report.toml"
        print(f"report: warning: {where}, so the title page has no authors and every PDF page "
              "is marked DRAFT; run `python -m report init`, fill in report.toml and build "
              "again (it takes seconds)", file=sys.stderr)  # fmt: skip
    if config.hard_to_identify_by_eye is None:
        # The one answer of the report that needs the student's eyes (question 4b).
        where = f"{config.path} has" if config.configured else "no report.toml, hence"
        print(f"report: warning: {where} no [observations] hard_to_identify_by_eye, so "
              "4b states the measured threshold without your own reading; look at 4b's grid "
              "of noisy digits, add the level from which on you find them hard to identify "
              "and build again", file=sys.stderr)  # fmt: skip
    for path in written:
        print(path)
    return 0


def cmd_status(args) -> int:
    _, profile, scheduler = _settings(args)
    _check_data_dir(args)
    root = _store_folder(args)

    load_backend()
    from labnn.store import Store
    from report.pipeline import explain

    store = Store(root)
    print(f"profile {profile.name}; store {store.root}")
    for section, lines in explain(profile, _data(args), store, scheduler=scheduler).items():
        for line in lines:
            print(f"{section:5} {line}")
    return 0


def cmd_init(args) -> int:
    from report.config import write_template

    print(write_template(args.config, overwrite=args.force))
    return 0


def _store_folder(args) -> Path:
    """--store, else the default store; a StoreError when that path is a file."""
    from labnn.store import Store

    root = args.store or default_store()
    Store(root).check_folder()
    return root


def _check_data_dir(args):
    """--data-dir must name a folder (LABNN_DATA_DIR is checked where it is read)."""
    from labnn.data import check_data_dir

    if args.data_dir is not None:
        check_data_dir(args.data_dir, how="--data-dir")


def _only(text):
    load_backend()
    from report.pipeline import parse_only

    try:
        return parse_only(text)
    except ValueError as error:
        raise ConfigError(str(error)) from None
