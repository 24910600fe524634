"""The columns of a CSV or Parquet file (as :mod:`rnnzoo.data.formats.csv` and ``.parquet``
read them) as checked numpy arrays, and its rows grouped into sequences or series (by an id
column) in time order.

pyarrow reads both formats (imported when a file is read, so ``import rnnzoo.data`` stays
cheap) and infers the CSV's column types; every message points at a row the way the user
sees it: the file's line number for CSV, the row counted from 1 for Parquet."""

from __future__ import annotations

import csv
import difflib
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rnnzoo.data.rules import check_finite, missing_text, text_encoding
from rnnzoo.errors import UserError

# pyarrow reads a field of any length; so must the csv module that counts lines for messages
csv.field_size_limit(2**31 - 1)

DATE_EXAMPLE = "2020-01-31 or 2020-01-31T12:00"
# a column by one of these names (in any case) is a time axis: it orders the rows, never feeds
# the model, unless named as a feature or target
TIME_NAMES = ("time", "date", "datetime", "timestamp")
# the columns pandas writes for a frame's index (Parquet's __index_level_0__, to_csv's
# "Unnamed: 0", reset_index's "index"): row numbers, never an input unless named
INDEX_NAME = re.compile(r"__index_level_\d+__|Unnamed: \d+|index")


def time_column(table: Any, time: str, named: set[str]) -> str:
    """The column that orders the rows: ``time`` when given, else the one column named as
    in ``TIME_NAMES`` that is not among the ``named`` features or targets; '' for none.
    ``table`` is a :class:`Table` or a cache's batch (``names`` and ``source``)."""
    if time:
        return time
    found = [n for n in table.names if n.strip().lower() in TIME_NAMES and n not in named]
    if len(found) > 1:
        raise UserError(
            f"{table.source}: columns {found[0]!r} and {found[1]!r} both look like the time "
            "axis; name the one that orders the rows with time=COLUMN"
        )
    return found[0] if found else ""


def time_note(given: str, used: str) -> list[str]:
    """The note that says a column was taken as the time axis without being named."""
    if not used or used == given:
        return []
    return [f"column {used!r} orders the rows (the time axis, not an input; time={used})"]


