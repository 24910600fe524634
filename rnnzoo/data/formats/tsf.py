"""The Monash forecasting archive's ``.tsf`` format: ``@attribute name type`` lines (string,
numeric or date, e.g. ``series_name`` and ``start_timestamp``), ``@frequency``, ``@horizon``,
``@missing``, ``@equallength``, ``@data``, then one series per line: its attribute values and
its comma-separated values, separated by ``:``; ``?`` is a missing value."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnzoo.data.formats.base import Format
from rnnzoo.data.rules import check_finite, read_text
from rnnzoo.data.series import Series
from rnnzoo.errors import UserError

VALUES = "series_value"  # the name of a .tsf file's values, as aeon's loader calls them

TAGS = ("@relation", "@attribute", "@frequency", "@horizon", "@missing", "@equallength", "@data")
ATTRIBUTE_TYPES = ("string", "numeric", "date")
# the step of each @frequency: how many of which numpy datetime64 unit
FREQUENCIES = {
    "yearly": (1, "Y"),
    "quarterly": (3, "M"),
    "monthly": (1, "M"),
    "weekly": (7, "D"),
    "daily": (1, "D"),
    "hourly": (1, "h"),
    "half_hourly": (30, "m"),
    "10_minutes": (10, "m"),
    "minutely": (1, "m"),
    "4_seconds": (4, "s"),
}


@dataclass
class TsfFile:
    """A ``.tsf`` file's series, each one's attribute values (text) by attribute name, the
    attribute types and the ``@frequency`` ("" when the header has none)."""

    values: list[np.ndarray]
    attributes: dict[str, list[str]]
    types: dict[str, str]
    frequency: str


def read_tsf(path: Path) -> TsfFile:
    name = path.name
    lines = read_text(path).splitlines()
    types: dict[str, str] = {}
    frequency = ""
    start = None
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        tokens = line.split()
        tag = tokens[0].lower()
        if tag not in TAGS:
            close = difflib.get_close_matches(tag, TAGS, n=1)
            fix = f"did you mean {close[0]}?" if close else "the header must end with @data"
            raise UserError(f"{name}, line {number}: unexpected {tokens[0]!r} before @data; {fix}")
        if tag == "@data":
            start = number
            break
        if tag == "@attribute":
            if len(tokens) != 3 or tokens[2].lower() not in ATTRIBUTE_TYPES:
                raise UserError(
                    f"{name}, line {number}: expected @attribute NAME TYPE with TYPE string, "
                    f"numeric or date; fix the header"
                )
            types[tokens[1]] = tokens[2].lower()
        elif tag == "@frequency" and len(tokens) == 2:
            frequency = tokens[1].lower()
    if start is None:
        raise UserError(f"{name}: no @data line; the header must end with @data, then the series")
    values: list[np.ndarray] = []
    attributes: dict[str, list[str]] = {a: [] for a in types}
    for number, line in enumerate(lines[start:], start + 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split(":")
        if len(fields) != len(types) + 1:
            raise UserError(
                f"{name}, line {number}: {len(fields)} fields separated by ':', expected "
                f"{len(types) + 1} (the attributes {', '.join(types)}, then the values); "
                f"fix the line"
            )
        for attribute, text in zip(types, fields):
            attributes[attribute].append(text.strip())
        values.append(parse_values(fields[-1], name, number))
    if not values:
        raise UserError(f"{name}: no series after @data; add one line per series")
    return TsfFile(values, attributes, types, frequency)


def parse_values(text: str, name: str, number: int) -> np.ndarray:
    """One series' comma-separated values as float32, NaN for ``?``."""
    parts = text.split(",")
    try:
        values = np.array([float("nan") if p.strip() == "?" else float(p) for p in parts])
    except ValueError:
        i, bad = next((i, p) for i, p in enumerate(parts) if not is_number(p))
        raise UserError(
            f"{name}, line {number}, value {i + 1}: {bad.strip()!r} is not a number; fix it, "
            f"or write ? for a missing value"
        ) from None
    place = lambda i: f"{name}, line {number}, value {i + 1}"  # noqa: E731
    return check_finite(values, place).astype(np.float32)


def is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return text.strip() == "?"
    return True


def series_times(start: str, length: int, frequency: str) -> np.ndarray | None:
    """The times of a series that starts at ``start`` (``1979-01-01 00-00-00``: the archive
    writes the clock with dashes), one ``frequency`` step apart; None when the frequency is
    not one of the archive's or the start is not a date."""
    if frequency not in FREQUENCIES:
        return None
    day, _, clock = start.partition(" ")
    try:
        first = np.datetime64(f"{day}T{clock.replace('-', ':')}" if clock else day, "s")
    except ValueError:
        return None
    count, unit = FREQUENCIES[frequency]
    steps = first.astype(f"datetime64[{unit}]") + np.arange(length) * count
    return steps.astype("datetime64[s]")


def read_series(
    path: Path, *, target: list[str], time: str, id: str, covariates: list[str]
) -> Series:
    """One series per line, named by the attribute ``id`` (default: ``series_name`` if the
    file has it, else the line's number among the series); times from the first date
    attribute (``start_timestamp``) and ``@frequency`` when both are there."""
    tsf = read_tsf(path)
    name = path.name
    if any(t != VALUES for t in target) or covariates:
        raise UserError(
            f"{name}: a .tsf file holds one value per step, named {VALUES!r}, and no "
            f"covariates; leave target and covariates empty"
        )
    dates = [a for a, kind in tsf.types.items() if kind == "date"]
    for column, role, names in [(id, "id", list(tsf.types)), (time, "time", dates)]:
        if column and column not in names:
            raise UserError(
                f"{name}: no {role} attribute {column!r} (attributes: "
                f"{', '.join(names) or 'none'}); leave {role} empty or name one of them"
            )
    id = id or ("series_name" if "series_name" in tsf.types else "")
    ids = tsf.attributes[id] if id else [str(i) for i in range(len(tsf.values))]
    lengths = [len(v) for v in tsf.values]
    times, notes = None, []
    start = time or (dates[0] if dates else "")
    if start:
        parts = [series_times(s, n, tsf.frequency) for s, n in zip(tsf.attributes[start], lengths)]
        if all(p is not None for p in parts):
            times = np.concatenate(parts)
        else:
            notes.append(
                f"no times: @frequency {tsf.frequency!r} is not one of the archive's, or a "
                f"{start} is not a date"
            )
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    values = np.concatenate(tsf.values)[:, None]
    return Series(values, offsets, ids, [VALUES], [], times, name, notes)


FORMAT = Format(
    "tsf",
    ".tsf (Monash)",
    (".tsf",),
    header="@relation ... @data",
    tags=frozenset({"@relation", "@attribute", "@frequency", "@horizon"}),  # not in a .ts
    series=read_series,
)
