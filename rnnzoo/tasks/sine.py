"""The textbook's time series: forecast ``t·sin(t)/3 + 2·sin(5t)`` one step ahead.

Windows of ``n_steps`` consecutive samples (spacing ``resolution``) start at random times in
``[0, t_max)``; the target is the same window shifted one step ahead (seq2seq). The first
predicted step has seen a single value and cannot know the slope, so the MSE over all steps has
a floor near 0.036; ``mse_from_step3`` shows how well the rest is learned.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from rnnzoo.tasks.base import Metric, Split, Task, require, split_generators


def series(t: np.ndarray) -> np.ndarray:
    return t * np.sin(t) / 3 + 2 * np.sin(5 * t)


class Sine(Task):
    kind = "seq2seq"
    metrics = (Metric("mse", False), Metric("mse_from_step3", False))
    smoke_params = {"n_train": 256, "n_test": 64}
    defaults = {"hidden": 100, "batch_size": 50, "epochs": 20, "lr": 1e-3}

    def __init__(
        self,
        n_steps: int = 20,
        n_train: int = 10000,
        n_test: int = 1000,
        t_max: float = 30.0,
        resolution: float = 0.1,
        seed: int = 42,
    ):
        super().__init__()
        self.n_steps, self.n_train, self.n_test = n_steps, n_train, n_test
        self.t_max, self.resolution, self.seed = t_max, resolution, seed
        self.input_size = self.output_size = 1
        require(min(n_steps, n_train, n_test) >= 1, "n_steps, n_train and n_test must be >= 1")
        require(
            0 < (n_steps + 1) * resolution < t_max, "need 0 < (n_steps + 1) * resolution < t_max"
        )

    def load(self) -> dict[str, Split]:
        rngs = split_generators(self.seed)
        longest = self.t_max - (self.n_steps + 1) * self.resolution
        sizes = {"train": self.n_train, "validation": self.n_test, "test": self.n_test}
        self._starts = {
            name: rngs[name].uniform(0, longest, size=(n, 1)) for name, n in sizes.items()
        }
        splits = {}
        for name, t0 in self._starts.items():
            values = series(t0 + np.arange(self.n_steps + 1) * self.resolution).astype(np.float32)
            x, y = values[:, :-1, None], values[:, 1:, None]
            splits[name] = Split(torch.from_numpy(x), torch.from_numpy(y))
        return splits

    def continuation(self, split: str, index: int, steps: int) -> np.ndarray | None:
        """The series itself after the window: the window starts at a known time."""
        t = self._starts[split][index, 0] + (self.n_steps + np.arange(steps)) * self.resolution
        return series(t).astype(np.float32)[:, None]

    def loss(self, prediction: Tensor, target: Tensor) -> Tensor:
        return nn.functional.mse_loss(prediction, target)

    def evaluate(self, prediction: Tensor, target: Tensor) -> dict[str, float]:
        squared = (prediction - target).square()
        return {"mse": squared.mean().item(), "mse_from_step3": squared[:, 2:].mean().item()}

    def baseline(self, train: Split, split: Split) -> dict[str, float]:
        """Persistence: predict that the next value equals the current one."""
        return self.evaluate(split.x, split.y)

    def plot_predictions(self, prediction: Tensor, split: Split, path: str) -> bool:
        """Inputs, targets and predictions of the first few test windows."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        shown = min(3, len(split))
        fig, axes = plt.subplots(1, shown, figsize=(4 * shown, 3.2), sharey=True, squeeze=False)
        axes = axes[0]
        steps = np.arange(self.n_steps)
        for i, ax in enumerate(axes):
            ax.plot(steps, split.x[i, :, 0], "o-", ms=3, label="input")
            ax.plot(steps + 1, split.y[i, :, 0], "s", ms=6, mfc="none", label="target")
            ax.plot(steps + 1, prediction[i, :, 0], "x", ms=6, label="prediction")
            ax.set_xlabel("step")
        axes[0].legend()
        fig.suptitle("sine: one-step-ahead forecasts on test windows")
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
        return True
