"""rnnzoo.data: users' files (.ts, CSV, Parquet, .npz, class folders, .tsf) read into checked
arrays. The fixtures in tests/data are cut from the files aeon bundles (the first cases of
each, or a few of each class); every error is one line naming the file, the row and the
column, and saying what to do."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rnnzoo.data import detect_format, read_sequences, read_series
from rnnzoo.errors import UserError

DATA = Path(__file__).parent / "data"
HEADER = (
    "@problemName Toy\n@timeStamps false\n@missing true\n@univariate false\n"
    "@equalLength true\n@seriesLength 3\n@classLabel true a b\n@data\n"
)


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def fails(message: str, read, *args, **kwargs) -> str:
    """The reader's error, checked to be one line containing ``message``."""
    with pytest.raises(UserError) as caught:
        read(*args, **kwargs)
    text = str(caught.value)
    assert "\n" not in text and message in text, text
    return text


def ts_cases(path: Path) -> list[tuple[list[list[float]], str]]:
    """A .ts file's cases parsed by hand: each channel's values, and the label."""
    lines = path.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.lower() == "@data") + 1
    cases = []
    for line in lines[start:]:
        *channels, label = line.split(":")
        cases.append(([[float(v) for v in c.split(",")] for c in channels], label))
    return cases


# ---------------------------------------------------------------- .ts fixtures


@pytest.mark.parametrize(
    ("name", "channels", "equal"),
    [
        ("GunPoint_TRAIN.ts", 1, True),
        ("GunPoint_TEST.ts", 1, True),
        ("BasicMotions_TRAIN.ts", 6, True),
        ("JapaneseVowels_TRAIN.ts", 12, False),
        ("PickupGestureWiimoteZ_TRAIN.ts", 1, False),
    ],
)
def test_ts_files_read_value_for_value(name, channels, equal):
    data = read_sequences(DATA / name)
    cases = ts_cases(DATA / name)
    assert data.channels == [f"dim_{c}" for c in range(channels)]
    assert data.ids == [str(i) for i in range(len(cases))]
    assert list(data.y) == [label for _, label in cases]
    assert data.source == name and data.notes == []
    for x, (values, _) in zip(data.x, cases):
        assert x.dtype == np.float32 and x.shape == (len(values[0]), channels)
        np.testing.assert_array_equal(x, np.array(values, np.float32).T)
    lengths = {len(x) for x in data.x}
    assert (len(lengths) == 1) == equal


def test_ts_regression_targets_are_floats():
    data = read_sequences(DATA / "Covid3Month_TRAIN.ts", regression=True)
    cases = ts_cases(DATA / "Covid3Month_TRAIN.ts")
    assert data.y.dtype == np.float64
    np.testing.assert_array_equal(data.y, [float(label) for _, label in cases])
    fails(
        "Covid3Month_TRAIN.ts: @targetLabel true marks numeric targets (regression); read it "
        "with regression=True",
        read_sequences,
        DATA / "Covid3Month_TRAIN.ts",
    )
    assert read_sequences(DATA / "Covid3Month_TRAIN.ts", require_target=False).y is not None


@pytest.mark.parametrize(
    "name",
    [
        "GunPoint_TRAIN.ts",
        "BasicMotions_TRAIN.ts",
        "JapaneseVowels_TRAIN.ts",
        "PickupGestureWiimoteZ_TRAIN.ts",
        "Covid3Month_TRAIN.ts",
    ],
)
def test_ts_files_match_aeons_loader(name):
    datasets = pytest.importorskip("aeon.datasets")
    x, y = datasets.load_from_ts_file(str(DATA / name))
    regression = name.startswith("Covid")
    data = read_sequences(DATA / name, regression=regression)
    assert len(x) == len(data.x)
    for theirs, ours in zip(x, data.x):
        np.testing.assert_array_equal(np.asarray(theirs, np.float32).T, ours)
    if regression:
        np.testing.assert_array_equal(y.astype(float), data.y)
    else:  # aeon lower-cases labels; they are kept as written here
        assert list(y) == [label.lower() for label in data.y]


