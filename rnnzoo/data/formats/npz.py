"""NumPy's ``.npz`` archive of labelled sequences: ``x`` and ``y``, optionally ``lengths``,
``ids`` and ``channels``; read without pickles."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from rnnzoo.data.formats.base import Format
from rnnzoo.data.rules import check_finite, position
from rnnzoo.data.sequences import Options, Sequences
from rnnzoo.errors import UserError


def read_sequences(path: Path, options: Options) -> Sequences:
    """Arrays ``x`` ((n, T) or (n, T, C)), ``y`` ((n,)) and, optionally, ``lengths`` (the
    valid steps of each sequence), ``ids`` and ``channels``."""
    name = path.name
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except ValueError as error:  # object arrays: would need pickle
        raise UserError(
            f"{name}: {error}; save text (ids, labels, channels) as str arrays, e.g. "
            f"np.array(ids, dtype=str)"
        ) from None
    except (OSError, EOFError, zipfile.BadZipFile) as error:
        raise UserError(
            f"{name}: not a readable .npz archive ({error}); save it with np.savez"
        ) from None
    if "x" not in arrays:
        raise UserError(
            f"{name}: no array 'x' (arrays: {', '.join(arrays) or 'none'}); save the inputs "
            f"as x=..."
        )
    x = arrays["x"]
    if x.dtype.kind not in "biuf" or x.ndim not in (2, 3) or 0 in x.shape:
        raise UserError(
            f"{name}: x is {x.dtype} of shape {x.shape}; save numbers of shape (n, T) or "
            f"(n, T, channels)"
        )
    x = check_finite(x, lambda i: f"{name}: x{position(i, x.shape)}")
    x = (x[..., None] if x.ndim == 2 else x).astype(np.float32)
    n, steps, channels = x.shape

    def vector(key: str) -> np.ndarray | None:
        value = arrays.get(key)
        expected = channels if key == "channels" else n
        if value is not None and value.shape != (expected,):
            raise UserError(
                f"{name}: {key} has shape {value.shape}, but x {x.shape} needs ({expected},); "
                f"save one per {'channel' if key == 'channels' else 'sequence'}"
            )
        return value

    lengths, ids, names, labels = (vector(k) for k in ("lengths", "ids", "channels", "y"))
    if lengths is None:
        sequences = list(x)
    else:
        valid = (lengths.dtype.kind in "iu") & (lengths >= 1) & (lengths <= steps)
        bad = np.flatnonzero(~valid)
        if len(bad):
            raise UserError(
                f"{name}: lengths[{int(bad[0])}] is {lengths[bad[0]].item()!r}; each length "
                f"must be a whole number from 1 to {steps} (the steps in x)"
            )
        sequences = [seq[:length] for seq, length in zip(x, lengths)]
    notes: list[str] = []
    if labels is None:
        options.absent(f"{name}: no array 'y' of labels; save them as y=...")
        y = None
    else:
        y = options.targets(labels.tolist(), lambda i: f"y[{i}]", name, notes)
    return Sequences(
        sequences,
        y,
        [str(i) for i in ids] if ids is not None else [str(i) for i in range(n)],
        [str(c) for c in names] if names is not None else [f"dim_{c}" for c in range(channels)],
        name,
        notes,
    )


FORMAT = Format("npz", ".npz", (".npz",), b"PK\x03\x04", sequences=read_sequences)
