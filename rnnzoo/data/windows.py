"""Forecasting windows cut from concatenated series (``Series.values``, possibly a memory
map): what the ``forecast`` task trains on and what ``rnnzoo predict`` feeds a forecaster.
One vectorised gather per batch, so a window costs the same from memory or from a map."""

from __future__ import annotations

import numpy as np


def gather_windows(
    values: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    lookback: int,
    horizon: int,
    targets: int,
    future_covariates: bool,
) -> np.ndarray:
    """``(len(ends), lookback [+ horizon], channels)`` float32 inputs.

    Window ``i`` holds the ``lookback`` rows of ``values`` before ``ends[i]`` (exclusive),
    NaN where they would reach before its series' first row ``starts[i]``; with
    ``future_covariates`` the next ``horizon`` rows follow with their targets (the first
    ``targets`` channels) set to NaN: covariates are known in advance, targets are not.
    """
    ends = np.asarray(ends, np.int64)
    starts = np.asarray(starts, np.int64)
    rows = ends[:, None] + np.arange(-lookback, 0)
    before = rows < starts[:, None]
    x = np.asarray(values[np.where(before, starts[:, None], rows)], np.float32)
    x[before] = np.nan
    if future_covariates:
        future = np.asarray(values[ends[:, None] + np.arange(horizon)], np.float32)
        future[..., :targets] = np.nan
        x = np.concatenate([x, future], axis=1)
    return x


def gather_targets(values: np.ndarray, ends: np.ndarray, horizon: int, targets: int) -> np.ndarray:
    """``(len(ends), horizon * targets)``: the target values of the ``horizon`` rows from
    ``ends[i]`` on, horizon-major (every target of the first step, then the next step's)."""
    rows = np.asarray(ends, np.int64)[:, None] + np.arange(horizon)
    return np.asarray(values[rows][..., :targets], np.float32).reshape(len(rows), -1)
