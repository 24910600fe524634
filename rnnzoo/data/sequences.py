"""Labelled sequences for classification and regression — or unlabelled ones, for ``rnnzoo
predict`` — from a UCR/UEA ``.ts`` file, a long-format CSV or Parquet file (a row per time
step, an id column grouping rows into sequences), an ``.npz`` archive, or a folder with one
sub-folder per class."""

from __future__ import annotations

import math
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rnnzoo.data.formats import NAMES, check_finite, detect_format, position
from rnnzoo.data.table import (
    Groups,
    Table,
    closest,
    group_rows,
    missing_text,
    natural_key,
    plural,
    read_table,
    time_column,
    time_note,
)
from rnnzoo.data.ts import read_ts
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


def read_sequences(
    path: str | Path,
    *,
    target: str = "label",
    id: str = "id",
    time: str = "",
    features: list[str] | None = None,
    regression: bool = False,
    require_target: bool = True,
) -> Sequences:
    """The sequences in ``path``, whichever its format (see :func:`detect_format`).

    ``target``, ``id`` and ``time`` name a CSV or Parquet file's columns (``time`` orders the
    rows within each id; empty: file order); ``features`` its input columns (default: every
    numeric column but those) or, for the other formats, the channels to keep. Without
    ``require_target`` a file without targets gives ``y=None``, and so do unusable targets
    (with a note): what ``rnnzoo predict`` needs."""
    path = Path(path)
    fmt = detect_format(path)
    options = Options(target, regression, require_target)
    if fmt in ("csv", "parquet"):
        data = from_table(path, fmt, options, id, time, features or [])
    else:
        if fmt == "ts":
            data = from_ts(path, options)
        elif fmt == "npz":
            data = from_npz(path, options)
        elif fmt == "folder":
            data = from_folder(path, options)
        else:
            raise UserError(
                f"{path.name}: a {NAMES[fmt]} file holds no labelled sequences; give a .ts, CSV, "
                f"Parquet or .npz file, or a folder with one sub-folder per class"
            )
        if features:
            data = pick_channels(data, features)
    missing = sum(int(np.isnan(s).sum()) for s in data.x)
    if missing:
        data.notes.append(f"{plural(missing, 'missing value')} (NaN)")
    return data


@dataclass
class Options:
    """What the target must be: its column (or, in messages, its name), numeric or not, and
    whether a file without one is an error."""

    target: str
    regression: bool
    require: bool

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


def from_table(
    path: Path, fmt: str, options: Options, id: str, time: str, features: list[str]
) -> Sequences:
    """Long format: each value of column ``id`` is a sequence, its rows the time steps."""
    target = options.target
    table = read_table(path, fmt, text_columns={id, target})
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


def from_ts(path: Path, options: Options) -> Sequences:
    ts = read_ts(path)
    notes: list[str] = []
    if ts.labels is None:
        options.absent(f"{path.name}: no labels (@classLabel false); give a labelled file")
        y = None
    elif ts.regression and not options.regression and options.require:
        raise UserError(
            f"{path.name}: @targetLabel true marks numeric targets (regression); read it "
            f"with regression=True (the regress task), or give a file with @classLabel"
        )
    else:
        y = options.targets(ts.labels, lambda i: f"line {ts.lines[i]}", path.name, notes)
    channels = [f"dim_{c}" for c in range(ts.x[0].shape[1])]
    ids = [str(i) for i in range(len(ts.x))]
    return Sequences(ts.x, y, ids, channels, path.name, notes)


