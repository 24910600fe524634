"""Time series for forecasting, concatenated into one array: from a CSV or Parquet file, wide
(one column per target; one series) or long (an id column names each row's series), or from
a Monash ``.tsf`` file (a series per line)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rnnzoo.data.formats import NAMES, detect_format
from rnnzoo.data.table import (
    group_rows,
    plural,
    read_table,
    show_time,
    time_column,
    time_note,
)
from rnnzoo.data.tsf import read_tsf, series_times
from rnnzoo.errors import UserError

TSF_VALUES = "series_value"  # the name of a .tsf file's values, as aeon's loader calls them
MOST_GAP_NOTES = 5


@dataclass
class Series:
    """Series ``i`` is ``values[offsets[i]:offsets[i+1]]``: a row per time step, the targets'
    columns first, then the covariates'; NaN where a value is missing."""

    values: np.ndarray
    offsets: np.ndarray
    ids: list[str]
    targets: list[str]
    covariates: list[str]
    times: np.ndarray | None
    source: str
    notes: list[str] = field(default_factory=list)


def read_series(
    path: str | Path,
    *,
    target: list[str] | None = None,
    time: str = "",
    id: str = "",
    covariates: list[str] | None = None,
) -> Series:
    """The series in ``path``. ``target`` names the columns to forecast (default: every
    numeric column but the time, id and covariate columns), ``covariates`` the columns known
    in advance; ``id`` the column naming each row's series (empty: the file is one series);
    ``time`` the column ordering the rows (numbers or ISO dates; empty: file order). Gaps in
    the time axis are notes, not filled; a time that occurs twice in a series is an error."""
    path = Path(path)
    fmt = detect_format(path)
    if fmt == "tsf":
        series = from_tsf(path, target or [], time, id, covariates or [])
    elif fmt in ("csv", "parquet"):
        series = from_table(path, fmt, target or [], time, id, covariates or [])
    else:
        raise UserError(
            f"{path.name}: forecasting reads series from CSV, Parquet or .tsf files, not "
            f"{NAMES.get(fmt, fmt)}; save the series as CSV (a column per series or an id column)"
        )
    missing = int(np.isnan(series.values).sum())
    if missing:
        series.notes.append(f"{plural(missing, 'missing value')} (NaN)")
    return series


def from_table(
    path: Path, fmt: str, target: list[str], time: str, id: str, covariates: list[str]
) -> Series:
    table = read_table(path, fmt, text_columns={id} if id else set())
    given, time = time, time_column(table, time, {*target, *covariates})
    targets = target_columns(table, target, time, id, covariates)
    columns = [table.numbers(name) for name in targets + covariates]
    groups = group_rows(table, id, time, kind="series", single="series")
    values = np.column_stack(columns).astype(np.float32)[groups.order]
    notes = [*time_note(given, time), *groups.notes]
    if groups.times is not None:
        notes += gap_notes(groups.times, groups.offsets, groups.ids)
    return Series(
        values, groups.offsets, groups.ids, targets, covariates, groups.times, table.source, notes
    )


def target_columns(
    table: Any, target: list[str], time: str, id: str, covariates: list[str]
) -> list[str]:
    """Check that the named columns exist (the closest suggested) and return the targets:
    those named, else every numeric column but the time, id and covariates. ``table`` is a
    whole file's table or, for the cache, its first batch."""
    for name, role in [(id, "id"), (time, "time")]:
        if name:
            table.require(name, role)
    for name in target:
        table.require(name, "target")
    for name in covariates:
        table.require(name, "covariates")
    both = set(target) & set(covariates)
    if both:
        raise UserError(
            f"{table.source}: {sorted(both)[0]!r} is both a target and a covariate; name it once"
        )
    targets = target or table.numeric_names({time, id, *covariates})
    if not targets:
        raise UserError(
            f"{table.source}: no numeric column to forecast besides the time, id and "
            f"covariates; name it with target=COLUMN"
        )
    return targets


