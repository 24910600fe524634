"""What the table of formats (:mod:`rnnzoo.data.formats`) knows of each: its names, how it is
recognised, and a reader for each kind of data it holds."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rnnzoo.data import sequences, series
from rnnzoo.data.table import Part, Parts, Table

TableReader = Callable[..., Table]  # (path, *, text_columns=set(), header=True)
Stream = Callable[[Path, dict[str, Any], Callable[[float], None]], tuple[Parts, Part]]


@dataclass(frozen=True)
class Format:
    """One format rnnzoo reads; each reader is None where the format holds no such data.

    ``sequences(path, options)`` gives labelled (or, for ``predict``, unlabelled) sequences,
    ``series(path, target=, time=, id=, covariates=)`` series to forecast, ``table`` a file of
    columns, ``stream(path, args, advance)`` that file in batches for the series cache, and
    ``one_sequence(path)`` a file that is one sequence (a row per step): a class folder's
    files and ``predict``'s inputs."""

    name: str  # what detect_format says: "csv"
    title: str  # in messages: "CSV"
    suffixes: tuple[str, ...] = ()  # the extensions that claim it; a rename names the first
    magic: bytes = b""  # a binary format's first bytes
    header: str = ""  # a text format's header, as a message names it (.ts, .tsf)
    tags: frozenset[str] = frozenset()  # header tags that only this text format has
    is_file: bool = True  # False for a folder of files
    sequences: Callable[[Path, sequences.Options], sequences.Sequences] | None = None
    series: Callable[..., series.Series] | None = None
    table: TableReader | None = None
    stream: Stream | None = None
    one_sequence: Callable[[Path], tuple[np.ndarray, list[str]]] | None = None


def tabular(name: str, title: str, suffixes: tuple[str, ...], magic: bytes = b"", *,
            table: TableReader, stream: Stream, **readers: Any) -> Format:  # fmt: skip
    """A format of columns (CSV, Parquet): sequences in long format and series, both read
    from its ``table``, its batches for the cache, and any other ``readers``."""

    def read_sequences(path: Path, options: sequences.Options) -> sequences.Sequences:
        return sequences.from_table(table(path, text_columns={options.id, options.target}), options)

    def read_series(path: Path, *, target: list[str], time: str, id: str,
                    covariates: list[str]) -> series.Series:  # fmt: skip
        found = table(path, text_columns={id} if id else set())
        return series.from_table(found, target, time, id, covariates)

    return Format(name, title, suffixes, magic, sequences=read_sequences, series=read_series,
                  table=table, stream=stream, **readers)  # fmt: skip
