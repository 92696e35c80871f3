"""report.toml: who wrote the report, for which course, and when."""

from __future__ import annotations

import datetime
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from labnn.errors import ConfigError

DEFAULT_TITLE = "Neural networks on MNIST"

TEMPLATE = """\
# report.toml: the title page of your report. Every key is optional.
title = "{title}"
course = ""          # e.g. "Deep Learning, autumn term"
institution = ""     # e.g. "Example University"
# date = 2026-12-01  # a TOML date; today's date when left out

[[authors]]          # repeat this table for each author
name = ""
affiliation = ""
email = ""
hours = 0            # hours spent on the assignment

# Profile overrides, the same keys as `--set key=value`:
# [profile]
# sweep_replicates = 5
"""

_TOP = {"title": str, "course": str, "institution": str, "date": datetime.date,
        "authors": list, "profile": dict}  # fmt: skip
_AUTHOR = {"name": str, "affiliation": str, "email": str, "hours": (int, float)}


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
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: no such file; create one with `python -m report init --config {path}`"
        ) from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    _check_keys(document, _TOP, where=str(path))
    authors = []
    for i, author in enumerate(document.get("authors", [])):
        where = f"{path}: authors[{i}]"
        if not isinstance(author, dict):
            raise ConfigError(f"{where} must be a table ([[authors]])")
        _check_keys(author, _AUTHOR, where=where)
        authors.append(Author(**author))
    values = {k: v for k, v in document.items() if k != "authors"}
    return ReportConfig(**values, authors=tuple(authors), configured=True, path=str(path))


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
    """Write a commented report.toml to fill in."""
    if path.exists() and not overwrite:
        raise ConfigError(f"{path} already exists; edit it, or pass --force to overwrite it")
    path.write_text(TEMPLATE.format(title=DEFAULT_TITLE), encoding="utf-8")
    return path
