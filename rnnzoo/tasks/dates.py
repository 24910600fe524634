"""Dates written by people → ISO 8601 (encoder–decoder): "Monday 22nd of April 2019",
"04/22/2019", "22 Apr 2019" … → "2019-04-22". Generated with ``datetime``; the test split holds
dates that never occur in training. Character tokens on both sides.

``dates-seq2seq`` is the same data as a plain aligned sequence → sequence task for
comparison: the source characters one-hot, one per step, and the target's character ``t`` due
at step ``t``, when the RNN has read only the first ``t + 1`` source characters. The year comes
last in "04/22/2019" but first in "2019-04-22": a plain RNN must emit it before reading it,
which is why translation wants an encoder that reads everything before a decoder writes.
"""

from __future__ import annotations

import datetime

import numpy as np
import torch
from torch import nn

from rnnzoo import text
from rnnzoo.tasks.base import Split, TokenSequenceTask, pad_ids, require, split_generators

SOURCE_CHARS = " ,./-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
TARGET_CHARS = "-0123456789"


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

# Wednesday and September are the longest names, 27th the longest day
LONGEST_SOURCE = max(len(written(datetime.date(2000, 9, 27))) for written in FORMATS)


class Dates(TokenSequenceTask):
    smoke_params = {"n_train": 1000, "n_test": 200}
    defaults = {"hidden": 128, "epochs": 10, "batch_size": 64, "lr": 3e-3}
    preprocessing = "characters as token ids of source_vocab (0 pads), one per step"

    def __init__(self, n_train: int = 20000, n_test: int = 2000, seed: int = 42):
        super().__init__()
        require(min(n_train, n_test) >= 1, "n_train and n_test must be >= 1")
        self.n_train, self.n_test, self.seed = n_train, n_test, seed
        self.source_vocab = text.SPECIALS + list(SOURCE_CHARS)
        self.target_vocab = text.SPECIALS + list(TARGET_CHARS)
        self.source_tokens = "char"
        self.target_length = len("2019-04-22") + 1  # and the end token

    def written(self, days: np.ndarray, rng: np.random.Generator) -> tuple[list, list]:
        """Each day written in a random format, as source ids, and its ISO target ids."""
        first = datetime.date(1900, 1, 1)
        source_index = {c: i for i, c in enumerate(self.source_vocab)}
        target_index = {c: i for i, c in enumerate(self.target_vocab)}
        sources, targets = [], []
        for day in days:
            date = first + datetime.timedelta(days=int(day))
            written = FORMATS[rng.integers(len(FORMATS))](date)
            sources.append(text.to_ids(written, source_index))
            targets.append(text.to_ids(date.isoformat(), target_index) + [text.EOS])
        return sources, targets

    def split(self, days: np.ndarray, rng: np.random.Generator) -> Split:
        sources, targets = self.written(days, rng)
        x, lengths = pad_ids(sources)
        return Split(x, torch.tensor(targets), lengths)

    @classmethod
    def input_examples(cls) -> list[str]:
        """The date written in each format the task is trained on."""
        return [written(datetime.date(2019, 4, 22)) for written in FORMATS]

    def load(self) -> dict[str, Split]:
        span = (datetime.date(2099, 12, 31) - datetime.date(1900, 1, 1)).days
        # distinct dates: the test split's are never trained on; test and validation come
        # first, so that they do not move with n_train
        days = np.random.default_rng(self.seed).permutation(span)
        n_train, n_test = self.n_train, self.n_test
        require(n_train + 2 * n_test <= span, f"at most {span} distinct dates in all")
        rngs = split_generators(self.seed)
        return {
            "train": self.split(days[2 * n_test : 2 * n_test + n_train], rngs["train"]),
            "validation": self.split(days[n_test : 2 * n_test], rngs["validation"]),
            "test": self.split(days[:n_test], rngs["test"]),
        }


class DatesSeq2Seq(Dates):
    """The same dates as a plain aligned seq2seq task: one-hot source characters in, target
    character ``t`` due at output step ``t``."""

    kind = "seq2seq"
    preprocessing = (
        "characters one-hot over source_vocab, one per step, then all-zero steps up to "
        "the target's length; output step t scores target character t"
    )

    def __init__(self, n_train: int = 20000, n_test: int = 2000, seed: int = 42):
        super().__init__(n_train, n_test, seed)
        self.input_size = len(self.source_vocab)
        self.output_size = len(self.target_vocab)
        self.labels = self.target_vocab  # each step scores a target character

    def split(self, days: np.ndarray, rng: np.random.Generator) -> Split:
        sources, targets = self.written(days, rng)
        x, _ = pad_ids(sources)
        steps = max(LONGEST_SOURCE, self.target_length)  # the same for every split
        onehot = torch.zeros(len(x), steps, len(self.source_vocab))
        onehot[:, : x.shape[1]] = nn.functional.one_hot(x, len(self.source_vocab)).float()
        onehot[:, : x.shape[1], text.PAD] = 0  # padding steps are all zero
        y, _ = pad_ids(targets, steps)
        return Split(onehot, y)
