"""The order of the examples in an epoch: a shuffle that never lists the examples.

``torch.utils.data.DistributedSampler`` shuffles with ``torch.randperm(n)`` and keeps the list —
~40 bytes an example once it is a Python list, 3.4 GB for the 80 million windows of a big
series file. ``ShuffledShare`` gives the same kind of order (a permutation that depends only on
``(seed, epoch)``, every ``world``-th position from ``rank``, the share padded from the start so
all processes take the same number of steps) from a keyed Feistel network over the positions,
``chunk`` at a time: its memory does not grow with the data.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from torch.utils.data import Sampler

ROUNDS = 4


class ShuffledShare(Sampler[int]):
    """Process ``rank`` of ``world``'s share of a shuffled ``range(n)``, lazily."""

    def __init__(self, n: int, rank: int, world: int, seed: int, chunk: int = 1 << 16):
        self.n, self.rank, self.world, self.seed, self.chunk = n, rank, world, seed, chunk
        self.epoch = 0
        self.share = -(-n // world)
        self.half = (max(2, (n - 1).bit_length()) + 1) // 2  # bits of each Feistel half

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.share

    def __iter__(self) -> Iterator[int]:
        keys = np.random.default_rng([self.seed, self.epoch]).integers(
            0, 2**63, ROUNDS, dtype=np.uint64
        )
        for start in range(0, self.share, self.chunk):
            steps = np.arange(start, min(self.share, start + self.chunk), dtype=np.uint64)
            positions = (steps * np.uint64(self.world) + np.uint64(self.rank)) % np.uint64(self.n)
            yield from self.permute(positions, keys).astype(np.int64).tolist()

    def permute(self, x: np.ndarray, keys: np.ndarray) -> np.ndarray:
        """A bijection of ``range(n)``: the Feistel network permutes ``range(4**half)``; a value
        that lands past ``n`` goes through it again until it does not (cycle walking)."""
        x = self.feistel(x, keys)
        out = x >= np.uint64(self.n)
        while out.any():
            x[out] = self.feistel(x[out], keys)
            out = x >= np.uint64(self.n)
        return x

    def feistel(self, x: np.ndarray, keys: np.ndarray) -> np.ndarray:
        half, mask = np.uint64(self.half), np.uint64((1 << self.half) - 1)
        left, right = x >> half, x & mask
        with np.errstate(over="ignore"):  # the round function mixes modulo 2**64
            for key in keys:
                z = (right ^ key) * np.uint64(0x9E3779B97F4A7C15)
                z ^= z >> np.uint64(29)
                z *= np.uint64(0xBF58476D1CE4E5B9)
                z ^= z >> np.uint64(32)
                left, right = right, left ^ (z & mask)
        return (left << half) | right
