"""``classify``: label a user's sequences — UCR/UEA ``.ts`` files, long-format CSV or
Parquet, ``.npz``, or a folder with one sub-folder per class (see :mod:`rnnzoo.tasks.labelled`
for the splits and the encoder). Class names come from the training data and go into the
model card; metrics are accuracy, balanced accuracy and macro-F1; the baseline always answers
the most frequent training class."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from rnnzoo.errors import UserError
from rnnzoo.tasks.base import Metric, Split, require
from rnnzoo.tasks.labelled import LabelledSequences


def class_scores(predicted: Tensor, target: Tensor, classes: int) -> dict[str, float]:
    """Accuracy, balanced accuracy (mean recall over the classes present) and macro-F1 of
    predicted class indices."""
    confusion = torch.zeros(classes, classes)
    confusion.index_put_((target, predicted), torch.ones(len(target)), accumulate=True)
    right = confusion.diagonal()
    actual, guessed = confusion.sum(1), confusion.sum(0)
    present = actual > 0
    recall = right / actual.clamp(min=1)
    precision = right / guessed.clamp(min=1)
    f1 = 2 * precision * recall / (precision + recall).clamp(min=1e-12)
    return {
        "accuracy": (right.sum() / len(target)).item(),
        "balanced_accuracy": recall[present].mean().item(),
        "macro_f1": f1[present | (guessed > 0)].mean().item(),
    }


class Classify(LabelledSequences):
    name = "classify"
    metrics = (
        Metric("accuracy", True),
        Metric("balanced_accuracy", True),
        Metric("macro_f1", True),
        Metric("loss", False),
    )

    def __init__(self, label_smoothing: float = 0.1, **kwargs: Any):
        super().__init__(**kwargs)
        require(0 <= label_smoothing < 1, "label_smoothing must be 0 to 1")
        self.label_smoothing = label_smoothing

    @functools.cached_property
    def _labels(self) -> list[str]:
        train = self._files["train"]
        names = sorted({str(v) for v in train.y}, key=natural_key)
        if len(names) < 2:
            raise UserError(
                f"{train.source}: every sequence has the label {names[0]!r}; a classifier "
                f"needs two classes or more (is --param target={self.target} the right column?)"
            )
        test = self._files["test"]
        unseen = sorted({str(v) for v in test.y} - set(names)) if test is not None else []
        if unseen:
            raise UserError(
                f"{test.source}: class(es) {', '.join(map(repr, unseen[:5]))} never seen in "
                f"training ({', '.join(map(repr, names[:10]))}); train on data with every class"
            )
        return names

    @property
    def labels(self) -> list[str]:  # type: ignore[override]
        return self._labels

    @property
    def output_size(self) -> int:  # type: ignore[override]
        return len(self._labels)

    def target_tensor(self, y: np.ndarray) -> Tensor:
        index = {name: i for i, name in enumerate(self._labels)}
        return torch.tensor([index[str(v)] for v in y], dtype=torch.long)

    def head(self, rnn_output_size: int) -> nn.Module:
        return nn.Sequential(nn.Dropout(self.dropout), nn.Linear(rnn_output_size, self.output_size))

    def loss(self, prediction: Tensor, target: Tensor) -> Tensor:
        return nn.functional.cross_entropy(prediction, target, label_smoothing=self.label_smoothing)

    def evaluate(self, prediction: Tensor, target: Tensor) -> dict[str, float]:
        scores = class_scores(prediction.argmax(-1), target, self.output_size)
        loss = nn.functional.cross_entropy(prediction, target).item()  # not smoothed
        return {**scores, "loss": loss}

    def baseline(self, train: Split, split: Split) -> dict[str, float]:
        """Always the most frequent class of the training labels."""
        majority = torch.bincount(train.y, minlength=self.output_size).argmax()
        guess = majority.expand(len(split.y))
        return class_scores(guess, split.y, self.output_size)


def natural_key(name: str) -> tuple:
    """'2' before '10', numbers before words: class names as people sort them."""
    try:
        return (0, float(name), "")
    except ValueError:
        return (1, 0.0, name)
