"""The embedded Reber grammar (the chapter's exercise, solved in its companion notebook):
tell valid strings from near misses — a valid string with one symbol changed — read one
symbol per step, one-hot over "BEPSTVX". About half of each; lengths vary (seq2vec).

The embedded grammar wraps a Reber string as B·T·…·T·E or B·P·…·P·E, so a model must carry
the second symbol across the whole string to check the second to last.
"""

from __future__ import annotations

import numpy as np
import torch

from rnnzoo.tasks.base import ClassificationTask, Split, require, split_generators

SYMBOLS = "BEPSTVX"
# state → [(symbol, next state)]; None ends the string
REBER = {
    0: [("B", 1)],
    1: [("T", 2), ("P", 3)],
    2: [("S", 2), ("X", 4)],
    3: [("T", 3), ("V", 5)],
    4: [("X", 3), ("S", 6)],
    5: [("P", 4), ("V", 6)],
    6: [("E", None)],
}


def reber_string(rng: np.random.Generator) -> str:
    state, out = 0, []
    while state is not None:
        symbol, state = REBER[state][rng.integers(len(REBER[state]))]
        out.append(symbol)
    return "".join(out)


def embedded_reber_string(rng: np.random.Generator) -> str:
    wrap = "TP"[rng.integers(2)]
    return "B" + wrap + reber_string(rng) + wrap + "E"


def is_reber(string: str) -> bool:
    state = 0
    for symbol in string:
        if state is None:
            return False
        moves = dict(REBER[state])
        if symbol not in moves:
            return False
        state = moves[symbol]
    return state is None


def is_embedded_reber(string: str) -> bool:
    return (
        len(string) >= 4
        and string[0] == "B"
        and string[-1] == "E"
        and string[1] in "TP"
        and string[-2] == string[1]
        and is_reber(string[2:-2])
    )


def near_miss(rng: np.random.Generator) -> str:
    """A valid string with one symbol changed, checked to be invalid."""
    while True:
        good = embedded_reber_string(rng)
        i = rng.integers(len(good))
        bad = good[:i] + rng.choice([s for s in SYMBOLS if s != good[i]]) + good[i + 1 :]
        if not is_embedded_reber(bad):
            return bad


def one_hot(strings: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """``(n, longest, 7)`` one-hot codes, zero-padded, and each string's length."""
    lengths = torch.tensor([len(s) for s in strings])
    x = torch.zeros(len(strings), int(lengths.max()), len(SYMBOLS))
    for row, string in enumerate(strings):
        x[row, torch.arange(len(string)), torch.tensor([SYMBOLS.index(c) for c in string])] = 1
    return x, lengths


class Reber(ClassificationTask):
    smoke_params = {"n_train": 512, "n_test": 128}
    defaults = {"hidden": 30, "epochs": 20, "batch_size": 32, "lr": 3e-3}

    def __init__(self, n_train: int = 10000, n_test: int = 2000, seed: int = 42):
        super().__init__()
        self.n_train, self.n_test, self.seed = n_train, n_test, seed
        self.input_size, self.output_size = len(SYMBOLS), 2
        self.labels = ["invalid", "valid"]
        require(min(n_train, n_test) >= 1, "n_train and n_test must be >= 1")
        self.preprocessing = f"one symbol per step, one-hot over {SYMBOLS!r} in that order"

    def split(self, n: int, rng: np.random.Generator) -> Split:
        valid = rng.random(n) < 0.5
        strings = [embedded_reber_string(rng) if v else near_miss(rng) for v in valid]
        x, lengths = one_hot(strings)
        return Split(x, torch.from_numpy(valid.astype(np.int64)), lengths)

    def load(self) -> dict[str, Split]:
        rngs = split_generators(self.seed)
        return {
            "train": self.split(self.n_train, rngs["train"]),
            "validation": self.split(self.n_test, rngs["validation"]),
            "test": self.split(self.n_test, rngs["test"]),
        }