@dataclass
class Table:
    """A CSV or Parquet file's columns (pyarrow arrays by name) and how to name its rows."""

    path: Path
    columns: dict[str, Any]
    rows: int
    is_csv: bool
    delimiter: str = ","
    header: bool = True
    _lines: list[int] = field(default_factory=list, repr=False)

    @property
    def source(self) -> str:
        return self.path.name

    @property
    def names(self) -> list[str]:
        return list(self.columns)

    def where(self, row: int) -> str:
        """Row ``row`` (from 0) as the user finds it: ``line 7`` of a CSV, ``row 6`` of Parquet."""
        if not self.is_csv:
            return f"row {row + 1}"
        if not self._lines:  # only for messages: blank lines and quoted newlines shift lines
            self._lines = list(line_numbers(self.path, self.delimiter, self.header))
        return f"line {self._lines[row]}"

    def require(self, name: str, role: str) -> str:
        """``name`` if the file has that column, else an error suggesting the closest one."""
        if name in self.columns:
            return name
        close = closest(name, self.names)
        fix = f"did you mean {close!r} ({role}={close})?" if close else f"pass {role}=COLUMN"
        listing = ", ".join(self.names[:20]) + (", ..." if len(self.names) > 20 else "")
        raise UserError(f"{self.source}: no {role} column {name!r}; {fix} (columns: {listing})")

    def numeric_names(self, exclude: set[str]) -> list[str]:
        """The columns of numbers (or booleans) not in ``exclude``, in file order. A column of
        text whose first value is a number counts: pyarrow reads a column of numbers with one
        typo as text, and leaving it out would hide the typo (:meth:`numbers` points at it).
        An index pandas wrote (``INDEX_NAME``) is no value column."""
        return [
            n
            for n in self.names
            if n not in exclude
            and not INDEX_NAME.fullmatch(n)
            and (is_numeric(self.columns[n].type) or self.starts_with_number(n))
        ]

    def starts_with_number(self, name: str) -> bool:
        """Whether column ``name`` is text whose first value (of the first hundred that are
        not missing) is a number."""
        column = self.columns[name]
        if not is_text(column.type):
            return False
        missing = missing_text()
        head = column.drop_null().slice(0, 100).to_pylist()
        first = next((v for v in head if v.strip() not in missing), "")
        try:
            float(first)
        except ValueError:
            return False
        return True

    def numbers(self, name: str) -> np.ndarray:
        """Column ``name`` as float64, NaN where a value is missing; text that is not a number
        is an error at its row (pyarrow reads a column with one such value as text)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        column = self.columns[name]
        place = lambda row: f"{self.source}, {self.where(row)}, column {name!r}"  # noqa: E731
        if is_numeric(column.type) or pa.types.is_null(column.type):
            return check_finite(pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False), place)
        if not is_text(column.type):
            raise UserError(
                f"{self.source}: column {name!r} holds {column.type} values, not numbers; "
                f"choose numeric columns"
            )
        missing = missing_text()
        values = np.full(self.rows, np.nan)
        for row, text in enumerate(column.to_pylist()):
            if text is None or text.strip() in missing:
                continue
            try:
                values[row] = float(text)
            except ValueError:
                raise UserError(
                    f"{self.source}, {self.where(row)}, column {name!r}: {text!r} is not a "
                    f"number; fix it, or leave the cell empty for a missing value"
                ) from None
        return check_finite(values, place)

    def text(self, name: str) -> np.ndarray:
        """Column ``name`` as an object array of str, None where the cell is empty."""
        import pyarrow as pa

        values = self.columns[name].cast(pa.string()).to_pylist()
        return np.array([v if v else None for v in values], dtype=object)

    def times(self, name: str) -> np.ndarray:
        """Column ``name`` as float64 numbers or datetime64 (ISO dates and datetimes, also as
        text such as ``1949-01``); a missing or unreadable time is an error at its row."""
        import pyarrow as pa

        column = self.columns[name]
        if is_numeric(column.type):
            values = self.numbers(name)
            missing = np.isnan(values)
        elif pa.types.is_timestamp(column.type) or pa.types.is_date(column.type):
            values = column.to_numpy()
            missing = np.isnat(values)
        else:
            text = self.text(name)
            missing = np.array([t is None for t in text], dtype=bool)
            values = parse_dates(text, missing, lambda row: self.time_error(name, text[row], row))
        if missing.any():
            row = int(np.argmax(missing))
            raise UserError(
                f"{self.source}, {self.where(row)}: no time in column {name!r}; fill it in or "
                f"remove the row"
            )
        return values

    def time_error(self, name: str, text: str, row: int) -> UserError:
        return UserError(
            f"{self.source}, {self.where(row)}, column {name!r}: {text!r} is neither a number "
            f"nor an ISO date ({DATE_EXAMPLE}); fix the value"
        )


def parse_dates(
    text: np.ndarray, missing: np.ndarray, error: Callable[[int], UserError]
) -> np.ndarray:
    """ISO dates as datetime64 (NaT where ``missing``), ``error(row)`` raised for the first
    value that is not one."""
    try:
        return np.array(np.where(missing, "NaT", text).tolist(), dtype="datetime64")
    except ValueError:
        for row, value in enumerate(text):
            if value is not None:
                try:
                    np.datetime64(value)
                except ValueError:
                    raise error(row) from None
        raise


def is_text(kind: Any) -> bool:
    import pyarrow as pa

    return pa.types.is_string(kind) or pa.types.is_large_string(kind)


def is_numeric(kind: Any) -> bool:
    import pyarrow as pa

    return (
        pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_decimal(kind)
        or pa.types.is_boolean(kind)
    )


def line_numbers(path: Path, delimiter: str, header: bool = True) -> Iterator[int]:
    """The line each row of a CSV file starts on (blank lines and quoted newlines shift
    them), read the way the file is read: in its encoding (:func:`text_encoding`)."""
    with path.open(newline="", encoding=text_encoding(path), errors="replace") as f:
        reader = csv.reader(f, delimiter=delimiter)
        if header:
            next(reader, None)
        yield from (reader.line_num for fields in reader if fields)


@dataclass
class Part(Table):
    """One batch of a file's rows as a :class:`Table` (its checks and messages), its rows
    named by where they are in the whole file: ``first`` is the file's row of its row 0."""

    first: int = 0

    def where(self, row: int) -> str:
        row += self.first
        if not self.is_csv:
            return f"row {row + 1}"
        lines = line_numbers(self.path, self.delimiter, self.header)
        return f"line {next(line for i, line in enumerate(lines) if i == row)}"


