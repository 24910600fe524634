"""CSV (also ``.tsv`` and ``.txt``): a header line, then a row per line; the delimiter is the
comma, semicolon or tab the first line has most of, the encoding :func:`text_encoding`'s, an
empty cell (or NA, NaN, ...) a missing value. Read by pyarrow, whole or in batches."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from rnnzoo.data.formats.base import tabular
from rnnzoo.data.rules import missing_text, text_encoding
from rnnzoo.data.table import (
    Columns,
    Part,
    Parts,
    Table,
    columns,
    first_line,
    is_numeric,
    no_rows,
)
from rnnzoo.errors import UserError

MOST_COLUMNS = 100_000  # a long-format file (id, time, value) holds any number of series
BATCH_BYTES = 2**20  # per batch when streamed: bigger ones were slower and held more memory


class Layout(NamedTuple):
    """How every reader of CSV reads a file: its delimiter, its encoding as pyarrow names it,
    a block size that holds its first line, and that line."""

    delimiter: str
    encoding: str
    block: int
    first: str


def layout(path: Path) -> Layout:
    """``path``'s :class:`Layout`; a file of more than ``MOST_COLUMNS`` columns is refused."""
    encoding = text_encoding(path)
    with path.open(encoding=encoding, errors="replace") as f:
        first = f.readline()
    delimiter = max(",;\t", key=first.count)
    count = first.count(delimiter) + 1
    if count > MOST_COLUMNS:
        raise UserError(
            f"{path.name}: {count:,} columns, more than the {MOST_COLUMNS:,} rnnzoo reads; "
            "write it in long format (an id column, a time column, a column per feature)"
        )
    block = 2 * len(first.encode(encoding, errors="replace")) + 1  # a block holds the header
    return Layout(delimiter, "latin1" if encoding == "latin-1" else "utf8", block, first)


def read_table(path: Path, *, text_columns: set[str] | None = None, header: bool = True) -> Table:
    """The file's columns. ``text_columns`` are read as written (ids and labels: ``007``
    stays ``007``); without ``header`` the columns are named ``f0``, ``f1``, ..."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    found = layout(path)
    try:
        data = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(
                autogenerate_column_names=not header,
                encoding=found.encoding,
                block_size=max(1 << 20, found.block),
            ),
            parse_options=pacsv.ParseOptions(delimiter=found.delimiter),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in text_columns or ()}
            ),
        )
    except pa.ArrowInvalid as error:
        raise csv_error(path, found.delimiter, error) from None
    if data.num_rows == 0:
        raise no_rows(path)
    return Table(path, columns(data, path), data.num_rows, True, found.delimiter, header)


def csv_error(path: Path, delimiter: str, error: Exception) -> UserError:
    """pyarrow's CSV error as a line number: the first row whose field count differs from the
    header's (pyarrow names the row by its content only)."""
    with path.open(newline="", encoding=text_encoding(path), errors="replace") as f:
        reader = csv.reader(f, delimiter=delimiter)
        header = next(reader, [])
        for fields in reader:
            if fields and len(fields) != len(header):
                return UserError(
                    f"{path.name}, line {reader.line_num}: {len(fields)} fields, but the header "
                    f"has {len(header)}; fix the line (quote values that contain {delimiter!r})"
                )
    return UserError(
        f"{path.name}: not readable as CSV ({first_line(error)}); save it as UTF-8 CSV"
    )


def read_sequence(path: Path) -> tuple[np.ndarray, list[str]]:
    """One sequence: a row per step, a column per channel; a header is there when a field of
    the first line is not a number (nor empty), else the channels are ``dim_0``, ...."""
    found = layout(path)
    missing = missing_text()
    header = any(
        not is_number(f) and f.strip() not in missing for f in found.first.split(found.delimiter)
    )
    table = read_table(path, header=header)
    if not header:
        table.columns = {f"dim_{c}": column for c, column in enumerate(table.columns.values())}
    values = np.column_stack([table.numbers(name) for name in table.names])
    return values.astype(np.float32), table.names


def is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def stream(
    path: Path, args: dict[str, Any], advance: Callable[[float], None]
) -> tuple[Parts, Part]:
    """The CSV file's batches (only the columns read, the values as float64 and the ids as
    text), and its first batch with every column as pyarrow reads it (to check names)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    found = layout(path)  # as read_table reads it
    delimiter, parse = found.delimiter, pacsv.ParseOptions(delimiter=found.delimiter)
    size = max(1, path.stat().st_size)

    def batches(source: Any, types: dict[str, Any], include: list[str], skip: int = 0) -> Any:
        """The batches of ``source`` (the whole file's, after the first ``skip`` rows)."""
        return pacsv.open_csv(
            source,
            read_options=pacsv.ReadOptions(
                block_size=max(BATCH_BYTES, found.block),
                skip_rows_after_names=skip,
                encoding=found.encoding,
            ),
            parse_options=parse,
            convert_options=pacsv.ConvertOptions(column_types=types, include_columns=include),
        )

    def part(batch: Any, first: int) -> Part:
        columns = {n: batch.column(i) for i, n in enumerate(batch.schema.names)}
        return Part(path, columns, batch.num_rows, True, delimiter, first=first)

    def bad_value(columns: Columns, rows: int) -> None:
        """Raise the error for the value pyarrow could not convert in the batch after the
        first ``rows`` rows (it names no row): read as text, the table's own checks name its
        line and column."""
        with pa.OSFile(str(path)) as source:
            text = {n: pa.string() for n in columns.names}
            batch = next(iter(batches(source, text, columns.names, rows)), None)
        if batch is not None:
            checked = part(batch, rows)
            for name in columns.values:
                checked.numbers(name)
            if columns.time:
                checked.times(columns.time)

    id = args["id"]
    try:
        with pa.OSFile(str(path)) as source:
            head = part(batches(source, {id: pa.string()} if id else {}, []).read_next_batch(), 0)
    except StopIteration:
        raise no_rows(path) from None
    except pa.ArrowInvalid as error:
        raise csv_error(path, delimiter, error) from None

    def parts(columns: Columns) -> Iterator[Part]:
        types = {n: pa.float64() for n in columns.values}
        if columns.id:
            types[columns.id] = pa.string()
        if columns.time:
            types[columns.time] = time_type(columns.time_type)
        rows = 0
        with pa.OSFile(str(path)) as source:
            try:
                for batch in batches(source, types, columns.names):
                    yield part(batch, rows)
                    rows += batch.num_rows
                    advance(source.tell() / size)
            except pa.ArrowInvalid as error:
                if "conversion error" in str(error):
                    bad_value(columns, rows)
                raise csv_error(path, delimiter, error) from None

    return parts, head


def time_type(first: Any) -> Any:
    """The type to read a CSV's time column as, from the type pyarrow gave its first batch:
    numbers as float64, dates and datetimes as datetimes in microseconds, else text (dates
    numpy parses, such as ``1949-01``)."""
    import pyarrow as pa

    if is_numeric(first):
        return pa.float64()
    if pa.types.is_timestamp(first) or pa.types.is_date(first):
        return pa.timestamp("us", getattr(first, "tz", None))
    return pa.string()


FORMAT = tabular(
    "csv", "CSV", (".csv", ".tsv", ".txt"), table=read_table, stream=stream,
    one_sequence=read_sequence,
)  # fmt: skip