def from_npz(path: Path, options: Options) -> Sequences:
    """Arrays ``x`` ((n, T) or (n, T, C)), ``y`` ((n,)) and, optionally, ``lengths`` (the
    valid steps of each sequence), ``ids`` and ``channels``."""
    name = path.name
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except ValueError as error:  # object arrays: would need pickle
        raise UserError(
            f"{name}: {error}; save text (ids, labels, channels) as str arrays, e.g. "
            f"np.array(ids, dtype=str)"
        ) from None
    except (OSError, EOFError, zipfile.BadZipFile) as error:
        raise UserError(
            f"{name}: not a readable .npz archive ({error}); save it with np.savez"
        ) from None
    if "x" not in arrays:
        raise UserError(
            f"{name}: no array 'x' (arrays: {', '.join(arrays) or 'none'}); save the inputs "
            f"as x=..."
        )
    x = arrays["x"]
    if x.dtype.kind not in "biuf" or x.ndim not in (2, 3) or 0 in x.shape:
        raise UserError(
            f"{name}: x is {x.dtype} of shape {x.shape}; save numbers of shape (n, T) or "
            f"(n, T, channels)"
        )
    x = check_finite(x, lambda i: f"{name}: x{position(i, x.shape)}")
    x = (x[..., None] if x.ndim == 2 else x).astype(np.float32)
    n, steps, channels = x.shape

    def vector(key: str) -> np.ndarray | None:
        value = arrays.get(key)
        expected = channels if key == "channels" else n
        if value is not None and value.shape != (expected,):
            raise UserError(
                f"{name}: {key} has shape {value.shape}, but x {x.shape} needs ({expected},); "
                f"save one per {'channel' if key == 'channels' else 'sequence'}"
            )
        return value

    lengths, ids, names, labels = (vector(k) for k in ("lengths", "ids", "channels", "y"))
    if lengths is None:
        sequences = list(x)
    else:
        valid = (lengths.dtype.kind in "iu") & (lengths >= 1) & (lengths <= steps)
        bad = np.flatnonzero(~valid)
        if len(bad):
            raise UserError(
                f"{name}: lengths[{int(bad[0])}] is {lengths[bad[0]].item()!r}; each length "
                f"must be a whole number from 1 to {steps} (the steps in x)"
            )
        sequences = [seq[:length] for seq, length in zip(x, lengths)]
    notes: list[str] = []
    if labels is None:
        options.absent(f"{name}: no array 'y' of labels; save them as y=...")
        y = None
    else:
        y = options.targets(labels.tolist(), lambda i: f"y[{i}]", name, notes)
    return Sequences(
        sequences,
        y,
        [str(i) for i in ids] if ids is not None else [str(i) for i in range(n)],
        [str(c) for c in names] if names is not None else [f"dim_{c}" for c in range(channels)],
        name,
        notes,
    )


def from_folder(path: Path, options: Options) -> Sequences:
    """``.npy`` ((T,) or (T, C)) and ``.csv`` (a row per step, a column per channel, an
    optional header) files in one sub-folder per class; a file's id is its path in the
    folder. Files directly in the folder are unlabelled: what ``predict`` reads."""
    found = [
        f.relative_to(path)
        for f in path.rglob("*")
        if f.suffix.lower() in (".npy", ".csv") and f.is_file()
    ]
    files = sorted(
        (f for f in found if not any(part.startswith(".") for part in f.parts)),
        key=lambda f: natural_key(f.as_posix()),
    )
    if not files:
        raise UserError(
            f"{path.name}: no .npy or .csv files; put each class's files in a sub-folder "
            f"named after the class"
        )
    x, channels = [], None
    for file in files:
        read = read_npy if file.suffix.lower() == ".npy" else read_csv
        sequence, names = read(path / file)
        if channels is None:
            channels, first = names, file
        elif names != channels:
            raise UserError(
                f"{path.name}: {file.as_posix()} has channels {', '.join(names)}, but "
                f"{first.as_posix()} has {', '.join(channels)}; give every file the same channels"
            )
        x.append(sequence)
    ids = [f.as_posix() for f in files]
    labelled = [len(f.parts) > 1 for f in files]
    notes: list[str] = []
    y = None
    if not any(labelled):
        options.absent(
            f"{path.name}: no class sub-folders; put each class's files in a sub-folder "
            f"named after the class"
        )
    elif not all(labelled):
        raise UserError(
            f"{path.name}: {ids[labelled.index(False)]} is not in a class sub-folder; move it "
            f"into one (the sub-folder's name is the label)"
        )
    else:
        y = options.targets([f.parts[0] for f in files], lambda i: ids[i], path.name, notes)
    return Sequences(x, y, ids, channels or [], path.name, notes)


def read_npy(file: Path) -> tuple[np.ndarray, list[str]]:
    try:
        array = np.load(file, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise UserError(
            f"{file.name}: not a readable .npy array ({error}); save it with np.save"
        ) from None
    if array.dtype.kind not in "biuf" or array.ndim not in (1, 2) or 0 in array.shape:
        raise UserError(
            f"{file.name}: {array.dtype} of shape {array.shape}; save numbers of shape (T,) "
            f"or (T, channels)"
        )
    array = check_finite(array, lambda i: f"{file.name}: value {position(i, array.shape)}")
    array = (array[:, None] if array.ndim == 1 else array).astype(np.float32)
    return array, [f"dim_{c}" for c in range(array.shape[1])]


def read_csv(file: Path) -> tuple[np.ndarray, list[str]]:
    """A header is there when a field of the first line is not a number (nor empty)."""
    with file.open(encoding="utf-8", errors="replace") as f:
        first = f.readline()
    delimiter = max(",;\t", key=first.count)
    missing = missing_text()
    header = any(not is_number(f) and f.strip() not in missing for f in first.split(delimiter))
    table = read_table(file, "csv", header=header)
    if not header:
        table.columns = {f"dim_{c}": column for c, column in enumerate(table.columns.values())}
    columns = np.column_stack([table.numbers(name) for name in table.names])
    return columns.astype(np.float32), table.names


def is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def pick_channels(data: Sequences, features: list[str]) -> Sequences:
    """Only the channels named in ``features``, in that order."""
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
