"""What a data file is, judged by its content: an extension can be wrong (a Parquet file saved
as ``data.csv``), and reading such a file as what it claims to be fails with an error about
its bytes instead of its name."""

from __future__ import annotations

import codecs
from collections.abc import Callable
from pathlib import Path

import numpy as np

from rnnzoo.errors import UserError

ENCODING_PROBE = 4 << 20  # bytes of a text file that decide its encoding
WIDE_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)

# the format each extension claims; files with other extensions are judged by content alone
EXTENSIONS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".ts": "ts",
    ".tsf": "tsf",
    ".npz": "npz",
    ".npy": "npy",
}
NAMES = {
    "csv": "CSV",
    "parquet": "Parquet",
    "ts": ".ts (UCR/UEA)",
    "tsf": ".tsf (Monash)",
    "npz": ".npz",
    "npy": ".npy",
}
SUFFIX = {"csv": ".csv", "parquet": ".parquet", "ts": ".ts", "tsf": ".tsf", "npz": ".npz"}
# header tags only a Monash .tsf file has (a .ts file has @problemName, @classLabel, ...)
TSF_TAGS = {"@relation", "@attribute", "@frequency", "@horizon"}
MAGIC = {b"PAR1": "parquet", b"PK\x03\x04": "npz", b"\x93NUMPY": "npy"}


def detect_format(path: str | Path) -> str:
    """``"csv"``, ``"parquet"``, ``"ts"``, ``"tsf"``, ``"npz"``, ``"npy"`` or ``"folder"``,
    from the file's first bytes; a file whose extension claims another format is refused."""
    path = Path(path)
    if path.is_dir():
        return "folder"
    if not path.is_file():
        raise UserError(f"{path}: no such file; check the path")
    with path.open("rb") as f:
        head = f.read(4096)
    if not head.strip():
        raise UserError(f"{path.name}: the file is empty; give a file with data")
    found = next((fmt for magic, fmt in MAGIC.items() if head.startswith(magic)), None)
    if found is None:
        text_encoding(path)  # UTF-16 is refused for what it is, not as a malformed file
        found = text_format(path)
    claimed = EXTENSIONS.get(path.suffix.lower())
    if claimed is not None and claimed != found:
        if claimed in ("ts", "tsf") and found == "csv":
            raise UserError(
                f"{path.name}: this is not a {NAMES[claimed]} file: it has no @ header lines "
                f"(@problemName ... @data); if it is CSV, rename it to .csv"
            )
        rename = f"rename it to {SUFFIX[found]}" if found in SUFFIX else "give a data file"
        raise UserError(
            f"{path.name}: this is a {NAMES[found]} file, not {NAMES[claimed]}; {rename}"
        )
    return found


def text_format(path: Path) -> str:
    """``ts`` or ``tsf`` when the first line that is not blank or a comment is an ``@`` tag (a
    .tsf header has @relation or @attribute before @data), otherwise ``csv``."""
    tags = []
    with path.open(encoding="utf-8-sig", errors="replace") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith(("#", "%")):
                continue
            if not line.startswith("@"):
                break
            tag = line.split()[0].lower()
            if tag == "@data":
                break
            tags.append(tag)
    if not tags:
        return "csv"
    return "tsf" if TSF_TAGS & set(tags) else "ts"


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