def test_ts_missing_values_unequal_channels_and_no_labels(tmp_path):
    header = HEADER.replace("@equalLength true", "@equalLength false")
    data = read_sequences(write(tmp_path / "toy.ts", header + "1,?,3:4,5:a\nNaN:4,5,6,7:b\n"))
    nan = np.nan
    np.testing.assert_array_equal(data.x[0], [[1, 4], [nan, 5], [3, nan]])
    np.testing.assert_array_equal(data.x[1], [[nan, 4], [nan, 5], [nan, 6], [nan, 7]])
    assert list(data.y) == ["a", "b"] and data.notes == ["6 missing values (NaN)"]
    assert read_sequences(tmp_path / "toy.ts", features=["dim_1"]).x[0].shape == (3, 1)
    unlabelled = header.replace("@classLabel true a b", "@classLabel false")
    path = write(tmp_path / "new.ts", unlabelled + "1,2,3:4,5,6\n")
    assert read_sequences(path, require_target=False).y is None
    fails("new.ts: no labels (@classLabel false); give a labelled file", read_sequences, path)


@pytest.mark.parametrize(
    ("header", "rows", "message"),
    [
        (
            HEADER.replace("@seriesLength", "@seriesLenght"),
            "1,2,3:4,5,6:a\n",
            "bad.ts, line 6: unknown header tag '@seriesLenght'; did you mean @seriesLength?",
        ),
        (
            HEADER.replace("@missing true", "@missing maybe"),
            "1,2,3:4,5,6:a\n",
            "bad.ts, line 3: @missing needs true or false, not 'maybe'",
        ),
        (
            HEADER.replace("@classLabel true a b", "@classLabel true"),
            "1,2,3:4,5,6:a\n",
            "bad.ts, line 7: @classLabel needs true and the class names, or false",
        ),
        (HEADER.replace("@data\n", ""), "", "bad.ts: no @data line"),
        (
            HEADER,
            "1,2,3:4,5,6:a\n1,2:4,5,6:b\n",
            "bad.ts, line 10: channel dim_0 has 2 values, but the header says @equalLength true "
            "and the length is 3",
        ),
        (
            HEADER,
            "1,2,3:4,5,6:a\n1,2,3:4,5,6:c\n",
            "bad.ts, line 10: class 'c' is not in the header's @classLabel list (a b)",
        ),
        (HEADER, "1,2,3:4,5,6:a\n1,2,3:b\n", "bad.ts, line 10: 1 channel(s), expected 2"),
        (
            HEADER,
            "1,2,3:4,5,6:a\n1,2,3:4,x,6:b\n",
            "bad.ts, line 10, channel dim_1, value 2: 'x' is not a number",
        ),
        (
            HEADER.replace("@timeStamps false", "@timeStamps true"),
            "(2007-01-01 00:00:00,241.97):1\n",
            "bad.ts: @timeStamps true (values with timestamps) is not supported",
        ),
        (HEADER, "", "bad.ts: no cases after @data"),
    ],
)
def test_ts_errors_name_the_line(tmp_path, header, rows, message):
    fails(message, read_sequences, write(tmp_path / "bad.ts", header + rows))


# ---------------------------------------------------------------- CSV and Parquet sequences

LONG = """id,time,a,b,label
s10,1,1.5,2,up
s2,2,3,4,down
s2,1,5,,down
s10,0,NA,8,up
s2,0,NaN,6.5,down
"""


def test_long_csv_groups_ids_in_natural_order_and_sorts_by_time(tmp_path):
    data = read_sequences(write(tmp_path / "long.csv", LONG), time="time")
    assert data.ids == ["s2", "s10"] and data.channels == ["a", "b"]
    assert list(data.y) == ["down", "up"] and data.y.dtype == object
    nan = np.nan
    np.testing.assert_array_equal(data.x[0], np.array([[nan, 6.5], [5, nan], [3, 4]], np.float32))
    np.testing.assert_array_equal(data.x[1], np.array([[nan, 8], [1.5, 2]], np.float32))
    assert data.notes == ["rows were not sorted by 'time': sorted", "3 missing values (NaN)"]
    unnamed = read_sequences(tmp_path / "long.csv", features=["b"])  # a column called time
    np.testing.assert_array_equal(unnamed.x[0][:, 0], [6.5, nan, 4])  # orders the rows
    assert unnamed.channels == ["b"] and unnamed.notes == [
        "column 'time' orders the rows (the time axis, not an input; time=time)",
        "rows were not sorted by 'time': sorted",
        "1 missing value (NaN)",
    ]


