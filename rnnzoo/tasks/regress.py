"""``regress``: one number from each of a user's sequences (aeon's ``Covid3Month`` is one)
— the same files and splits as ``classify`` (:mod:`rnnzoo.tasks.labelled`) with a numeric
target. The head un-standardises with the training targets' mean and spread inside the graph,
so the model answers in the target's own units; the loss is the mean squared error of the
standardised values. Metrics RMSE and MAE; the baseline answers the training mean."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from rnnzoo.tasks.base import Metric, Split
from rnnzoo.tasks.labelled import LabelledSequences


class Unstandardise(nn.Module):
    """``y * std + mean``: the head's answer in the target's units."""

    def __init__(self, mean: float, std: float):
        super().__init__()
        self.register_buffer("mean", torch.tensor([mean], dtype=torch.float32))
        self.register_buffer("std", torch.tensor([std], dtype=torch.float32))

    def forward(self, y: Tensor) -> Tensor:
        return y * self.std + self.mean


class Regress(LabelledSequences):
    name = "regress"
    regression = True
    output_size = 1
    metrics = (Metric("rmse", False), Metric("mae", False))

    def target_tensor(self, y: np.ndarray) -> Tensor:
        return torch.tensor(np.asarray(y, np.float64), dtype=torch.float32).unsqueeze(1)

    def keys(self, y: np.ndarray) -> np.ndarray:
        """Quartiles, so that each split spans the range of the targets."""
        values = np.asarray(y, np.float64)
        return np.searchsorted(np.quantile(values, [0.25, 0.5, 0.75]), values)

    def _target_statistics(self) -> tuple[float, float]:
        y = np.asarray(self._cases["train"][1], np.float64)
        std = float(y.std())
        return float(y.mean()), std if std > 1e-12 else 1.0

    def head(self, rnn_output_size: int) -> nn.Module:
        return nn.Sequential(
            nn.Dropout(self.dropout),
            nn.Linear(rnn_output_size, 1),
            Unstandardise(*self._target_statistics()),
        )

    def loss(self, prediction: Tensor, target: Tensor) -> Tensor:
        _, std = self._target_statistics()
        return nn.functional.mse_loss(prediction / std, target / std)

    def evaluate(self, prediction: Tensor, target: Tensor) -> dict[str, float]:
        error = prediction - target
        return {"rmse": error.square().mean().sqrt().item(), "mae": error.abs().mean().item()}

    def baseline(self, train: Split, split: Split) -> dict[str, float]:
        """Always the mean of the training targets."""
        return self.evaluate(train.y.mean().expand_as(split.y), split.y)
