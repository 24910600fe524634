"""The formats are one table (rnnzoo.data.formats): each module of the package gives one entry,
nothing outside it decides by a format's name, and a format's reader is the same one wherever
the format is read — a class folder's file and ``predict``'s input alike."""

import ast
import re
from pathlib import Path

import numpy as np
import pytest

from rnnzoo.data import read_sequences
from rnnzoo.data.formats import FORMATS, detect, readable
from rnnzoo.errors import RuntimeInputError, UserError
from rnnzoo.runtime.inputs import load_input

PACKAGE = Path(__file__).resolve().parents[1] / "rnnzoo"
FORMAT_MODULES = sorted(
    p.stem
    for p in (PACKAGE / "data" / "formats").glob("*.py")
    if p.stem not in ("__init__", "base")
)
NAMES = {f.name for f in FORMATS}


def test_each_format_module_is_one_entry_of_the_table():
    import importlib

    entries = [importlib.import_module(f"rnnzoo.data.formats.{m}").FORMAT for m in FORMAT_MODULES]
    assert sorted(f.name for f in entries) == sorted(f.name for f in FORMATS) == FORMAT_MODULES
    suffixes = [s for f in FORMATS for s in f.suffixes]
    assert len(suffixes) == len(set(suffixes)), "an extension claims two formats"
    for f in FORMATS:
        assert f.sequences or f.series or f.one_sequence, f"{f.name} reads nothing"
        assert bool(f.table) == bool(f.stream), f"{f.name}: a table format streams for the cache"


def name_comparisons(path: Path) -> list[str]:
    """``x == "csv"``, ``x in ("csv", "parquet")`` and the like in ``path``'s source."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Compare):
            for side in [node.left, *node.comparators]:
                values = side.elts if isinstance(side, ast.Tuple | ast.List | ast.Set) else [side]
                for value in values:
                    if isinstance(value, ast.Constant) and value.value in NAMES:
                        found.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    return found


def test_nothing_outside_the_table_decides_by_a_formats_name():
    places = [
        p for folder in ("data", "runtime", "tasks") for p in (PACKAGE / folder).rglob("*.py")
    ]
    found = [hit for p in places if "formats" not in p.parts for hit in name_comparisons(p)]
    assert not found, f"branches on a format's name (ask the table instead): {found}"


def test_messages_list_the_formats_from_the_table(tmp_path):
    assert readable("series") == "a CSV, Parquet or .tsf (Monash) file"
    path = tmp_path / "x.npy"
    np.save(path, np.zeros(3))
    with pytest.raises(
        UserError, match=re.escape(f"holds no labelled sequences; give {readable('sequences')}")
    ):
        read_sequences(path)


LATIN1_SEMICOLONS = "température;débit\n1,5;NA\n2;3\n".replace(",", ".").encode("latin-1")


@pytest.mark.parametrize(
    "content,values",
    [
        (LATIN1_SEMICOLONS, [[1.5, np.nan], [2, 3]]),  # the encoding and delimiter rules
        (b"1,2\n\n3,\n", [[1, 2], [3, np.nan]]),  # no header, a blank line, an empty cell
    ],
)
def test_predicts_csv_input_is_read_as_a_class_folders_file(tmp_path, content, values):
    (tmp_path / "data" / "a").mkdir(parents=True)
    (tmp_path / "data" / "a" / "x.csv").write_bytes(content)
    (tmp_path / "x.csv").write_bytes(content)
    folder = read_sequences(tmp_path / "data")
    x, _ = load_input(tmp_path / "x.csv")
    np.testing.assert_array_equal(folder.x[0], np.asarray(values, np.float32))
    np.testing.assert_array_equal(x, folder.x[0])
    assert detect(tmp_path / "data").name == "folder"


@pytest.mark.parametrize(
    "content,message",
    [
        (b"1\n1e39\n", "x.csv, line 2, column 'dim_0': 1e+39 is not a finite number"),
        ("1\n2\n".encode("utf-16"), "UTF-16 or UTF-32 text"),
        (b"a\n1\nabc\n", "x.csv, line 3, column 'a': 'abc' is not a number"),
    ],
)
def test_predict_and_a_class_folder_refuse_a_csv_with_the_same_line(tmp_path, content, message):
    (tmp_path / "data" / "a").mkdir(parents=True)
    (tmp_path / "data" / "a" / "x.csv").write_bytes(content)
    (tmp_path / "x.csv").write_bytes(content)
    with pytest.raises(UserError, match=re.escape(message)) as folder:
        read_sequences(tmp_path / "data")
    with pytest.raises(RuntimeInputError) as given:
        load_input(tmp_path / "x.csv")
    assert str(given.value) == str(folder.value)