def test_parquet_reads_like_csv_and_nulls_are_nan(tmp_path):
    table = pa.table(
        {
            "id": [7, 7, 3],
            "time": [1.0, 0.0, 0.0],
            "a": [1.0, None, 2.5],
            "label": [1, 1, 2],
        }
    )
    pq.write_table(table, tmp_path / "seq.parquet")
    data = read_sequences(tmp_path / "seq.parquet", time="time")
    assert data.ids == ["3", "7"] and list(data.y) == ["2", "1"]
    np.testing.assert_array_equal(data.x[1], np.array([[np.nan], [1.0]], np.float32))
    regression = read_sequences(tmp_path / "seq.parquet", regression=True)
    np.testing.assert_array_equal(regression.y, [2.0, 1.0])


def test_csv_text_is_kept_as_written_and_semicolons_work(tmp_path):
    path = write(tmp_path / "semi.csv", "id;v;label\n007;2;01\n007;1,5;01\n010;3;02\n")
    fails("semi.csv, line 3, column 'v': '1,5' is not a number", read_sequences, path)
    write(path, "id;v;label\n007;1.5;01\n007;2;01\n010;3;02\n")
    data = read_sequences(path)
    assert data.ids == ["007", "010"] and list(data.y) == ["01", "02"]


def test_unlabelled_csv_for_predict(tmp_path):
    path = write(tmp_path / "new.csv", "id,a\nx,1\nx,2\ny,3\n")
    data = read_sequences(path, require_target=False)
    assert data.y is None and data.ids == ["x", "y"]
    fails("new.csv: no target column 'label'; pass target=COLUMN", read_sequences, path)
    unusable = write(tmp_path / "mixed.csv", "id,a,label\nx,1,up\nx,2,\ny,3,down\n")
    data = read_sequences(unusable, require_target=False)
    assert data.y is None and data.notes[0].startswith("targets not read: mixed.csv")


@pytest.mark.parametrize(
    ("text", "kwargs", "message"),
    [
        (LONG, {"target": "lable"}, "long.csv: no target column 'lable'; did you mean 'label' "),
        (LONG, {"id": "ID"}, "long.csv: no id column 'ID'; did you mean 'id' (id=id)?"),
        (LONG, {"features": ["c"]}, "long.csv: no features column 'c'"),
        (
            LONG,
            {"target": "time"},
            "long.csv: 'time' changes within id 's2' ('2' on line 3, '1' on line 4); a "
            "sequence has one class label: is target=time the right column?",
        ),
        (
            LONG.replace("s2,0,NaN,6.5,down", "s2,0,NaN,6.5,up"),
            {},
            "long.csv: 'label' changes within id 's2' ('up' on line 6, 'down' on line 4)",
        ),
        (
            LONG,
            {"regression": True},
            "long.csv, line 6, column 'label': target 'down' is not a number",  # time 0 first
        ),
        (
            LONG.replace("s2,1,5,,", "s2,1,5,x,"),
            {},
            "long.csv, line 4, column 'b': 'x' is not a number",
        ),
        (LONG.replace("s2,1,5", ",1,5"), {}, "long.csv, line 4: no id in column 'id'"),
        (
            LONG.replace("s2,1,5", "s2,2,5"),
            {"time": "time"},
            "long.csv: id 's2' has the time 2 twice (line 3 and line 4); keep one row per time",
        ),
        (LONG.replace("s2,1,5,,", "s2,1,5,,,"), {}, "long.csv, line 4: 6 fields, but the header"),
        (
            LONG.replace("s10,1,1.5,2,up", "s10,1,1.5,2,"),
            {},
            "long.csv, line 2, column 'label': no label; fill it in or remove the row",
        ),
        ("id,a,label\n", {}, "long.csv: no rows of data under the header"),
        ("id,label\nx,up\n", {}, "long.csv: no numeric column besides id, time and target"),
    ],
)
def test_csv_errors_name_row_and_column(tmp_path, text, kwargs, message):
    fails(message, read_sequences, write(tmp_path / "long.csv", text), **kwargs)


def test_parquet_errors_count_rows_from_one(tmp_path):
    table = pa.table({"id": ["a", "a", "b"], "v": ["1", "z", "3"], "label": ["x", "x", "y"]})
    pq.write_table(table, tmp_path / "text.parquet")
    fails(
        "text.parquet, row 2, column 'v': 'z' is not a number",
        read_sequences,
        tmp_path / "text.parquet",
    )


