"""Numbers that remember where they came from, and the filters that print them.

Every number reaching a template is a `Num` carrying its source (an answer's
path such as "q2d/summary/best_mean"). Printed bare or through a filter, it
becomes `<span class="v" data-src="...">...</span>`, so a reader can trace
each figure and a test can check that no number was typed into the prose.
"""

from __future__ import annotations

from markupsafe import Markup, escape

from labnn.figures import scientific


class Num:
    """A number from a result, with its source; compares like the number."""

    __slots__ = ("value", "src")

    def __init__(self, value: int | float, src: str):
        self.value, self.src = value, src

    def __float__(self):
        return float(self.value)

    def __int__(self):
        return int(self.value)

    def __index__(self):
        return int(self.value)

    def _other(self, other):
        return other.value if isinstance(other, Num) else other

    def __eq__(self, other):
        return self.value == self._other(other)

    def __hash__(self):
        return hash(self.value)

    def __lt__(self, other):
        return self.value < self._other(other)

    def __le__(self, other):
        return self.value <= self._other(other)

    def __gt__(self, other):
        return self.value > self._other(other)

    def __ge__(self, other):
        return self.value >= self._other(other)

    def __neg__(self):
        return Num(-self.value, self.src)

    def __abs__(self):
        return Num(abs(self.value), self.src)

    def __html__(self):
        return num(self)

    def __repr__(self):
        return f"Num({self.value!r}, {self.src!r})"


def wrap(value, src: str):
    """Turn every int and float inside dicts and lists into a Num named by its path."""
    if isinstance(value, bool) or value is None or isinstance(value, str | Num):
        return value
    if isinstance(value, int | float):
        return Num(value, src)
    if isinstance(value, dict):
        return {k: wrap(v, f"{src}/{k}") for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [wrap(v, f"{src}[{i}]") for i, v in enumerate(value)]
    return value


def _span(value: Num, text: str) -> Markup:
    if not isinstance(value, Num):
        raise TypeError(f"a number without a source reached a template: {value!r}")
    return Markup('<span class="v" data-src="{}">{}</span>').format(value.src, text)


def num(value: Num, digits: int | None = None) -> Markup:
    """A number as is: integers with thousands separators, floats with `digits` decimals
    (4 when not given)."""
    v = value.value if isinstance(value, Num) else value
    text = f"{v:,}" if isinstance(v, int) else f"{v:.{4 if digits is None else digits}f}"
    return _span(value, text.replace("-", "\u2212"))  # a real minus, as in pp


def pct(value: Num, digits: int = 2) -> Markup:
    """A fraction as a percentage: 0.9847 -> 98.47 %."""
    return _span(value, f"{float(value) * 100:.{digits}f}\u202f%")


def pp(value: Num, digits: int = 2, signed: bool = True) -> Markup:
    """A difference of fractions in percentage points: 0.0021 -> +0.21 pp (or 0.21 pp
    unsigned, for spreads and ranges)."""
    sign = "+" if signed else ""
    text = f"{float(value) * 100:{sign}.{digits}f}".replace("-", "\u2212")  # a real minus
    return _span(value, f"{text}\u202fpp")


def sci(value: Num, digits: int = 3) -> Markup:
    """Scientific notation with a real superscript: 3.16e-05 -> 3.16 × 10⁻⁵."""
    v = float(value)
    if v == 0:
        return _span(value, "0")
    mantissa, exponent = scientific(v, digits)  # the figures' rule too
    power = f"10<sup>{exponent}</sup>"
    return _span(value, Markup(power if mantissa is None else f"{mantissa:g}\u202f×\u202f{power}"))


def thousands(value: Num) -> Markup:
    """An integer with thousands separators: 55050 -> 55,050."""
    return _span(value, f"{int(value):,}")


def seconds(value: Num) -> Markup:
    """A duration: 75 -> 1 min 15 s; 4.2 -> 4.2 s; 0.076 -> 76 ms (two digits, so that a
    rate quoted beside it reconciles)."""
    v = float(value)
    if v < 1:
        ms = v * 1000
        return _span(value, f"{ms:.{0 if ms >= 10 else 1}f}\u202fms")
    if v < 60:
        return _span(value, f"{v:.1f}\u202fs")
    minutes, secs = divmod(round(v), 60)
    return _span(value, f"{minutes}\u202fmin {secs:02d}\u202fs")


def text(value) -> Markup:
    """A string from a result (a file path, a version): escaped, traced as a value."""
    return Markup('<span class="v t">{}</span>').format(escape(str(value)))


def agree(count, singular: str, plural_form: str | None = None) -> str:
    """The word that agrees with `count`: "seed" for one, "seeds" (or `plural_form`, such
    as "are" beside "is") for any other number; the count itself is not printed."""
    return singular if float(count) == 1 else (plural_form or singular + "s")


def plural(count: Num, singular: str, plural_form: str | None = None) -> Markup:
    """A count with its noun in agreement, the count traced: 1 seed, 3 seeds, 2 classes
    (with `plural_form`). Every count that reaches prose goes through here, so no profile
    that sets it to one prints "1 seeds"."""
    return Markup("{} {}").format(num(count), agree(count, singular, plural_form))


def times(count: Num) -> Markup:
    """How often: once, or 3 times (the count traced)."""
    return Markup("once") if float(count) == 1 else Markup("{} times").format(num(count))


def spread(stats: dict, style: str = "num", digits: int = 4, unit: str | None = None) -> Markup:
    """A mean and its standard deviation, "0.9812 ± 0.0011", from a `mean_std` dict. One
    value has no standard deviation (`mean_std` stores 0 for it): then the mean alone,
    with words that say why no spread follows when `unit` names what there was one of,
    "0.9812 (a single run: no spread)"; without `unit` (a table cell), the caption says."""
    shown = {"num": num, "pct": pct}[style]
    mean = shown(stats["mean"], digits)
    if stats["n"] > 1:
        return Markup("{} ± {}").format(mean, shown(stats["std"], digits))
    return Markup("{} (a single {}: no spread)").format(mean, unit) if unit else mean


def article(value: Num) -> Markup:
    """A digit (or count) with its indefinite article, as said aloud: a 3, an 8, an 11."""
    spoken = str(int(value))
    vowel = spoken.startswith("8") or (spoken.startswith(("11", "18")) and len(spoken) % 3 == 2)
    return Markup("{} {}").format("an" if vowel else "a", num(value))


FILTERS = {"num": num, "pct": pct, "pp": pp, "sci": sci, "thousands": thousands,
           "seconds": seconds, "text": text, "plural": plural, "agree": agree, "times": times,
           "spread": spread, "article": article}  # fmt: skip
