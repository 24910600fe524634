"""Inputs from a data file in the format a model was trained on (the card's ``reader``): a
user's ``.ts``, CSV, Parquet, ``.npz`` or class folder for ``classify`` and ``regress``, a CSV
or Parquet of series for ``forecast`` — read by :mod:`rnnzoo.data`, without torch."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rnnzoo.data.padding import pad_sequences
from rnnzoo.data.series import times_after
from rnnzoo.data.windows import gather_windows
from rnnzoo.errors import RuntimeInputError, UserError

# what a data file is rather than an array file
ARRAY_SUFFIXES = (".json", ".npy")


@dataclass
class DataInputs:
    """A batch read from a data file: inputs, lengths (None when equal), and one id each;
    for series with a time column, the times their forecasts are for."""

    x: np.ndarray
    lengths: np.ndarray | None
    ids: list[str]
    times: list[list[str]] | None = None


def is_data_file(path: Path, reader: dict[str, Any] | None) -> bool:
    """Whether ``path`` should be read as data (the card has a reader and it is no array)."""
    return bool(reader) and (path.is_dir() or path.suffix.lower() not in ARRAY_SUFFIXES)


def read_inputs(path: Path, reader: dict[str, Any]) -> DataInputs:
    """The model's inputs from ``path``: every sequence of it (padded), or the last window of
    every series (a forecaster's: its ``lookback`` last values and, with covariates, the
    ``horizon`` rows after them, whose targets are empty)."""
    from rnnzoo.data import read_sequences, read_series

    try:
        if reader["kind"] == "sequences":
            data = read_sequences(
                path,
                target=reader["target"],
                id=reader["id"],
                time=reader["time"],
                features=reader["features"],
                require_target=False,
            )
            x, lengths = pad_sequences(list(data.x), len(reader["features"]))
            return DataInputs(x, lengths, list(data.ids))
        if reader["kind"] == "series":
            return series_windows(
                read_series(
                    path,
                    target=reader["target"],
                    time=reader["time"],
                    id=reader["id"],
                    covariates=reader["covariates"],
                ),
                reader,
            )
    except RuntimeInputError:
        raise
    except UserError as error:
        raise RuntimeInputError(str(error)) from None
    raise RuntimeInputError(f"the model card's reader kind {reader['kind']!r} is unknown")


def series_windows(series: Any, reader: dict[str, Any]) -> DataInputs:
    """The last window of each series: the forecast continues where the file ends (with
    covariates, where the rows with empty targets — the horizon's — begin)."""
    horizon, covariates = reader["horizon"], bool(reader["covariates"])
    starts, ends = series.offsets[:-1], series.offsets[1:] - (horizon if covariates else 0)
    short = np.flatnonzero(ends - starts < 1)
    if len(short):
        name = series.ids[int(short[0])]
        raise RuntimeInputError(
            f"{series.source}: series {name!r} has no value before its last {horizon} rows"
            " (the horizon's covariates); give its history too"
        )
    x = gather_windows(
        series.values, starts, ends, reader["lookback"], horizon, len(series.targets), covariates
    )
    times = times_after(series, horizon, covariates)
    return DataInputs(x, None, list(series.ids), times)
