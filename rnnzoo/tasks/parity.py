"""Parity with length generalisation: read a string of bits, one per step, and say whether
it holds an even or odd number of ones (their XOR) — seq2vec, variable lengths.

What it measures: state tracking. The answer is a one-bit state flipped by every 1, so a
model either keeps that state exactly over any number of steps or it does not: it trains
and is validated on strings of 1 to ``train_length`` bits (40 by default) and is tested on
strings of 256 and of 1,024 bits, far longer than any it saw (``accuracy_256``,
``accuracy_1024``; ``accuracy`` is every string of the split together). Chance is 0.5.

The protocol is that of Delétang et al., "Neural Networks and the Chomsky Hierarchy"
(ICLR 2023; parity, train on lengths up to 40, test far longer) and Grazzi et al.,
"Unlocking State-Tracking in Linear RNNs Through Negative Eigenvalues" (ICLR 2025; train on
3–40 bits, test on up to 256): classic nonlinear RNNs (LSTM, GRU) can solve it and
generalise, while linear recurrences whose transitions have only non-negative eigenvalues
(Mamba, DeltaNet as first published) cannot represent parity at all (Grazzi et al.; on state
tracking more generally, Merrill et al., "The Illusion of State in State-Space Models", ICML
2024). Padded test steps are masked by ``lengths``.

Targets are ``(n, 2)``: the parity, then the string's length, so that ``evaluate`` can
score each test length (the loss reads the first column only).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from rnnzoo.tasks.base import ClassificationTask, Metric, Split, require, split_generators

SYMBOLS = "01"
TEST_LENGTHS = (256, 1024)


def bit_strings(
    rng: np.random.Generator, n: int, low: int, high: int, steps: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` random bit strings of ``low``..``high`` bits (uniform) padded with zeros to
    ``steps``, their lengths, and their parities."""
    lengths = rng.integers(low, high + 1, n)
    bits = rng.integers(0, 2, (n, steps))
    bits[np.arange(steps) >= lengths[:, None]] = 0
    return bits, lengths, bits.sum(1) % 2


def one_hot(bits: np.ndarray, lengths: np.ndarray) -> Tensor:
    """``(n, steps, 2)`` one-hot codes of the bits over ``"01"``; padded steps all zero."""
    x = nn.functional.one_hot(torch.from_numpy(bits).long(), 2).float()
    valid = torch.arange(bits.shape[1]) < torch.from_numpy(lengths)[:, None]
    return x * valid[..., None]


class Parity(ClassificationTask):
    metrics = (
        Metric("accuracy", True),
        Metric("accuracy_256", True),
        Metric("accuracy_1024", True),
        Metric("loss", False),
    )
    # strings of one or two bits; seed 3's first batch holds about as many of each, which
    # every built-in cell fits within the smoke test's few steps
    smoke_params = {"train_length": 2, "n_train": 512, "n_test": 32, "seed": 3}
    defaults = {"hidden": 64, "epochs": 10, "batch_size": 64, "lr": 3e-3}

    def __init__(
        self,
        train_length: int = 40,
        n_train: int = 10000,
        n_validation: int = 1000,
        n_test: int = 250,
        seed: int = 42,
    ):
        super().__init__()
        self.train_length, self.n_train, self.seed = train_length, n_train, seed
        self.n_validation, self.n_test = n_validation, n_test
        require(2 <= train_length <= 1024, "train_length must be between 2 and 1024")
        require(
            min(n_train, n_validation, n_test) >= 1, "n_train, n_validation and n_test must be >= 1"
        )
        self.input_size, self.output_size = len(SYMBOLS), 2
        self.labels = ["even", "odd"]
        self.preprocessing = (
            "one bit per step, one-hot over '01' in that order; answers whether the number "
            "of ones is even or odd"
        )

    def split(self, rng: np.random.Generator, n: int, low: int, high: int, steps: int) -> Split:
        bits, lengths, parity = bit_strings(rng, n, low, high, steps)
        y = torch.from_numpy(np.stack([parity, lengths], 1).astype(np.int64))
        return Split(one_hot(bits, lengths), y, torch.from_numpy(lengths.astype(np.int64)))

    def load(self) -> dict[str, Split]:
        rngs = split_generators(self.seed)
        train_length = self.train_length
        train = self.split(rngs["train"], self.n_train, 1, train_length, train_length)
        validation = self.split(
            rngs["validation"], self.n_validation, 1, train_length, train_length
        )
        # the test lengths, n_test strings of each, interleaved (so that a prefix of the
        # split holds both) and padded to the longest
        longest = max(TEST_LENGTHS)
        parts = [self.split(rngs["test"], self.n_test, n, n, longest) for n in TEST_LENGTHS]
        test = Split(
            *(torch.stack([p.tensors()[i] for p in parts], 1).flatten(0, 1) for i in range(3))
        )
        return {"train": train, "validation": validation, "test": test}

    def loss(self, prediction: Tensor, target: Tensor) -> Tensor:
        return nn.functional.cross_entropy(prediction, target[:, 0])

    def evaluate(self, prediction: Tensor, target: Tensor) -> dict[str, float]:
        """Accuracy over the split, and at each test length the split holds."""
        right = (prediction.argmax(-1) == target[:, 0]).float()
        metrics = {"accuracy": right.mean().item()}
        for length in TEST_LENGTHS:
            at = target[:, 1] == length
            if at.any():
                metrics[f"accuracy_{length}"] = right[at].mean().item()
        metrics["loss"] = self.loss(prediction, target).item()
        return metrics

    def baseline(self, train: Split, split: Split) -> dict[str, float]:
        """Always predict the most frequent parity of the training strings."""
        majority = torch.bincount(train.y[:, 0], minlength=2).argmax()
        guess = nn.functional.one_hot(majority.expand(len(split.y)), 2).float()
        metrics = self.evaluate(guess, split.y)
        del metrics["loss"]
        return metrics
