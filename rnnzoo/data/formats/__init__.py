"""The table of formats rnnzoo reads — one module each — and the two ways in: the sequences
(:func:`read_sequences`) or series (:func:`read_series`) in a file, by its format's reader.

A file's format is judged by its content: an extension can be wrong (a Parquet file saved as
``data.csv``), and reading such a file as what it claims to be fails with an error about its
bytes instead of its name. The rules every reader keeps are :mod:`rnnzoo.data.rules`'."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rnnzoo.data.formats import csv, folder, npy, npz, parquet, ts, tsf
from rnnzoo.data.formats.base import Format
from rnnzoo.data.rules import text_encoding
from rnnzoo.data.sequences import Options, Sequences, pick_channels
from rnnzoo.data.series import Series
from rnnzoo.data.table import plural
from rnnzoo.errors import UserError

FORMATS = (csv.FORMAT, parquet.FORMAT, ts.FORMAT, tsf.FORMAT, npz.FORMAT, npy.FORMAT, folder.FORMAT)
TEXT = [f for f in FORMATS if f.is_file and not f.magic]  # judged by their first lines


def detect(path: str | Path) -> Format:
    """The format of ``path`` from its first bytes (a folder is ``folder``); a file whose
    extension claims another format is refused, naming the fix."""
    path = Path(path)
    if path.is_dir():
        return folder.FORMAT
    if not path.is_file():
        raise UserError(f"{path}: no such file; check the path")
    with path.open("rb") as f:
        head = f.read(4096)
    if not head.strip():
        raise UserError(f"{path.name}: the file is empty; give a file with data")
    found = next((f for f in FORMATS if f.magic and head.startswith(f.magic)), None) or text_format(
        path
    )
    claimed = next((f for f in FORMATS if path.suffix.lower() in f.suffixes), None)
    if claimed is not None and claimed != found:
        if claimed.header and found is csv.FORMAT:
            raise UserError(
                f"{path.name}: this is not a {claimed.title} file: it has no @ header lines "
                f"({claimed.header}); if it is CSV, rename it to .csv"
            )
        holds_data = found.sequences or found.series
        rename = f"rename it to {found.suffixes[0]}" if holds_data else "give a data file"
        raise UserError(f"{path.name}: this is a {found.title} file, not {claimed.title}; {rename}")
    return found


def detect_format(path: str | Path) -> str:
    """The name of ``path``'s format: ``"csv"``, ``"parquet"``, ``"ts"``, ``"tsf"``, ``"npz"``,
    ``"npy"`` or ``"folder"`` (see :func:`detect`)."""
    return detect(path).name


def text_format(path: Path) -> Format:
    """The text format whose header tags the file has before ``@data`` (``.ts`` for tags no
    format claims alone), or CSV: a file whose first line that is not blank or a comment is
    no ``@`` tag. The encoding rule is kept first: UTF-16 is refused for what it is."""
    tags = set()
    with path.open(encoding=text_encoding(path), errors="replace") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith(("#", "%")):
                continue
            if not line.startswith("@"):
                break
            tag = line.split()[0].lower()
            if tag == "@data":
                break
            tags.add(tag)
    if not tags:
        return csv.FORMAT
    return next((f for f in TEXT if f.tags & tags), ts.FORMAT)


def readable(kind: str) -> str:
    """The formats holding ``kind`` ("sequences", "series"), as a message lists them."""
    files = [f.title for f in FORMATS if getattr(f, kind) and f.is_file]
    listed = (", ".join(files[:-1]) + " or " + files[-1]) if len(files) > 1 else files[0]
    folders = [f.title for f in FORMATS if getattr(f, kind) and not f.is_file]
    return f"a {listed} file" + "".join(f", or a {title}" for title in folders)


def read_sequences(
    path: str | Path,
    *,
    target: str = "label",
    id: str = "id",
    time: str = "",
    features: list[str] | None = None,
    regression: bool = False,
    require_target: bool = True,
) -> Sequences:
    """The sequences in ``path``, whichever its format (see :func:`detect`).

    ``target``, ``id`` and ``time`` name a CSV or Parquet file's columns (``time`` orders the
    rows within each id; empty: file order); ``features`` its input columns (default: every
    numeric column but those) or, for the other formats, the channels to keep. Without
    ``require_target`` a file without targets gives ``y=None``, and so do unusable targets
    (with a note): what ``rnnzoo predict`` needs."""
    path = Path(path)
    fmt = detect(path)
    if fmt.sequences is None:
        raise UserError(
            f"{path.name}: a {fmt.title} file holds no labelled sequences; give "
            f"{readable('sequences')}"
        )
    options = Options(target, regression, require_target, id, time, list(features or []))
    data = fmt.sequences(path, options)
    if features:
        data = pick_channels(data, list(features))
    data.notes += missing_note(sum(int(np.isnan(s).sum()) for s in data.x))
    return data


def read_series(
    path: str | Path,
    *,
    target: list[str] | None = None,
    time: str = "",
    id: str = "",
    covariates: list[str] | None = None,
) -> Series:
    """The series in ``path``. ``target`` names the columns to forecast (default: every
    numeric column but the time, id and covariate columns), ``covariates`` the columns known
    in advance; ``id`` the column naming each row's series (empty: the file is one series);
    ``time`` the column ordering the rows (numbers or ISO dates; empty: file order). Gaps in
    the time axis are notes, not filled; a time that occurs twice in a series is an error."""
    path = Path(path)
    fmt = detect(path)
    if fmt.series is None:
        raise UserError(
            f"{path.name}: forecasting reads series from {readable('series')}, not "
            f"{fmt.title}; save the series as CSV (a column per series or an id column)"
        )
    series = fmt.series(path, target=target or [], time=time, id=id, covariates=covariates or [])
    series.notes += missing_note(int(np.isnan(series.values).sum()))
    return series


def missing_note(count: int) -> list[str]:
    """What a file's missing values (NaN: kept, never zero) are told as."""
    return [f"{plural(count, 'missing value')} (NaN)"] if count else []
