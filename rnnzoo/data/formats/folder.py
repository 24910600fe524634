"""A folder of sequences, one file each (``.npy`` or ``.csv``), in one sub-folder per class
(the sub-folder's name is the label); files directly in the folder are unlabelled."""

from __future__ import annotations

from pathlib import Path

from rnnzoo.data.formats import csv, npy
from rnnzoo.data.formats.base import Format
from rnnzoo.data.sequences import Options, Sequences
from rnnzoo.data.table import natural_key
from rnnzoo.errors import UserError

# a file's reader by its extension: each format's own (a .txt in a class folder is no data)
ONE_FILE = {f.suffixes[0]: f.one_sequence for f in (npy.FORMAT, csv.FORMAT)}


def read_sequences(path: Path, options: Options) -> Sequences:
    """The files of ``ONE_FILE``'s formats (``.npy``: (T,) or (T, C); ``.csv``: a row per
    step, a column per channel, an optional header) in one sub-folder per class; a file's id
    is its path in the folder. Files directly in the folder are unlabelled: what ``predict``
    reads."""
    found = [
        f.relative_to(path) for f in path.rglob("*") if f.suffix.lower() in ONE_FILE and f.is_file()
    ]
    files = sorted(
        (f for f in found if not any(part.startswith(".") for part in f.parts)),
        key=lambda f: natural_key(f.as_posix()),
    )
    if not files:
        raise UserError(
            f"{path.name}: no .npy or .csv files; put each class's files in a sub-folder "
            f"named after the class"
        )
    x, channels = [], None
    for file in files:
        sequence, names = ONE_FILE[file.suffix.lower()](path / file)
        if channels is None:
            channels, first = names, file
        elif names != channels:
            raise UserError(
                f"{path.name}: {file.as_posix()} has channels {', '.join(names)}, but "
                f"{first.as_posix()} has {', '.join(channels)}; give every file the same channels"
            )
        x.append(sequence)
    ids = [f.as_posix() for f in files]
    labelled = [len(f.parts) > 1 for f in files]
    notes: list[str] = []
    y = None
    if not any(labelled):
        options.absent(
            f"{path.name}: no class sub-folders; put each class's files in a sub-folder "
            f"named after the class"
        )
    elif not all(labelled):
        raise UserError(
            f"{path.name}: {ids[labelled.index(False)]} is not in a class sub-folder; move it "
            f"into one (the sub-folder's name is the label)"
        )
    else:
        y = options.targets([f.parts[0] for f in files], lambda i: ids[i], path.name, notes)
    return Sequences(x, y, ids, channels or [], path.name, notes)


FORMAT = Format(
    "folder", "folder with one sub-folder per class", is_file=False, sequences=read_sequences
)
