"""NumPy's ``.npy`` array: one sequence ((T,) or (T, channels)) in a class folder, or
``predict``'s inputs; read without pickles, its header checked before anything is allocated."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rnnzoo.data.formats.base import Format
from rnnzoo.data.rules import check_finite, position
from rnnzoo.errors import UserError


def read_array(path: Path) -> np.ndarray:
    """The array in ``path``, its header checked against the file's size first (a header
    claiming a huge shape must not allocate it); object arrays are refused unread."""
    fix = f"{path.name}: not a readable .npy array"
    try:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            read_header = (
                np.lib.format.read_array_header_1_0
                if version == (1, 0)
                else np.lib.format.read_array_header_2_0
            )
            shape, _, dtype = read_header(f)
            start = f.tell()
        if dtype.hasobject:
            raise UserError(f"{fix}: it holds Python objects; save numbers (allow_pickle is off)")
        needed = int(np.prod(shape, dtype=object)) * dtype.itemsize
        available = path.stat().st_size - start
        if needed > available:
            raise UserError(
                f"{fix}: its header claims shape {shape} of {dtype} ({needed} bytes), but the "
                f"file holds {available}; save it again with np.save"
            )
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        if isinstance(error, UserError):
            raise
        raise UserError(f"{fix} ({error}); save it with np.save") from None


def read_sequence(path: Path) -> tuple[np.ndarray, list[str]]:
    """One sequence, ``(T,)`` or ``(T, channels)`` numbers, and its channels' names."""
    array = read_array(path)
    if array.dtype.kind not in "biuf" or array.ndim not in (1, 2) or 0 in array.shape:
        raise UserError(
            f"{path.name}: {array.dtype} of shape {array.shape}; save numbers of shape (T,) "
            f"or (T, channels)"
        )
    array = check_finite(array, lambda i: f"{path.name}: value {position(i, array.shape)}")
    array = (array[:, None] if array.ndim == 1 else array).astype(np.float32)
    return array, [f"dim_{c}" for c in range(array.shape[1])]


FORMAT = Format("npy", ".npy", (".npy",), b"\x93NUMPY", one_sequence=read_sequence)