# ---------------------------------------------------------------- .npz and folders


def test_npz_with_lengths_ids_and_channels(tmp_path):
    x = np.arange(24, dtype=np.float64).reshape(3, 4, 2)
    np.savez(
        tmp_path / "d.npz",
        x=x,
        y=np.array([1, 2, 1]),
        lengths=np.array([4, 2, 3]),
        ids=np.array(["a", "b", "c"]),
        channels=np.array(["left", "right"]),
    )
    data = read_sequences(tmp_path / "d.npz")
    assert [len(s) for s in data.x] == [4, 2, 3] and list(data.y) == ["1", "2", "1"]
    assert data.ids == ["a", "b", "c"] and data.channels == ["left", "right"]
    np.testing.assert_array_equal(data.x[1], x[1, :2])
    np.savez(tmp_path / "flat.npz", x=np.ones((2, 5)), y=np.array([0.5, 1.5]))
    flat = read_sequences(tmp_path / "flat.npz", regression=True)
    assert flat.x[0].shape == (5, 1) and flat.ids == ["0", "1"] and flat.channels == ["dim_0"]
    np.testing.assert_array_equal(flat.y, [0.5, 1.5])


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"X": np.ones((2, 3))}, "d.npz: no array 'x' (arrays: X); save the inputs as x=..."),
        ({"x": np.ones((2, 3)), "y": np.ones(3)}, "d.npz: y has shape (3,), but x (2, 3, 1)"),
        (
            {"x": np.ones((2, 3)), "y": np.ones(2), "lengths": np.array([3, 4])},
            "d.npz: lengths[1] is 4; each length must be a whole number from 1 to 3",
        ),
        ({"x": np.array([["a"]]), "y": np.ones(1)}, "d.npz: x is <U1 of shape (1, 1)"),
        ({"x": np.ones((2, 3))}, "d.npz: no array 'y' of labels"),
        (
            {"x": np.ones((1, 3)), "y": np.array(["a"], dtype=object)},
            "save text (ids, labels, channels) as str arrays",
        ),
    ],
)
def test_npz_errors(tmp_path, arrays, message):
    np.savez(tmp_path / "d.npz", **arrays)
    fails(message, read_sequences, tmp_path / "d.npz")


def test_folder_of_class_folders(tmp_path):
    (tmp_path / "up").mkdir()
    (tmp_path / "down").mkdir()
    np.save(tmp_path / "up" / "s10.npy", np.arange(6, dtype=np.float32).reshape(3, 2))
    np.save(tmp_path / "up" / "s2.npy", np.ones((4, 2)))
    write(tmp_path / "down" / "a.csv", "1,2\n3,NA\n")
    write(tmp_path / "notes.md", "ignored: neither .npy nor .csv")
    data = read_sequences(tmp_path)
    assert data.ids == ["down/a.csv", "up/s2.npy", "up/s10.npy"]
    assert list(data.y) == ["down", "up", "up"] and data.channels == ["dim_0", "dim_1"]
    np.testing.assert_array_equal(data.x[0], np.array([[1, 2], [3, np.nan]], np.float32))
    assert data.notes == ["1 missing value (NaN)"]
    write(tmp_path / "down" / "b.csv", "x,y\n1,2\n")
    fails(
        f"{tmp_path.name}: down/b.csv has channels x, y, but down/a.csv has dim_0, dim_1",
        read_sequences,
        tmp_path,
    )
    (tmp_path / "down" / "b.csv").unlink()
    np.save(tmp_path / "stray.npy", np.ones((3, 2)))
    fails("stray.npy is not in a class sub-folder", read_sequences, tmp_path)


def test_folder_without_classes_is_unlabelled(tmp_path):
    write(tmp_path / "one.csv", "left,right\n1,2\n3,4\n")
    data = read_sequences(tmp_path, require_target=False)
    assert data.y is None and data.ids == ["one.csv"] and data.channels == ["left", "right"]
    fails("no class sub-folders", read_sequences, tmp_path)
    fails(
        f"{tmp_path.name}: no channel 'lft' (channels: left, right); did you mean 'left'?",
        read_sequences,
        tmp_path,
        features=["lft"],
        require_target=False,
    )


# ---------------------------------------------------------------- series


