"""Runtime input files that are broken in the ways files break: each is one
``RuntimeInputError`` line, never an allocation, a recursion or a parser's own exception."""

import json
import re
import struct

import numpy as np
import pytest

from rnnzoo.errors import RuntimeInputError
from rnnzoo.runtime.inputs import check_array, load_input


def npy_with_header(shape: tuple[int, ...]) -> bytes:
    """A version-1 ``.npy`` header claiming ``shape`` of float32, and 8 bytes of data."""
    header = repr({"descr": "<f4", "fortran_order": False, "shape": shape}).encode()
    header += b" " * (63 - (10 + len(header)) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + b"\x00" * 8


CASES = {
    "empty.npy": (b"", "empty.npy: not a readable .npy array"),
    "truncated.npy": (npy_with_header((4, 5, 1))[:-3], "but the file holds"),
    "huge.npy": (npy_with_header((10**6, 10**6, 1)), "its header claims shape"),
    "garbage.npy": (b"\x00\x01not numpy at all", "garbage.npy: not a readable .npy array"),
    "wide.csv": (
        b"1," + b"9" * (200 * 1024) + b"\n",
        "line 1, column 'dim_1': inf is not a finite",
    ),
    "binary.csv": (bytes(range(256)) * 4, "UTF-16 or UTF-32 text (or a binary file)"),
    "deep.json": (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    "ragged.json": (b"[[1, 2], [3]]", "cannot read it as json"),
    "strings.json": (b'[["a", "b"]]', "cannot read it as json"),
    "noinput.json": (b'{"lengths": [3]}', "cannot read it as json"),
    "notutf8.json": (b"\xff\xfe[1]", "cannot read it as json"),
    "data.txt": (b"1,2,3", "unknown input format"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_broken_input_file_is_one_line(tmp_path, name):
    content, message = CASES[name]
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(RuntimeInputError, match=re.escape(message)) as caught:
        load_input(path)
    assert "\n" not in str(caught.value)


def test_an_object_array_is_refused_without_unpickling(tmp_path):
    path = tmp_path / "objects.npy"
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(RuntimeInputError, match="Python objects"):
        load_input(path)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf, 1e39])
def test_non_finite_input_is_refused_unless_the_model_takes_missing_values(value):
    x = np.zeros((2, 5, 1))
    x[1, 3, 0] = value
    with pytest.raises(RuntimeInputError, match=r"the first at index \(1, 3, 0\)"):
        check_array(x, (1,))
    if np.isnan(value):  # a model whose card declares missing values (rain) takes NaN
        assert np.isnan(check_array(x, (1,), missing_values=True)[1, 3, 0])
    else:
        with pytest.raises(RuntimeInputError, match="infinity is not a value"):
            check_array(x, (1,), missing_values=True)


def test_json_null_is_a_missing_value(tmp_path):
    path = tmp_path / "x.json"
    path.write_text(json.dumps({"input": [[[1.0], [None]]], "lengths": [2]}))
    x, lengths = load_input(path)
    assert np.isnan(x[0, 1, 0]) and lengths.tolist() == [2]
