"""Sequences of different lengths as one padded array: what a training split and a batch for
``rnnzoo predict`` are made of."""

from __future__ import annotations

import numpy as np


def pad_sequences(
    sequences: list[np.ndarray], channels: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """``(n, longest, channels)`` float32 with zeros after each sequence's end, and the
    lengths — None when every sequence has the same length (the faster unmasked path)."""
    lengths = np.array([len(s) for s in sequences], np.int64)
    x = np.zeros((len(sequences), int(lengths.max()), channels), np.float32)
    for row, seq in enumerate(sequences):
        x[row, : len(seq)] = seq
    return x, None if (lengths == lengths[0]).all() else lengths
