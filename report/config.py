"""report.toml: who wrote the report, for which course, and when."""

from __future__ import annotations

import datetime
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from labnn.errors import ConfigError, LabnnError

DEFAULT_TITLE = "Neural networks on MNIST"

TEMPLATE = """\
# report.toml: the title page of your report. Every key is optional.
title = "{title}"
course = ""          # e.g. "Deep Learning, autumn term"
institution = ""     # e.g. "Example University"
# date = 2026-12-01  # a TOML date; today's date when left out
# Where the runs train (the same values as --scheduler): auto, none, local:N or
# tcp://host:port. Not part of the profile; runs whose numbers depend on the place
# keep it in their store key. A top-level key: it must stay above [[authors]].
# scheduler = "auto"

[[authors]]          # repeat this table for each author
name = ""
affiliation = ""
email = ""
hours = 0            # hours spent on the assignment

# Profile overrides, the same keys as `--set key=value`:
# [profile]
# sweep_replicates = 5

# After a first build: the noise level (0 to 1) from which on you find 4b's grid hard to read
# [observations]
# hard_to_identify_by_eye = 0.6
"""

_TOP = {"title": str, "course": str, "institution": str, "date": datetime.date,
        "authors": list, "profile": dict, "scheduler": str, "observations": dict}  # fmt: skip
_AUTHOR = {"name": str, "affiliation": str, "email": str, "hours": (int, float)}
# What the student saw, which no program can measure for them.
_OBSERVATIONS = {"hard_to_identify_by_eye": (int, float)}


@dataclass(frozen=True)
class Author:
    name: str
    affiliation: str = ""
    email: str = ""
    hours: float | None = None


@dataclass(frozen=True)
class ReportConfig:
    """The title page's data; `configured` is False when no report.toml was given."""

    title: str = DEFAULT_TITLE
    course: str = ""
    institution: str = ""
    date: datetime.date = field(default_factory=datetime.date.today)
    authors: tuple[Author, ...] = ()
    profile: dict = field(default_factory=dict)
    scheduler: str = ""  # where runs train; empty: not set here (the CLI's default)
    # The noise level from which on the student finds 4b's digits hard to identify.
    hard_to_identify_by_eye: float | None = None
    configured: bool = False
    path: str = ""

    @property
    def is_draft(self) -> bool:
        """No author named yet (no report.toml, or `init`'s template not filled in): the
        report is marked DRAFT so that no one hands it in by mistake."""
        return not any(author.name.strip() for author in self.authors)


def load_config(path: str | Path | None) -> ReportConfig:
    """Read and check report.toml; None gives the unconfigured defaults.

    Raises:
        ConfigError: a missing or malformed file, an unknown key, a wrong type;
            the message names the key and the file.
    """
    if path is None:
        return ReportConfig()
    path = Path(path)
    document = _parse(path, _read(path))
    _check_keys(document, _TOP, where=str(path))
    authors = []
    for i, author in enumerate(document.get("authors", [])):
        where = f"{path}: authors[{i}]"
        if not isinstance(author, dict):
            raise ConfigError(f"{where} must be a table ([[authors]])")
        _check_keys(author, _AUTHOR, where=where)
        if "name" not in author:
            raise ConfigError(f'{where} has no name; add name = "..." to it')
        authors.append(Author(**author))
    values = {k: v for k, v in document.items() if k not in ("authors", "observations")}
    values.update(_scheduler(values, where=str(path)))
    values.update(_observations(document.get("observations", {}), where=str(path)))
    return ReportConfig(**values, authors=tuple(authors), configured=True, path=str(path))


def _read(path: Path) -> str:
    """The text of report.toml, or a ConfigError that says what to pass instead."""
    if path.is_dir():
        raise ConfigError(
            f"--config {path} is a folder, not a file; pass the report.toml itself, "
            f"e.g. --config {path / 'report.toml'}"
        )
    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: no such file; create one with `python -m report init --config {path}`"
        ) from None
    except UnicodeDecodeError as error:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte {error.start}: {error.object[error.start]:#04x}); "
            "save it as UTF-8 in your editor (TOML files are UTF-8)"
        ) from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot be read ({error.strerror or error})") from None


def _parse(path: Path, text: str) -> dict:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {_one_line(error)}") from None
    except RecursionError:  # tables or arrays nested thousands deep
        raise ConfigError(f"{path}: not valid TOML: nested too deeply") from None


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split())


def _scheduler(values: dict, *, where: str) -> dict:
    """`scheduler` from the top level, or from the [profile] table, where report.toml
    files written before it left the profile have it; checked like --scheduler."""
    from labnn.scheduler import parse_scheduler

    profile = dict(values.get("profile", {}))
    scheduler = values.get("scheduler", "")
    if "scheduler" in profile:
        scheduler = scheduler or str(profile.pop("scheduler"))
    if scheduler:
        try:
            parse_scheduler(scheduler)
        except ConfigError as error:
            raise ConfigError(f"{where}: {error}") from None
    return {"scheduler": scheduler, "profile": profile}


def _observations(table: dict, *, where: str) -> dict:
    """The [observations] table: a noise level in [0, 1] the student read off the grid."""
    where = f"{where}: [observations]"
    level = table.get("hard_to_identify_by_eye")
    number = isinstance(level, int | float) and not isinstance(level, bool)
    if level is not None and not (number and 0 <= level <= 1):  # NaN fails here too
        raise ConfigError(
            f"{where} hard_to_identify_by_eye must be a noise level, a number from 0 to 1, "
            f"got {type(level).__name__} {level!r}; look at question 4b's grid of noisy "
            "digits and write the level (its row) from which on you find them hard to "
            "identify, e.g. hard_to_identify_by_eye = 0.6"
        )
    _check_keys(table, _OBSERVATIONS, where=where)
    return {"hard_to_identify_by_eye": None if level is None else float(level)}


def _check_keys(table: dict, schema: dict, *, where: str):
    for key, value in table.items():
        if key not in schema:
            raise ConfigError(
                f"{where}: unknown key {key!r}; valid keys: {', '.join(sorted(schema))}"
            )
        expected = schema[key]
        if isinstance(value, bool) or not isinstance(value, expected):
            name = getattr(expected, "__name__", None) or " or ".join(t.__name__ for t in expected)
            raise ConfigError(
                f"{where}: {key} must be {name}, got {type(value).__name__} {value!r}"
            )


def write_template(path: Path, *, overwrite: bool = False) -> Path:
    """Write a commented report.toml to fill in.

    Raises:
        ConfigError: the file exists (without `overwrite`), its folder does not, or the
            path names a folder.
        LabnnError: the file cannot be written (permissions, a full disk).
    """
    if path.is_dir():
        raise ConfigError(
            f"--config {path} is a folder, not a file; name the file to write, "
            f"e.g. --config {path / 'report.toml'}"
        )
    if path.exists() and not overwrite:
        raise ConfigError(f"{path} already exists; edit it, or pass --force to overwrite it")
    if not path.parent.is_dir():
        raise ConfigError(
            f"cannot write {path}: the folder {path.parent} does not exist; create it first "
            f"(mkdir -p {path.parent}) or choose another --config"
        )
    try:
        path.write_text(TEMPLATE.format(title=DEFAULT_TITLE), encoding="utf-8")
    except OSError as error:
        raise LabnnError(
            f"cannot write {path}: {error.strerror or error}; choose another --config"
        ) from None
    return path
