"""Reading model inputs from files, and checking arrays against a model's step shape."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from rnnzoo.data.formats import csv, npy
from rnnzoo.errors import RuntimeInputError, UserError
from rnnzoo.files import parse_json


def check_array(
    x: Any,
    step: tuple[int, ...],
    sequence: bool = True,
    name: str = "input",
    hint: str = "",
    missing_values: bool = False,
) -> np.ndarray:
    """``x`` as float32 ``(batch, time, *step)`` (``(batch, *step)`` when not a sequence: one
    step of a stream, or one input of a vec2seq model); a missing batch axis is added.

    NaN or infinite values are refused — a graph would turn them into plausible-looking
    numbers — unless ``missing_values`` (the model card's ``missing_values``): then NaN marks
    a missing value, which the model's own graph handles."""
    try:
        x = np.asarray(x)
    except (ValueError, TypeError) as error:  # ragged nested lists and the like
        raise RuntimeInputError(f"{name}: not an array of numbers ({error})") from None
    if not np.issubdtype(x.dtype, np.floating):
        raise RuntimeInputError(
            f"{name}: expected floating-point values, got {x.dtype}"
            + (f" ({hint})" if hint else "")
        )
    rank = len(step) + (2 if sequence else 1)
    if x.ndim == rank - 1:
        x = x[None]
    layout = "(batch, time, " if sequence else "(batch, "
    if x.ndim != rank:
        raise RuntimeInputError(
            f"{name}: expected {layout}{', '.join(map(str, step))}) or "
            f"without the batch axis, got shape {x.shape}"
        )
    if x.shape[rank - len(step) :] != step:
        what = f"{step[0]} features per step" if len(step) == 1 else f"steps of shape {step}"
        got = x.shape[-1] if len(step) == 1 else x.shape[rank - len(step) :]
        raise RuntimeInputError(f"{name}: this model takes {what}, got {got}")
    if x.shape[0] == 0:
        raise RuntimeInputError(f"{name}: the batch is empty")
    if sequence and x.shape[1] == 0:
        raise RuntimeInputError(f"{name}: sequences need at least one step")
    with np.errstate(over="ignore"):
        x = np.ascontiguousarray(x, dtype=np.float32)  # a float64 beyond float32 becomes inf
    bad = np.isinf(x) if missing_values else ~np.isfinite(x)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        allowed = (
            "NaN marks a missing value; infinity is not a value"
            if missing_values
            else ("this model takes finite numbers only (its card does not declare missing values)")
        )
        raise RuntimeInputError(
            f"{name}: {int(bad.sum())} value(s) are NaN or infinite or beyond float32, the first "
            f"at index {where}; {allowed}"
        )
    return x


def load_input(path: str | Path) -> tuple[np.ndarray, np.ndarray | None]:
    """Read model input from ``.npy``, ``.csv`` (one sequence: a row per step, a column per
    feature) or ``.json`` (a nested list, or ``{"input": ..., "lengths": ...}``; null for a
    missing value)."""
    path = Path(path)
    if not path.is_file():
        raise RuntimeInputError(f"{path}: no such file")
    suffix = path.suffix.lower()
    try:
        with np.errstate(over="ignore"):  # a value beyond float32 becomes inf, refused later
            return _read(path, suffix)
    except RuntimeInputError:
        raise
    except RecursionError:
        raise RuntimeInputError(f"{path}: nested too deeply to be an array") from None
    except (ValueError, KeyError, TypeError, OSError, EOFError, OverflowError) as error:
        detail = str(error)[:200] or type(error).__name__
        raise RuntimeInputError(f"{path}: cannot read it as {suffix[1:]} ({detail})") from None


def _read(path: Path, suffix: str) -> tuple[np.ndarray, np.ndarray | None]:
    try:  # the data readers' own, and their rules (encoding, missing and finite values)
        if suffix == ".npy":
            return npy.read_array(path), None
        if suffix == ".csv":
            return csv.read_sequence(path)[0], None
    except UserError as error:
        raise RuntimeInputError(str(error)) from None
    if suffix == ".json":
        data = parse_json(path.read_text())
        if isinstance(data, dict):
            lengths = data.get("lengths")
            return (
                np.asarray(data["input"], np.float32),
                None if lengths is None else np.asarray(lengths),
            )
        return np.asarray(data, np.float32), None
    raise RuntimeInputError(f"{path}: unknown input format {suffix!r}; use .npy, .csv or .json")


def load_texts(path: str | Path) -> list[str]:
    """Source texts for an encoder–decoder model: a JSON list of strings, or one per line."""
    path = Path(path)
    if not path.is_file():
        raise RuntimeInputError(f"{path}: no such file")
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise RuntimeInputError(f"{path}: cannot read it ({error})") from None
    if path.suffix.lower() == ".json":
        try:
            data = parse_json(text)
        except ValueError as error:
            raise RuntimeInputError(f"{path}: not valid JSON ({error})") from None
        if not isinstance(data, list) or not all(isinstance(t, str) for t in data):
            raise RuntimeInputError(f"{path}: expected a JSON list of strings")
        return data
    return [line for line in text.splitlines() if line.strip()]
