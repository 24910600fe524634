"""Parquet (as pyarrow or pandas write it): typed columns, read whole or in batches."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from rnnzoo.data.formats.base import tabular
from rnnzoo.data.table import Columns, Part, Parts, Table, columns, first_line, no_rows
from rnnzoo.errors import UserError

BATCH = 2**20  # rows per batch when streamed


def read_table(path: Path, *, text_columns: set[str] | None = None, header: bool = True) -> Table:
    """The file's columns, as typed as written (``text_columns`` and ``header`` are a CSV's
    questions: a Parquet file answers them itself)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        data = pq.read_table(path)
    except (pa.ArrowException, OSError) as error:
        raise unreadable(path, error) from None
    if data.num_rows == 0:
        raise no_rows(path)
    return Table(path, columns(data, path), data.num_rows, False)


def unreadable(path: Path, error: Exception) -> UserError:
    return UserError(
        f"{path.name}: not a readable Parquet file ({first_line(error)}); "
        f"write it again with pyarrow or pandas"
    )


def stream(
    path: Path, args: dict[str, Any], advance: Callable[[float], None]
) -> tuple[Parts, Part]:
    """The file's batches, and its first batch with every column (to check names)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        file = pq.ParquetFile(path)
        head_batch = next(file.iter_batches(batch_size=BATCH), None)
    except (pa.ArrowException, OSError) as error:
        raise unreadable(path, error) from None
    if head_batch is None:
        raise no_rows(path)
    total = max(1, file.metadata.num_rows)

    def part(batch: Any, first: int) -> Part:
        columns = {n: batch.column(i) for i, n in enumerate(batch.schema.names)}
        return Part(path, columns, batch.num_rows, False, first=first)

    def parts(columns: Columns) -> Iterator[Part]:
        rows = 0
        for batch in file.iter_batches(batch_size=BATCH, columns=columns.names):
            yield part(batch, rows)
            rows += batch.num_rows
            advance(rows / total)

    return parts, part(head_batch, 0)


FORMAT = tabular(
    "parquet", "Parquet", (".parquet", ".pq"), b"PAR1", table=read_table, stream=stream
)