def from_tsf(path: Path, target: list[str], time: str, id: str, covariates: list[str]) -> Series:
    """One series per line, named by the attribute ``id`` (default: ``series_name`` if the
    file has it, else the line's number among the series); times from the first date
    attribute (``start_timestamp``) and ``@frequency`` when both are there."""
    tsf = read_tsf(path)
    name = path.name
    if any(t != TSF_VALUES for t in target) or covariates:
        raise UserError(
            f"{name}: a .tsf file holds one value per step, named {TSF_VALUES!r}, and no "
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
    return Series(values, offsets, ids, [TSF_VALUES], [], times, name, notes)


def gap_notes(times: np.ndarray, offsets: np.ndarray, ids: list[str]) -> list[str]:
    """A note for each series (the first few) with steps missing from its time axis: the
    regular step is the most common one between consecutive rows, measured in whole years,
    months, days, ... when the times are dates (months differ in days)."""
    ticks, _ = as_ticks(times)
    step = regular_step(ticks, offsets)
    if step is None:
        return []
    notes = []
    for i, (a, b) in enumerate(zip(offsets[:-1], offsets[1:])):
        missing = np.rint(np.diff(ticks[a:b]) / step) - 1
        gaps = missing[missing >= 1]
        if len(gaps):
            notes.append(
                f"series {ids[i]!r}: {plural(len(gaps), 'gap')} in time "
                f"(largest {plural(int(gaps.max()), 'step')})"
            )
    if len(notes) > MOST_GAP_NOTES:
        notes = notes[:MOST_GAP_NOTES] + [f"{len(notes) - MOST_GAP_NOTES} more series have gaps"]
    return notes


def regular_step(ticks: np.ndarray, offsets: np.ndarray) -> Any:
    """The most common step between consecutive rows of a series (None with none)."""
    within = np.ones(max(len(ticks) - 1, 0), bool)
    within[offsets[1:-1] - 1] = False  # no step from one series' end to the next's start
    steps = np.diff(ticks)[within]
    positive = steps[steps > 0]
    if not len(positive):
        return None
    candidates, counts = np.unique(positive, return_counts=True)
    return candidates[np.argmax(counts)]


def as_ticks(times: np.ndarray) -> tuple[np.ndarray, str | None]:
    """Numbers as they are; datetimes as counts of the coarsest unit (years, months, days,
    hours, minutes, seconds) that holds every one of them exactly, with that unit."""
    if times.dtype.kind != "M":
        return times, None
    for unit in ("Y", "M", "D", "h", "m", "s"):
        coarse = times.astype(f"datetime64[{unit}]")
        if (coarse == times).all():
            return coarse.astype(np.int64), unit
    unit = np.datetime_data(times.dtype)[0]
    return times.astype(np.int64), unit


def times_after(series: Series, steps: int, known: bool) -> list[list[str]] | None:
    """The times of each series' next ``steps`` values, as text: its last ``steps`` rows'
    where they are ``known`` (rows of covariates for the horizon), else one regular step
    (:func:`regular_step`, in whole months or years for dates) after another from its last
    row; None without a time column."""
    if series.times is None:
        return None
    if known:
        return [
            [show_time(t) for t in series.times[end - steps : end]] for end in series.offsets[1:]
        ]
    ticks, unit = as_ticks(series.times)
    step = regular_step(ticks, series.offsets)
    if step is None:
        return None
    shown = None
    if unit is not None:  # dates as the file writes them: a month's first day, not "2005-01"
        exact = (
            u
            for u in ("D", "h", "m", "s")
            if (series.times.astype(f"M8[{u}]") == series.times).all()
        )
        shown = next(exact, unit)
    ahead = []
    for end in series.offsets[1:]:
        future = ticks[end - 1] + step * np.arange(1, steps + 1)
        if unit is not None:
            future = (
                future.astype(np.int64).astype(f"datetime64[{unit}]").astype(f"datetime64[{shown}]")
            )
        ahead.append([show_time(t) for t in future])
    return ahead