@dataclass
class Columns:
    """What a streamed read takes: the id and time columns ('' for none), the targets and
    covariates."""

    id: str
    time: str
    targets: list[str]
    covariates: list[str]
    time_type: Any = None  # the time column's type as read (CSV: declared for every batch)

    @property
    def values(self) -> list[str]:
        return self.targets + self.covariates

    @property
    def names(self) -> list[str]:
        return [n for n in (self.id, self.time) if n] + self.values


Parts = Callable[[Columns], Iterator[Part]]  # a file's batches of the columns named


def columns(data: Any, path: Path) -> dict[str, Any]:
    """A pyarrow table's columns by name; two columns of one name are an error."""
    names = data.column_names
    twice = [n for n in names if names.count(n) > 1]
    if twice:
        raise UserError(f"{path.name}: two columns are named {twice[0]!r}; rename one")
    return {n: data[n] for n in names}


def no_rows(path: Path) -> UserError:
    return UserError(f"{path.name}: no rows of data under the header; give a file with data")


def first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:200] if text else type(error).__name__


@dataclass
class Groups:
    """A table's rows in sequence order: ``order[offsets[i]:offsets[i+1]]`` are the rows of
    group ``ids[i]``, in time order when there is a time column (``times``, already in
    ``order``)."""

    order: np.ndarray
    offsets: np.ndarray
    ids: list[str]
    times: np.ndarray | None
    notes: list[str]


def group_rows(table: Table, id: str, time: str, *, kind: str, single: str = "") -> Groups:
    """The rows of each value of column ``id`` (ids in natural order: ``s2`` before ``s10``),
    or every row as one group named ``single`` when ``id`` is empty; within a group sorted by
    column ``time`` if given (a note says so when the file was not), where a time that occurs
    twice is an error naming the ``kind`` ("series" or "id"), the time and both rows."""
    if id:
        names = table.text(id)
        missing = np.array([n is None for n in names], dtype=bool)
        if missing.any():
            row = int(np.argmax(missing))
            raise UserError(
                f"{table.source}, {table.where(row)}: no id in column {id!r}; fill it in or "
                f"remove the row"
            )
        unique, codes = np.unique(names.astype(str), return_inverse=True)
        rank = sorted(range(len(unique)), key=lambda i: natural_key(str(unique[i])))
        position = np.empty(len(unique), np.int64)
        position[rank] = np.arange(len(unique))
        codes, ids = position[codes], [str(unique[i]) for i in rank]
    else:
        codes, ids = np.zeros(table.rows, np.int64), [single]
    offsets = np.concatenate([[0], np.cumsum(np.bincount(codes, minlength=len(ids)))])
    by_group = np.argsort(codes, kind="stable")
    if not time:
        return Groups(by_group, offsets, ids, None, [])
    times = table.times(time)
    order = np.lexsort((times, codes))
    notes = [] if np.array_equal(order, by_group) else [f"rows were not sorted by {time!r}: sorted"]
    sorted_times, sorted_codes = times[order], codes[order]
    same = (sorted_times[1:] == sorted_times[:-1]) & (sorted_codes[1:] == sorted_codes[:-1])
    if same.any():
        i = int(np.argmax(same))
        first, second = sorted(int(r) for r in order[i : i + 2])
        hint = "" if id else "; if the file holds several series, name their id column (id=COLUMN)"
        raise UserError(
            f"{table.source}: {kind} {ids[sorted_codes[i]]!r} has the time "
            f"{show_time(sorted_times[i])} twice ({table.where(first)} and "
            f"{table.where(second)}); keep one row per time{hint}"
        )
    return Groups(order, offsets, ids, sorted_times, notes)


def closest(name: str, names: list[str]) -> str | None:
    """The name in ``names`` most like ``name``, case aside (None if none is close)."""
    lower = {n.lower(): n for n in names}
    match = difflib.get_close_matches(name.lower(), list(lower), n=1)
    return lower[match[0]] if match else None


def natural_key(text: str) -> list[Any]:
    """Sort key comparing runs of digits as numbers: ``s2`` < ``s10``, ``9`` < ``10``."""
    return [int(part) if i % 2 else part for i, part in enumerate(re.split(r"([0-9]+)", text))]


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def show_time(value: Any) -> str:
    if isinstance(value, np.datetime64):
        return str(value)
    value = float(value)
    return str(int(value)) if math.isfinite(value) and value.is_integer() else repr(value)
