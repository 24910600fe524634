"""Time series for forecasting, concatenated into one array, as every format's reader gives
them (:mod:`rnnzoo.data.formats`), and how a table holds them: wide (one column per target;
one series) or long (an id column names each row's series)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rnnzoo.data.table import Table, group_rows, plural, show_time, time_column, time_note
from rnnzoo.errors import UserError

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


def from_table(
    table: Table, target: list[str], time: str, id: str, covariates: list[str]
) -> Series:
    """The series in a table (read with the id column as text): ``target`` names the columns
    to forecast (default: every numeric column but the time, id and covariate columns)."""
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
