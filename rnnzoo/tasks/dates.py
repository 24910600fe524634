"""Dates written by people → ISO 8601 (encoder–decoder): "Monday 22nd of April 2019",
"04/22/2019", "22 Apr 2019" … → "2019-04-22". Generated with ``datetime``; the test split holds
dates that never occur in training. Character tokens on both sides.
"""

from __future__ import annotations

import datetime

import numpy as np
import torch
from torch import Tensor, nn

from rnnzoo.tasks.base import Metric, Split, Task, require

PAD, BOS, EOS = 0, 1, 2
SOURCE_CHARS = " ,./-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
TARGET_CHARS = "-0123456789"
SPECIALS = ["<pad>", "<bos>", "<eos>"]


def ordinal(day: int) -> str:
    suffix = "th" if 11 <= day % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


FORMATS = [
    lambda d: d.strftime("%B %d, %Y").replace(" 0", " "),  # April 22, 2019
    lambda d: d.strftime("%d %b %Y"),  # 22 Apr 2019
    lambda d: f"{d.strftime('%A')} {ordinal(d.day)} of {d.strftime('%B %Y')}",
    lambda d: d.strftime("%m/%d/%Y"),  # 04/22/2019
    lambda d: d.strftime("%d.%m.%Y"),  # 22.04.2019
    lambda d: d.strftime("%b %d %Y"),  # Apr 22 2019
    lambda d: f"{ordinal(d.day)} {d.strftime('%B %Y')}",  # 22nd April 2019
    lambda d: d.strftime("%A, %B %d, %Y"),  # Monday, April 22, 2019
    lambda d: d.strftime("%Y/%m/%d"),  # 2019/04/22
    lambda d: d.strftime("%d %B %Y").lower(),  # 22 april 2019
]


def encode(text: str, chars: str) -> list[int]:
    return [len(SPECIALS) + chars.index(c) for c in text]


class Dates(Task):
    kind = "encdec"
    metrics = (Metric("exact_match", True), Metric("token_accuracy", True))
    smoke_params = {"n_train": 1000, "n_test": 200}
    defaults = {"hidden": 128, "epochs": 10, "batch_size": 64, "lr": 3e-3}

    def __init__(self, n_train: int = 20000, n_test: int = 2000, seed: int = 42):
        super().__init__()
        require(min(n_train, n_test) >= 1, "n_train and n_test must be >= 1")
        self.n_train, self.n_test, self.seed = n_train, n_test, seed
        self.source_vocab = SPECIALS + list(SOURCE_CHARS)
        self.target_vocab = SPECIALS + list(TARGET_CHARS)
        self.target_length = len("2019-04-22") + 1  # and the end token
        self.input_size = self.output_size = len(self.target_vocab)
        self.preprocessing = "characters as token ids of source_vocab (0 pads), one per step"

    def split(self, days: np.ndarray, rng: np.random.Generator) -> Split:
        first = datetime.date(1900, 1, 1)
        sources, targets = [], []
        for day in days:
            date = first + datetime.timedelta(days=int(day))
            text = FORMATS[rng.integers(len(FORMATS))](date)
            sources.append(encode(text, SOURCE_CHARS))
            targets.append(encode(date.isoformat(), TARGET_CHARS) + [EOS])
        lengths = torch.tensor([len(s) for s in sources])
        x = torch.zeros(len(sources), int(lengths.max()), dtype=torch.long)
        for row, tokens in enumerate(sources):
            x[row, : len(tokens)] = torch.tensor(tokens)
        return Split(x, torch.tensor(targets), lengths)

    def load(self) -> dict[str, Split]:
        rng = np.random.default_rng(self.seed)
        span = (datetime.date(2099, 12, 31) - datetime.date(1900, 1, 1)).days
        days = rng.permutation(span)  # distinct dates: the test split's are never trained on
        n_train, n_test = self.n_train, self.n_test
        require(n_train + 2 * n_test <= span, f"at most {span} distinct dates in all")
        return {
            "train": self.split(days[:n_train], rng),
            "validation": self.split(days[n_train : n_train + n_test], rng),
            "test": self.split(days[n_train + n_test : n_train + 2 * n_test], rng),
        }

    def loss(self, prediction: Tensor, target: Tensor) -> Tensor:
        return nn.functional.cross_entropy(prediction.flatten(0, 1), target.flatten())

    def evaluate(self, prediction: Tensor, target: Tensor) -> dict[str, float]:
        tokens = prediction.argmax(-1)
        correct = tokens == target
        return {
            "exact_match": correct.all(1).float().mean().item(),
            "token_accuracy": correct.float().mean().item(),
            "loss": self.loss(prediction, target).item(),
        }

    def baseline(self, train: Split, split: Split) -> dict[str, float]:
        """The most frequent token of the training targets at each position."""
        counts = torch.nn.functional.one_hot(train.y, len(self.target_vocab)).sum(0)
        guess = counts.argmax(-1).expand(len(split.y), -1)
        correct = guess == split.y
        return {
            "exact_match": correct.all(1).float().mean().item(),
            "token_accuracy": correct.float().mean().item(),
        }
