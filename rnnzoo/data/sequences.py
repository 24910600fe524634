"""Labelled sequences for classification and regression — or unlabelled ones, for ``rnnzoo
predict`` — as every format's reader gives them (:mod:`rnnzoo.data.formats`), and how a
long-format table (a row per time step, an id column grouping rows into sequences) holds
them."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from rnnzoo.data.rules import check_finite
from rnnzoo.data.table import Groups, Table, closest, group_rows, time_column, time_note
from rnnzoo.errors import UserError


@dataclass
class Sequences:
    """``x[i]`` is sequence ``i``: ``(length_i, channels)`` float32, NaN where a value is
    missing; ``y`` holds str labels (classification) or float64 targets (regression), or is
    None when the file has none."""

    x: list[np.ndarray]
    y: np.ndarray | None
    ids: list[str]
    channels: list[str]
    source: str
    notes: list[str] = field(default_factory=list)


@dataclass
class Options:
    """What to read: the target (its column or, in messages, its name), numeric or not, and
    whether a file without one is an error; a table's ``id`` and ``time`` columns (``time``
    orders each id's rows; empty: file order) and ``features``, its input columns (default:
    every numeric column but those) or, for the other formats, the channels to keep."""

    target: str = "label"
    regression: bool = False
    require: bool = True
    id: str = "id"
    time: str = ""
    features: list[str] = field(default_factory=list)

    def targets(
        self, labels: Sequence, where: Callable[[int], str], source: str, notes: list[str]
    ) -> np.ndarray | None:
        """``labels`` (text or numbers) as str labels or float64 targets. ``where(i)`` names
        sequence ``i`` in the error about a missing or non-numeric one, which without
        ``require`` is a note instead (and no targets)."""
        values = []
        for i, label in enumerate(labels):
            try:
                values.append(self.value(label))
            except ValueError as reason:
                problem = f"{source}, {where(i)}: {reason}"
                if self.require:
                    raise UserError(problem) from None
                notes.append(f"targets not read: {problem}")
                return None
        return np.array(values, dtype=np.float64 if self.regression else object)

    def value(self, label: str | float | None) -> str | float:
        """One label as str, or as a float for regression; None, "" and NaN are missing."""
        if label is None or label == "" or (isinstance(label, float) and math.isnan(label)):
            what = "target" if self.regression else "label"
            raise ValueError(f"no {what}; fill it in or remove the sequence")
        if not self.regression:
            return str(label)
        try:
            value = float(label)
        except ValueError:
            raise ValueError(
                f"target {label!r} is not a number; regression needs numeric targets"
            ) from None
        check_finite(np.array([value]), lambda _: "target")
        return value

    def absent(self, problem: str) -> None:
        """A file without targets: an error when they are required."""
        if self.require:
            raise UserError(problem)


def from_table(table: Table, options: Options) -> Sequences:
    """Long format: each value of column ``id`` is a sequence, its rows the time steps (the
    table read with the id and target columns as text)."""
    target, id, time, features = options.target, options.id, options.time, options.features
    table.require(id, "id")
    given, time = time, time_column(table, time, {*features, target})
    if time:
        table.require(time, "time")
    has_target = target in table.columns
    if options.require:
        table.require(target, "target")
    for name in features:
        table.require(name, "features")
    channels = features or table.numeric_names({id, time, target})
    if not channels:
        raise UserError(
            f"{table.source}: no numeric column besides id, time and target to read as "
            f"features; name them with features=COLUMN,..."
        )
    values = np.column_stack([table.numbers(name) for name in channels]).astype(np.float32)
    groups = group_rows(table, id, time, kind="id")
    x = np.split(values[groups.order], groups.offsets[1:-1])
    notes = [*time_note(given, time), *groups.notes]
    y = table_targets(table, groups, options, notes) if has_target else None
    return Sequences(list(x), y, groups.ids, channels, table.source, notes)


def table_targets(
    table: Table, groups: Groups, options: Options, notes: list[str]
) -> np.ndarray | None:
    """Each id's target: the column's value on its rows, which must all have the same."""
    target, starts = options.target, groups.offsets[:-1]
    labels = table.text(target)
    empty = [row for row, label in enumerate(labels) if label is None]
    ordered = labels[groups.order]
    changed = np.flatnonzero(ordered != np.repeat(ordered[starts], np.diff(groups.offsets)))
    if len(empty):
        problem = (
            f"{table.source}, {table.where(empty[0])}, column {target!r}: no "
            f"{'target' if options.regression else 'label'}; fill it in or remove the row"
        )
    elif len(changed):
        row = int(changed[0])
        group = int(np.searchsorted(groups.offsets, row, side="right")) - 1
        first = int(starts[group])
        kind = "target value" if options.regression else "class label"
        problem = (
            f"{table.source}: {target!r} changes within id {groups.ids[group]!r} "
            f"({ordered[first]!r} on {table.where(int(groups.order[first]))}, {ordered[row]!r} "
            f"on {table.where(int(groups.order[row]))}); a sequence has one {kind}: is "
            f"target={target} the right column?"
        )
    else:
        return options.targets(
            ordered[starts],
            lambda i: f"{table.where(int(groups.order[starts[i]]))}, column {target!r}",
            table.source,
            notes,
        )
    if options.require:
        raise UserError(problem)
    notes.append(f"targets not read: {problem}")
    return None


def pick_channels(data: Sequences, features: list[str]) -> Sequences:
    """Only the channels named in ``features``, in that order (``data`` itself when it has
    just those)."""
    if data.channels == features:
        return data
    for name in features:
        if name not in data.channels:
            close = closest(name, data.channels)
            fix = f"did you mean {close!r}?" if close else "name channels from that list"
            raise UserError(
                f"{data.source}: no channel {name!r} (channels: {', '.join(data.channels)}); {fix}"
            )
    index = [data.channels.index(name) for name in features]
    data.x = [s[:, index] for s in data.x]
    data.channels = list(features)
    return data
