"""The rules every reader keeps, whatever the format — written once here: the encoding a text
file is read in, what a missing value is, and which numbers are refused."""

from __future__ import annotations

import codecs
from collections.abc import Callable
from pathlib import Path

import numpy as np

from rnnzoo.errors import UserError

ENCODING_PROBE = 4 << 20  # bytes of a text file that decide its encoding
WIDE_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def text_encoding(path: Path) -> str:
    """The encoding every text format (CSV, .ts, .tsf) is read in, one rule for all: UTF-8
    (a byte-order mark dropped) where the file's first ``ENCODING_PROBE`` bytes are UTF-8, else
    Latin-1 (older archive files, a spreadsheet's "CSV"); UTF-16 and UTF-32 (a byte-order mark,
    or NUL bytes) are refused, naming the fix."""
    with path.open("rb") as f:
        head = f.read(ENCODING_PROBE)
    if head.startswith(WIDE_BOMS) or b"\x00" in head[:4096]:
        raise UserError(
            f"{path.name}: UTF-16 or UTF-32 text (or a binary file), which rnnzoo does not read; "
            "save it as UTF-8 (e.g. Excel's 'CSV UTF-8', or iconv -t utf-8)"
        )
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=len(head) < ENCODING_PROBE)
    except UnicodeDecodeError:
        return "latin-1"
    return "utf-8-sig"


def read_text(path: Path) -> str:
    """The file as text, in :func:`text_encoding`'s encoding."""
    return path.read_bytes().decode(text_encoding(path))


def missing_text() -> set[str]:
    """What a text cell holds for a missing value: what pyarrow reads as null ("", NA, NaN,
    ...)."""
    import pyarrow.csv as pacsv

    return {"", *pacsv.ConvertOptions().null_values}


def check_finite(values: np.ndarray, place: Callable[[int], str]) -> np.ndarray:
    """The rule on values in every format: NaN is a missing value; ``inf``, ``-inf`` and
    numbers beyond float32's range (which become infinite when the model reads them) are
    refused at the first one, ``place(index into values.flat)`` naming it. Returns ``values``."""
    with np.errstate(invalid="ignore"):
        bad = np.flatnonzero(
            np.abs(values.astype(np.float64, copy=False)) > np.finfo(np.float32).max
        )
    if len(bad):
        value = values.flat[int(bad[0])]
        raise UserError(
            f"{place(int(bad[0]))}: {value} is not a finite number (float32 holds up to ±3.4e38);"
            " fix it, or leave it empty for a missing value"
        )
    return values


def position(index: int, shape: tuple[int, ...]) -> str:
    """Where flat ``index`` lies in an array of ``shape``, as ``[2, 3]``."""
    return "[" + ", ".join(str(int(k)) for k in np.unravel_index(index, shape)) + "]"
