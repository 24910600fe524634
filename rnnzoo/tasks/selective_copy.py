"""Selective copying (Gu & Dao, "Mamba: Linear-Time Sequence Modeling with Selective State
Spaces", 2023, section 3.1 and figure 2; results in section 4.1.1): ``tokens`` data tokens lie
at random positions among ``length`` steps of noise (a blank token); then come ``tokens``
marker steps, and at the k-th marker the model must output the k-th data token — seq2seq,
fixed length.

What it measures: content-dependent memory. The data tokens' positions vary from sequence to
sequence, so a model cannot learn where to look (as the plain copying task lets a fixed
convolution or a time-invariant SSM do); it must decide from each input whether to write it
into its state or ignore it, and keep ``tokens`` symbols in order over up to ``length``
steps. ``accuracy`` is per answer token (chance: 1 / ``vocab``), ``exact_match`` the share
of sequences with every answer right.

Inputs are one-hot over the ``vocab`` data symbols, then the blank, then the marker. Targets
are the data symbol's index at the answer steps and ``IGNORE`` (-100) at every other step,
where the prediction is not scored.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from rnnzoo.tasks.base import Metric, Split, Task, require, split_generators

IGNORE = -100  # a target that is not scored (cross-entropy's ignore_index)


class AnswerStepsTask(Task):
    """Shared parts of seq2seq tasks scored at some steps only (the answers) — a class at
    each answer step, ``IGNORE`` elsewhere: cross-entropy, per-answer accuracy, exact match,
    and the most frequent training answer at each step as the baseline."""

    kind = "seq2seq"
    metrics = (Metric("accuracy", True), Metric("exact_match", True), Metric("loss", False))

    def loss(self, prediction: Tensor, target: Tensor) -> Tensor:
        return nn.functional.cross_entropy(
            prediction.flatten(0, 1), target.flatten(), ignore_index=IGNORE
        )

    def evaluate(self, prediction: Tensor, target: Tensor) -> dict[str, float]:
        return {
            **self.score(prediction.argmax(-1), target),
            "loss": self.loss(prediction, target).item(),
        }

    def score(self, answers: Tensor, target: Tensor) -> dict[str, float]:
        scored = target != IGNORE
        right = (answers == target) & scored
        return {
            "accuracy": (right.sum() / scored.sum()).item(),
            "exact_match": (right | ~scored).all(1).float().mean().item(),
        }

    def baseline(self, train: Split, split: Split) -> dict[str, float]:
        """The most frequent answer of the training targets at each answer step."""
        scored = (train.y != IGNORE).unsqueeze(-1)
        counts = (nn.functional.one_hot(train.y.clamp(min=0), self.output_size) * scored).sum(0)
        guess = counts.argmax(-1).expand(len(split.y), -1)
        return self.score(guess, split.y)


def one_hot(ids: np.ndarray, size: int) -> Tensor:
    """``(n, steps)`` token ids as ``(n, steps, size)`` float one-hot codes."""
    return nn.functional.one_hot(torch.from_numpy(ids).long(), size).float()


class SelectiveCopy(AnswerStepsTask):
    # one token among three steps: still at a random position, learnt in a few steps
    smoke_params = {"length": 3, "tokens": 1, "vocab": 3, "n_train": 512, "n_test": 64}
    defaults = {"hidden": 128, "epochs": 20, "batch_size": 64, "lr": 3e-3}

    def __init__(
        self,
        length: int = 64,
        tokens: int = 8,
        vocab: int = 8,
        n_train: int = 10000,
        n_test: int = 1000,
        seed: int = 42,
    ):
        super().__init__()
        self.length, self.tokens, self.vocab = length, tokens, vocab
        self.n_train, self.n_test, self.seed = n_train, n_test, seed
        require(tokens >= 1, "tokens must be >= 1")
        require(length >= tokens, "length must be at least tokens (the data tokens lie in it)")
        require(length + tokens <= 100_000, "length + tokens must be at most 100,000 steps")
        require(2 <= vocab <= 1000, "vocab must be between 2 and 1000")
        require(min(n_train, n_test) >= 1, "n_train and n_test must be >= 1")
        self.blank, self.marker = vocab, vocab + 1
        self.input_size, self.output_size = vocab + 2, vocab
        self.labels = [str(i) for i in range(vocab)]
        self.preprocessing = (
            f"one token per step, one-hot over the {vocab} data symbols, then the blank "
            f"(index {self.blank}), then the marker (index {self.marker}); {length} steps "
            f"holding {tokens} data tokens among blanks, then {tokens} markers; output step "
            f"{length} + k answers the k-th data token"
        )

    def split(self, rng: np.random.Generator, n: int) -> Split:
        data = rng.integers(0, self.vocab, (n, self.tokens))
        # the data tokens' positions: a sorted random choice of `tokens` of `length` steps
        positions = np.sort(rng.random((n, self.length)).argsort(1)[:, : self.tokens], 1)
        ids = np.full((n, self.length + self.tokens), self.blank)
        ids[np.arange(n)[:, None], positions] = data
        ids[:, self.length :] = self.marker
        y = np.full(ids.shape, IGNORE)
        y[:, self.length :] = data
        return Split(one_hot(ids, self.input_size), torch.from_numpy(y.astype(np.int64)))

    def load(self) -> dict[str, Split]:
        rngs = split_generators(self.seed)
        return {
            "train": self.split(rngs["train"], self.n_train),
            "validation": self.split(rngs["validation"], self.n_test),
            "test": self.split(rngs["test"], self.n_test),
        }