def test_airline_csv_with_month_dates():
    series = read_series(DATA / "airline.csv", time="Date")
    rows = [line.split(",") for line in (DATA / "airline.csv").read_text().split()[1:]]
    assert series.ids == ["series"] and series.targets == ["Passengers"] and series.notes == []
    np.testing.assert_array_equal(series.values[:, 0], [float(v) for _, v in rows])
    np.testing.assert_array_equal(series.offsets, [0, len(rows)])
    assert series.times.dtype == np.dtype("datetime64[M]") and str(series.times[0]) == "1949-01"


def test_gaps_are_notes_not_filled(tmp_path):
    lines = (DATA / "airline.csv").read_text().splitlines()
    gappy = write(tmp_path / "gappy.csv", "\n".join(lines[:5] + lines[8:] + [""]))
    series = read_series(gappy, time="Date")
    assert len(series.values) == len(lines) - 4
    assert series.notes == ["series 'series': 1 gap in time (largest 3 steps)"]


def test_long_series_sorted_with_covariates(tmp_path):
    path = write(
        tmp_path / "sales.csv",
        "date,store,sales,price\n2020-01-02,a,3,1\n2020-01-01,a,2,1\n"
        "2020-01-05,a,5,\n2020-01-01,b,7,2\n",
    )
    series = read_series(path, time="date", id="store", covariates=["price"])
    assert series.ids == ["a", "b"] and series.targets == ["sales"]
    assert series.covariates == ["price"] and series.values.dtype == np.float32
    np.testing.assert_array_equal(series.values, [[2, 1], [3, 1], [5, np.nan], [7, 2]])
    np.testing.assert_array_equal(series.offsets, [0, 3, 4])
    assert [str(t) for t in series.times] == [
        "2020-01-01",
        "2020-01-02",
        "2020-01-05",
        "2020-01-01",
    ]
    assert series.notes == [
        "rows were not sorted by 'date': sorted",
        "series 'a': 1 gap in time (largest 2 steps)",
        "1 missing value (NaN)",
    ]


def test_parquet_series_with_numeric_time(tmp_path):
    table = pa.table({"t": [3, 1, 2], "x": [30.0, 10.0, None], "y": [3, 1, 2]})
    pq.write_table(table, tmp_path / "wide.parquet")
    series = read_series(tmp_path / "wide.parquet", time="t")
    assert series.targets == ["x", "y"] and series.times.tolist() == [1.0, 2.0, 3.0]
    np.testing.assert_array_equal(series.values, [[10, 1], [np.nan, 2], [30, 3]])


@pytest.mark.parametrize(
    ("text", "kwargs", "message"),
    [
        (
            "date,store,sales\n2020-01-02,a,3\n2020-01-02,b,2\n",
            {"time": "date"},
            "s.csv: series 'series' has the time 2020-01-02 twice (line 2 and line 3); keep one "
            "row per time; if the file holds several series, name their id column (id=COLUMN)",
        ),
        (
            "date,store,sales\n2020-01-02,a,3\n2020-01-03,b,2\n2020-01-02,a,4\n",
            {"time": "date", "id": "store"},
            "s.csv: series 'a' has the time 2020-01-02 twice (line 2 and line 4)",
        ),
        (
            "date,store,sales\n2020-01-02,a,3\n",
            {"id": "shop"},
            "s.csv: no id column 'shop'; pass id=COLUMN (columns: date, store, sales)",
        ),
        (
            "date,sales\n2020-01-02,3\n",
            {"target": ["sale"]},
            "did you mean 'sales' (target=sales)?",
        ),
        (
            "date,sales\n2020-01-02,3\nyesterday,2\n",
            {"time": "date"},
            "s.csv, line 3, column 'date': 'yesterday' is neither a number nor an ISO date",
        ),
        ("date,sales\n2020-01-02,3\n,2\n", {"time": "date"}, "s.csv, line 3: no time in column"),
        ("date,sales\n2020-01-02,3\n2020-01-03,?\n", {}, "s.csv, line 3, column 'sales': '?'"),
        ("d,s\n1,2\n", {"target": ["s"], "covariates": ["s"]}, "'s' is both a target and a"),
        ("d,s\nx,y\n", {}, "s.csv: no numeric column to forecast"),
    ],
)
def test_series_errors(tmp_path, text, kwargs, message):
    fails(message, read_series, write(tmp_path / "s.csv", text), **kwargs)


