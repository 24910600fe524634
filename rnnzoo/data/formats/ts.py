"""The UCR/UEA ``.ts`` format (as sktime and aeon write it): ``@`` header tags up to
``@data``, then one case per line, its channels separated by ``:``, values by ``,``, the label
last; ``?`` or ``NaN`` is a missing value. Channels of one case may differ in length in a file
with ``@equalLength false``: the shorter ones are padded with NaN to the case's longest."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnzoo.data.formats.base import Format
from rnnzoo.data.rules import check_finite, read_text
from rnnzoo.data.sequences import Options, Sequences
from rnnzoo.errors import UserError

SPELT = (
    "@problemName",
    "@timeStamps",
    "@missing",
    "@univariate",
    "@equalLength",
    "@targetLabel",
    "@seriesLength",
    "@dimension",
    "@dimensions",
    "@classLabel",
    "@data",
)
SPELLING = {tag.lower(): tag for tag in SPELT}  # tags are read in any case
TAGS = tuple(SPELLING)
BOOLEAN_TAGS = ("@timestamps", "@missing", "@univariate", "@equallength", "@targetlabel")
COUNT_TAGS = ("@serieslength", "@dimension", "@dimensions")


@dataclass
class TsFile:
    """A ``.ts`` file's cases: ``(length, channels)`` float32 arrays, the label text of each
    (None: the file has none), each case's line in the file, and what the header declares."""

    x: list[np.ndarray]
    labels: list[str] | None
    lines: list[int]
    regression: bool
    classes: list[str]


def read_ts(path: Path) -> TsFile:
    lines = read_text(path).splitlines()
    name = path.name
    header, data_line = read_header(lines, name)
    if header.get("@timestamps"):
        raise UserError(
            f"{name}: @timeStamps true (values with timestamps) is not supported; write the "
            f"values without timestamps"
        )
    labelled = bool(header.get("@classlabel") or header.get("@targetlabel"))
    channels = header.get("@dimensions") or header.get("@dimension")
    if channels is None and header.get("@univariate"):
        channels = 1
    length = header.get("@serieslength")
    equal = header.get("@equallength", True)
    classes = header.get("classes", [])
    x, labels, numbers = [], [], []
    for number, line in enumerate(lines[data_line:], data_line + 1):
        line = line.strip()
        if not line or line.startswith(("#", "%")):
            continue
        parts = line.split(":")
        if labelled:
            labels.append(parts.pop().strip())
        if channels is None:
            channels = len(parts)
        if len(parts) != channels:
            label = ", then the label" if labelled else ""
            raise UserError(
                f"{name}, line {number}: {len(parts)} channel(s), expected {channels} (channels "
                f"are separated by ':'{label}); fix the line"
            )
        values = [parse_channel(part, name, number, c) for c, part in enumerate(parts)]
        longest = max(len(v) for v in values)
        if equal:
            length = length or len(values[0])
            ragged = next((c for c, v in enumerate(values) if len(v) != length), None)
            if ragged is not None:
                raise UserError(
                    f"{name}, line {number}: channel dim_{ragged} has {len(values[ragged])} "
                    f"values, but the header says @equalLength true and the length is {length}; "
                    f"fix the line or set @equalLength false"
                )
        case = np.full((longest, channels), np.nan, np.float32)
        for c, v in enumerate(values):
            case[: len(v), c] = v
        if labelled and classes and labels[-1] not in classes:
            raise UserError(
                f"{name}, line {number}: class {labels[-1]!r} is not in the header's @classLabel "
                f"list ({' '.join(classes)}); add it there or fix the label"
            )
        x.append(case)
        numbers.append(number)
    if not x:
        raise UserError(f"{name}: no cases after @data; add one line per case")
    return TsFile(
        x, labels if labelled else None, numbers, bool(header.get("@targetlabel")), classes
    )


def read_header(lines: list[str], name: str) -> tuple[dict, int]:
    """The header's values by lower-case tag (class names under ``classes``) and the index of
    the line after ``@data``."""
    header: dict = {}
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith(("#", "%")):
            continue
        if not line.startswith("@"):
            raise UserError(
                f"{name}, line {number}: a data line before @data; the header must end with @data"
            )
        tokens = line.split()
        tag = tokens[0].lower()
        if tag not in TAGS:
            close = difflib.get_close_matches(tag, TAGS, n=1)
            fix = f"did you mean {SPELLING[close[0]]}?" if close else "remove it"
            raise UserError(f"{name}, line {number}: unknown header tag {tokens[0]!r}; {fix}")
        if tag == "@data":
            return header, number
        values = [t.lower() for t in tokens[1:]]
        if tag in BOOLEAN_TAGS:
            if len(values) != 1 or values[0] not in ("true", "false"):
                raise invalid(name, number, tokens, "true or false")
            header[tag] = values[0] == "true"
        elif tag in COUNT_TAGS:
            if len(values) != 1 or not values[0].isdigit() or int(values[0]) < 1:
                raise invalid(name, number, tokens, "a whole number of 1 or more")
            header[tag] = int(values[0])
        elif tag == "@classlabel":
            if not values or values[0] not in ("true", "false") or values == ["true"]:
                raise invalid(name, number, tokens, "true and the class names, or false")
            header[tag] = values[0] == "true"
            header["classes"] = tokens[2:]
    raise UserError(f"{name}: no @data line; the header must end with @data, then the cases")


def invalid(name: str, number: int, tokens: list[str], expected: str) -> UserError:
    found = " ".join(tokens[1:]) or "nothing"
    return UserError(
        f"{name}, line {number}: {SPELLING[tokens[0].lower()]} needs {expected}, not {found!r}; "
        f"fix the header"
    )


def parse_channel(text: str, name: str, number: int, channel: int) -> np.ndarray:
    """One channel's comma-separated values as float64, NaN for ``?`` or ``NaN``."""
    values = text.replace("?", "nan").split(",")
    place = lambda i: f"{name}, line {number}, channel dim_{channel}, value {i + 1}"  # noqa: E731
    try:
        return check_finite(np.array(values, dtype=np.float64), place)
    except ValueError as error:
        if isinstance(error, UserError):
            raise
        for i, value in enumerate(values):
            try:
                float(value)
            except ValueError:
                shown = text.split(",")[i].strip()
                raise UserError(
                    f"{name}, line {number}, channel dim_{channel}, value {i + 1}: "
                    f"{shown!r} is not a number; fix it, or write ? for a missing value"
                ) from None
        raise


def read_sequences(path: Path, options: Options) -> Sequences:
    ts = read_ts(path)
    notes: list[str] = []
    if ts.labels is None:
        options.absent(f"{path.name}: no labels (@classLabel false); give a labelled file")
        y = None
    elif ts.regression and not options.regression and options.require:
        raise UserError(
            f"{path.name}: @targetLabel true marks numeric targets (regression); read it "
            f"with regression=True (the regress task), or give a file with @classLabel"
        )
    else:
        y = options.targets(ts.labels, lambda i: f"line {ts.lines[i]}", path.name, notes)
    channels = [f"dim_{c}" for c in range(ts.x[0].shape[1])]
    ids = [str(i) for i in range(len(ts.x))]
    return Sequences(ts.x, y, ids, channels, path.name, notes)


FORMAT = Format(
    "ts", ".ts (UCR/UEA)", (".ts",), header="@problemName ... @data", sequences=read_sequences
)
