"""The rules every reader keeps, tested across the formats: one encoding rule (UTF-8, else
Latin-1; UTF-16 and UTF-32 refused for what they are), fields of any length, a bound on the
columns, and non-finite values (inf, numbers beyond float32) refused at their place."""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rnnzoo.data import read_sequences, read_series
from rnnzoo.errors import UserError

TS = (
    "@problemName Toy\n@timeStamps false\n@missing true\n@univariate true\n"
    "@equalLength true\n@seriesLength 3\n@classLabel true a b\n@data\n"
    "1,2,3:a\n4,VALUE,6:b\n7,8,9:a\n1,1,1:b\n"
)
TSF = (
    "@relation toy\n@attribute series_name string\n@frequency yearly\n@horizon 2\n"
    "@missing true\n@equallength false\n@data\nT1:1,2,3,4,5,6,7,8\nT2:1,2,VALUE,4,5,6,7,8\n"
)
LONG = "id,a,label\n" + "".join(
    f"s{i % 4},{'VALUE' if i == 5 else i},{'ab'[i % 4 % 2]}\n" for i in range(12)
)
WIDE = "year,sales\n" + "".join(f"{1990 + i},{'VALUE' if i == 7 else i}\n" for i in range(20))


def write(path, text: str, encoding: str = "utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


READERS = {  # a file of each text format: its name, its text (VALUE to fill) and its reader
    "csv-sequences": ("long.csv", LONG, read_sequences),
    "csv-series": ("wide.csv", WIDE, lambda p: read_series(p, time="year")),
    "ts": ("toy.ts", TS, read_sequences),
    "tsf": ("toy.tsf", TSF, read_series),
}


@pytest.mark.parametrize("kind", READERS)
@pytest.mark.parametrize("encoding", ["utf-16", "utf-32", "utf-16-le"])
def test_utf16_and_utf32_are_refused_for_what_they_are(tmp_path, kind, encoding):
    name, text, read = READERS[kind]
    path = write(tmp_path / name, text.replace("VALUE", "5"), encoding)
    with pytest.raises(UserError, match="UTF-16 or UTF-32 text .* save it as UTF-8"):
        read(path)


@pytest.mark.parametrize("kind", READERS)
def test_latin1_reads_as_latin1(tmp_path, kind):
    name, text, read = READERS[kind]
    text = text.replace("VALUE", "5")
    if kind == "csv-sequences":
        text = text.replace("id,a,label", "id,tempé,label")
    elif kind == "csv-series":
        text = text.replace("year,sales", "year,ventes_é")
    else:
        text = text.replace("Toy", "Toyé").replace("toy", "toyé")
    data = read(write(tmp_path / name, text, "latin-1"))
    if kind == "csv-sequences":
        assert data.channels == ["tempé"]
    if kind == "csv-series":
        assert data.targets == ["ventes_é"]


@pytest.mark.parametrize("kind", READERS)
@pytest.mark.parametrize("value", ["inf", "-inf", "Infinity", "1e39", "-3.5e38"])
def test_non_finite_values_are_refused_at_their_place(tmp_path, kind, value):
    name, text, read = READERS[kind]
    path = write(tmp_path / name, text.replace("VALUE", value))
    with pytest.raises(UserError) as caught:
        read(path)
    message = str(caught.value)
    assert "is not a finite number" in message and "\n" not in message, message
    where = {"csv-sequences": "line 7, column 'a'", "csv-series": "line 9, column 'sales'",
             "ts": "line 10, channel dim_0, value 2", "tsf": "line 9, value 3"}[kind]  # fmt: skip
    assert where in message, message


def test_non_finite_values_in_parquet_npz_npy_and_targets_are_refused(tmp_path):
    values = [1.0, 2.0, float("inf"), 4.0]
    pq.write_table(pa.table({"id": ["a", "a", "b", "b"], "v": values, "label": list("xxyy")}),
                   tmp_path / "s.parquet")  # fmt: skip
    with pytest.raises(UserError, match=r"s.parquet, row 3, column 'v': inf is not a finite"):
        read_sequences(tmp_path / "s.parquet")
    x = np.ones((4, 5))
    x[2, 3] = -np.inf
    np.savez(tmp_path / "s.npz", x=x, y=np.array(["a", "b", "a", "b"]))
    with pytest.raises(UserError, match=r"s.npz: x\[2, 3\]: -inf is not a finite"):
        read_sequences(tmp_path / "s.npz")
    folder = tmp_path / "classes"
    for label in "ab":
        (folder / label).mkdir(parents=True)
        for i in range(2):
            np.save(folder / label / f"{i}.npy", np.array([1.0, 2.0, 1e39 if label == "b" else 3]))
    with pytest.raises(UserError, match=r"0.npy: value \[2\]: 1e\+39 is not a finite"):
        read_sequences(folder)
    target = "id,a,target\n" + "".join(f"s{i},{i},{'inf' if i == 2 else i}\n" for i in range(6))
    with pytest.raises(UserError, match="line 4, column 'target': target: inf is not a finite"):
        read_sequences(write(tmp_path / "t.csv", target), target="target", regression=True)


def test_a_field_longer_than_128_kib_reads(tmp_path):
    long_label = "x" * 200_000
    text = "id,a,label\n" + "".join(f"s{i},{i},{long_label if i % 2 else 'b'}\n" for i in range(6))
    data = read_sequences(write(tmp_path / "long.csv", text))
    assert sorted(set(data.y)) == ["b", long_label]


def test_too_many_columns_are_refused_with_their_count(tmp_path):
    header = ",".join(f"c{i}" for i in range(150_000))
    path = write(tmp_path / "wide.csv", header + "\n" + ",".join("1" * 150_000) + "\n")
    with pytest.raises(UserError, match="150,000 columns, more than the 100,000 rnnzoo reads"):
        read_series(path)