def test_tsf_series_with_yearly_times():
    series = read_series(DATA / "m1_yearly.tsf")
    lines = (DATA / "m1_yearly.tsf").read_text().splitlines()
    rows = [line.split(":") for line in lines[lines.index("@data") + 1 :]]
    assert series.ids == [name for name, _, _ in rows] and series.targets == ["series_value"]
    values = [[float(v) for v in data.split(",")] for _, _, data in rows]
    np.testing.assert_array_equal(series.offsets, np.cumsum([0] + [len(v) for v in values]))
    np.testing.assert_array_equal(series.values[:, 0], np.concatenate(values).astype(np.float32))
    assert str(series.times[0]) == "1972-01-01T00:00:00"
    assert str(series.times[series.offsets[1] - 1]) == "1999-01-01T00:00:00"
    fails("leave target and covariates empty", read_series, DATA / "m1_yearly.tsf", target=["x"])


def test_tsf_matches_aeons_loader():
    datasets = pytest.importorskip("aeon.datasets")
    frame, meta = datasets.load_from_tsf_file(str(DATA / "m1_yearly.tsf"))
    series = read_series(DATA / "m1_yearly.tsf")
    assert list(frame["series_name"]) == series.ids and meta["frequency"] == "yearly"
    for i, values in enumerate(frame["series_value"]):
        a, b = series.offsets[i], series.offsets[i + 1]
        np.testing.assert_array_equal(series.values[a:b, 0], np.asarray(values, np.float32))
        assert series.times[a] == np.datetime64(frame["start_timestamp"][i])


def test_tsf_errors(tmp_path):
    header = "@relation t\n@attribute series_name string\n@frequency yearly\n@data\n"
    fails(
        "t.tsf, line 5, value 2: 'x' is not a number",
        read_series,
        write(tmp_path / "t.tsf", header + "T1:1,x\n"),
    )
    fails(
        "t.tsf, line 5: 1 fields separated by ':', expected 2",
        read_series,
        write(tmp_path / "t.tsf", header + "1,2\n"),
    )
    fails(
        "t.tsf: no @data line",
        read_series,
        write(tmp_path / "t.tsf", header.replace("@data\n", "")),
    )
    missing = read_series(write(tmp_path / "t.tsf", header + "T1:1,?,3\n"))
    assert np.isnan(missing.values[1, 0]) and missing.times is None


# ---------------------------------------------------------------- formats


def test_formats_are_judged_by_content(tmp_path):
    pq.write_table(pa.table({"a": [1]}), tmp_path / "data.csv")
    fails(
        "data.csv: this is a Parquet file, not CSV; rename it to .parquet",
        detect_format,
        tmp_path / "data.csv",
    )
    with open(tmp_path / "arrays.csv", "wb") as f:
        np.savez(f, x=np.ones(2))
    fails(
        "arrays.csv: this is a .npz file, not CSV; rename it to .npz",
        detect_format,
        tmp_path / "arrays.csv",
    )
    write(tmp_path / "table.parquet", "a,b\n1,2\n")
    fails(
        "table.parquet: this is a CSV file, not Parquet; rename it to .csv",
        detect_format,
        tmp_path / "table.parquet",
    )
    write(tmp_path / "cases.csv", HEADER + "1,2,3:4,5,6:a\n")
    fails(
        "cases.csv: this is a .ts (UCR/UEA) file, not CSV; rename it to .ts",
        read_sequences,
        tmp_path / "cases.csv",
    )
    write(tmp_path / "plain.ts", "a,b\n1,2\n")
    fails(
        "plain.ts: this is not a .ts (UCR/UEA) file: it has no @ header lines",
        read_sequences,
        tmp_path / "plain.ts",
    )
    write(tmp_path / "noext", HEADER + "1,2,3:4,5,6:a\n")
    assert detect_format(tmp_path / "noext") == "ts"
    assert detect_format(DATA / "m1_yearly.tsf") == "tsf" and detect_format(tmp_path) == "folder"
    fails("missing.csv: no such file", read_sequences, tmp_path / "missing.csv")
    fails("empty.csv: the file is empty", read_series, write(tmp_path / "empty.csv", ""))
    np.save(tmp_path / "one.npy", np.ones(3))
    fails("one.npy: a .npy file holds no labelled sequences", read_sequences, tmp_path / "one.npy")


def test_import_needs_neither_torch_nor_pyarrow():
    code = "import sys, rnnzoo.data; print(sorted({'torch', 'pyarrow'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "[]", result.stderr
