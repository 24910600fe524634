"""Columns nobody named never become inputs in silence: an index pandas wrote is left out, a
column called time (date, datetime, timestamp) orders the rows, and training says which
columns the model reads — in every reader (sequences, series, the series cache) and format."""

import csv

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rnnzoo.data import read_sequences, read_series
from rnnzoo.data.cache import cached_series
from rnnzoo.errors import UserError
from tests.test_generic_tasks import rnnzoo

INDEXES = ["__index_level_0__", "Unnamed: 0", "index"]


def write(path, columns: dict):
    """``columns`` as CSV or Parquet by ``path``'s suffix."""
    if path.suffix == ".parquet":
        pq.write_table(pa.table(columns), path)
    else:
        with open(path, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(columns)
            writer.writerows(zip(*columns.values()))
    return path


def long_rows(index_name, time_name="time", n=6, steps=5):
    """Sequences in long format, rows in reverse time order, with an index column."""
    rng = np.random.default_rng(0)
    rows = [(f"s{i}", t, float(rng.normal()), "ab"[i % 2]) for i in range(n) for t in range(steps)]
    rows.reverse()
    ids, times, values, labels = map(list, zip(*rows))
    return {index_name: list(range(len(rows))), "id": ids, time_name: times, "a": values,
            "label": labels}  # fmt: skip


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
@pytest.mark.parametrize("index_name", INDEXES)
@pytest.mark.parametrize("time_name", ["time", "Date", "TIMESTAMP"])
def test_sequences_leave_the_index_out_and_order_rows_by_the_time(
    tmp_path, suffix, index_name, time_name
):
    path = write(tmp_path / f"long{suffix}", long_rows(index_name, time_name))
    data = read_sequences(path)
    assert data.channels == ["a"]
    assert data.notes[0] == (
        f"column {time_name!r} orders the rows (the time axis, not an input; time={time_name})"
    )
    values = long_rows(index_name, time_name)["a"]
    assert data.x[0][:, 0].tolist() == pytest.approx(values[::-1][:5])  # s0, time 0 first


def test_a_time_column_named_as_a_feature_is_one(tmp_path):
    path = write(tmp_path / "long.csv", long_rows("index"))
    assert read_sequences(path, features=["time", "a"]).channels == ["time", "a"]


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
@pytest.mark.parametrize("index_name", INDEXES)
@pytest.mark.parametrize("reader", [read_series, cached_series])
def test_series_leave_the_index_out_and_order_rows_by_the_time(
    tmp_path, suffix, index_name, reader
):
    n = 30
    days = range(1, n + 1) if reader is cached_series else range(n, 0, -1)  # the cache: sorted
    columns = {index_name: list(range(n)), "date": [f"2020-01-{d:02d}" for d in days]}
    columns["sales"] = [float(d) for d in days]
    path = write(tmp_path / f"wide{suffix}", columns)
    kwargs = {"cache_dir": tmp_path / "cache", "progress": False} if reader is cached_series else {}
    series = reader(path, **kwargs)
    assert series.targets == ["sales"]
    assert (
        series.notes[0] == "column 'date' orders the rows (the time axis, not an input; time=date)"
    )
    assert np.asarray(series.values[:3, 0]).tolist() == [1.0, 2.0, 3.0]  # in time order


@pytest.mark.parametrize("read", [read_sequences, read_series])
def test_two_time_like_columns_are_one_line(tmp_path, read):
    columns = long_rows("index")
    columns["date"] = columns["time"]
    path = write(tmp_path / "long.csv", columns)
    with pytest.raises(UserError, match="columns 'time' and 'date' both look like the time axis"):
        read(path, id="id") if read is read_series else read(path)


def test_training_names_the_columns_the_model_reads(tmp_path):
    path = write(tmp_path / "long.parquet", long_rows("__index_level_0__", n=40, steps=8))
    trained = rnnzoo(
        "train", "--task", "classify", "--cell", "gru", "--data", str(path), "--hidden", "4",
        "--epochs", "1", "--out", str(tmp_path / "run"),
    )  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    assert "note: long.parquet: the model's inputs: a\n" in trained.stdout, trained.stdout
    assert "orders the rows (the time axis, not an input; time=time)" in trained.stdout
