"""``forecast``: the next ``horizon`` values of one or many series from a user's CSV or
Parquet file (see :func:`rnnzoo.data.read_series`), one global model over every series.

Each example is a window: the ``lookback`` values before a point in time (every target and
covariate) → the ``horizon`` target values after it, all at once (a direct multi-step head).
Covariates are inputs known in advance: their values over the horizon join the window as
``horizon`` more steps whose targets are missing (NaN), so the input is ``lookback + horizon``
steps long.

Splits are by time, per series, with no leakage: the last ``horizon`` points of each series
are its test targets, the ``horizon`` before them its validation targets, and training windows
have their targets before the validation part. A test (or validation) window's input is the
``lookback`` values just before its targets.

Scaling: ``scaling=window`` (the default) divides each window by the mean absolute value of
its own targets' history (the level of each series, whatever its units) and multiplies the
forecast back; ``global`` standardises with the mean and spread of every series' training
part. Both happen inside the exported graph, so a deployed model takes raw values.

Metrics MAE, RMSE, sMAPE (percent) and MASE, scaled per series by the in-sample mean absolute
error of the seasonal naive forecast (season ``season``) over the history before the test
part, as in the M competitions. The baseline is the seasonal naive forecast (the naive one
when ``season`` is 1).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn

from rnnzoo.data.windows import gather_targets, gather_windows
from rnnzoo.errors import UserError
from rnnzoo.tasks.base import Metric, Split, Task, require
from rnnzoo.tasks.encoders import Standardise, channel_statistics


def columns(text: str) -> list[str]:
    return [c.strip() for c in text.split(",") if c.strip()]


def level_of(total: Tensor, count: Tensor) -> Tensor:
    """The mean absolute value from a running total and count; 1 where there is none yet."""
    mean = total / count.clamp(min=1)
    return torch.where(mean > 1e-8, mean, torch.ones_like(mean))


class WindowScaler(nn.Module):
    """The forecaster's encoder with ``scaling=window``: each target divided by its level —
    the mean absolute value of its observed values so far in the window (causal, so that a
    stream gives the same numbers) — then :class:`Standardise` (covariates with training
    statistics, missing values flagged). The sequence family multiplies the forecast by the
    level at the window's end (``levels``, ``step_level``)."""

    def __init__(self, standardise: Standardise, targets: int):
        super().__init__()
        self.standardise, self.targets = standardise, targets
        self.output_size = standardise.output_size

    def levels(self, x: Tensor) -> Tensor:
        """``(batch, time, targets)``: each target's level at every step."""
        y = x[..., : self.targets]
        seen = ~torch.isnan(y)
        total = torch.where(seen, y.abs(), torch.zeros_like(y)).cumsum(1)
        return level_of(total, seen.to(y.dtype).cumsum(1))

    def scale(self, x: Tensor, level: Tensor) -> Tensor:
        return self.standardise(
            torch.cat([x[..., : self.targets] / level, x[..., self.targets :]], -1)
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.scale(x, self.levels(x))

    @property
    def streaming_state_sizes(self) -> tuple[int, ...]:
        """The running total of absolute target values and their count."""
        return (self.targets, self.targets)

    def step(self, x: Tensor, state: tuple[Tensor, ...]) -> tuple[Tensor, tuple[Tensor, ...]]:
        total, count = state
        y = x[:, : self.targets]
        seen = ~torch.isnan(y)
        total = total + torch.where(seen, y.abs(), torch.zeros_like(y))
        count = count + seen.to(y.dtype)
        return self.scale(x, level_of(total, count)), (total, count)

    def step_level(self, state: tuple[Tensor, ...]) -> Tensor:
        return level_of(*state)


class ScaledHead(nn.Module):
    """Linear → the ``horizon`` values of each target (horizon-major) → the data's units
    (times the targets' training spread, plus their mean; 1 and 0 with window scaling)."""

    def __init__(self, size: int, horizon: int, mean: Tensor, std: Tensor):
        super().__init__()
        self.linear = nn.Linear(size, horizon * len(mean))
        self.register_buffer("mean", mean.float().repeat(horizon))
        self.register_buffer("std", std.float().repeat(horizon))

    def forward(self, h: Tensor) -> Tensor:
        return self.linear(h) * self.std + self.mean


def seasonal_scale(history: np.ndarray, season: int) -> np.ndarray:
    """Per target: the mean absolute error of the seasonal naive forecast within ``history``
    (``(time, targets)``, NaN skipped) — MASE's denominator; the naive one when the history is
    not longer than a season, 1 when that is zero or unknown."""
    lag = season if len(history) > season else 1
    errors = np.abs(history[lag:] - history[:-lag]) if len(history) > lag else np.empty((0,))
    with np.errstate(all="ignore"):
        scale = np.nanmean(errors, axis=0) if errors.size else np.full(history.shape[1], np.nan)
    return np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)


class Forecast(Task):
    name = "forecast"
    kind = "seq2vec"
    readout = "last"
    missing_values = True  # NaN: a missing value, or the unknown target of a future step
    metrics = (
        Metric("mase", False),
        Metric("smape", False),
        Metric("mae", False),
        Metric("rmse", False),
    )
    defaults = {"hidden": 64, "layers": 1, "epochs": 40, "batch_size": 64, "lr": 3e-3}
    smoke_params = {"lookback": 12, "horizon": 3, "season": 4}
    path_params = ("data",)

    def __init__(
        self,
        data: str = "",
        target: str = "",
        time: str = "",
        id: str = "",
        covariates: str = "",
        lookback: int = 24,
        horizon: int = 1,
        season: int = 1,
        min_history: int = 0,
        scaling: Literal["window", "global"] = "window",
        cache: Literal["auto", "on", "off"] = "auto",
        source: str = "",
    ):
        super().__init__()
        require(
            bool(data), "the forecast task reads your series: pass --data FILE (CSV or Parquet)"
        )
        require(
            1 <= lookback <= 100_000 and 1 <= horizon <= 10_000,
            "lookback must be 1 to 100,000, horizon 1 to 10,000",
        )
        require(season >= 1, "season must be 1 or more (the number of steps in a season)")
        require(
            0 <= min_history <= lookback,
            f"min_history must be 0 to lookback ({lookback}); 0 means lookback",
        )
        self.data, self.time, self.id = data, time, id
        self.target, self.covariates = columns(target), columns(covariates)
        self.lookback, self.horizon, self.season = lookback, horizon, season
        self.min_history = min_history or lookback
        self.scaling, self.cache = scaling, cache
        self.source = source  # where the data came from, its licence: for the model card

    # ------------------------------------------------------------ the series

    @functools.cached_property
    def series(self) -> Any:
        """The series, read in memory or, with ``cache`` on (auto: for a CSV or Parquet file
        of 256 MB or more), memory-mapped from a cache built on first use, so that data larger
        than memory trains: windows are cut from the map batch by batch."""
        from rnnzoo.data import read_series
        from rnnzoo.data.cache import cached_series, worth_caching

        path = Path(self.data)
        cached = self.cache == "on" or (self.cache == "auto" and worth_caching(path))
        series = (cached_series if cached else read_series)(
            path,
            target=self.target or None,
            time=self.time,
            id=self.id,
            covariates=self.covariates,
        )
        lengths = np.diff(series.offsets)
        need = self.min_history + self.horizon * (2 if self.covariates else 1)
        short = np.flatnonzero(lengths < need)
        if len(short):
            first = int(short[0])
            raise UserError(
                f"{series.source}: series {series.ids[first]!r} has {int(lengths[first])} values, "
                f"fewer than lookback + horizon = {need}"
                + (f" ({len(short)} series are that short)" if len(short) > 1 else "")
                + "; lower --param lookback (or min_history) or horizon"
            )
        return series

    def notes(self) -> list[str]:
        s = self.series
        inputs = f"{s.source}: forecasts {', '.join(s.targets)}" + (
            f" from covariates {', '.join(s.covariates)} too" if s.covariates else ""
        )
        return [inputs] + [f"{s.source}: {note}" for note in s.notes]

    def reader(self) -> dict[str, Any]:
        return {
            "kind": "series",
            "target": self.series.targets,
            "time": self.time,
            "id": self.id,
            "covariates": self.series.covariates,
            "lookback": self.lookback,
            "horizon": self.horizon,
        }

    def data_files(self) -> list[Path]:
        return [Path(self.data)]

    @property
    def targets(self) -> int:
        return len(self.series.targets)

    @property
    def step_shape(self) -> tuple[int, ...]:  # type: ignore[override]
        return (self.series.values.shape[1],)

    @property
    def input_size(self) -> int:  # type: ignore[override]
        return self.series.values.shape[1] + self.targets

    @property
    def output_size(self) -> int:  # type: ignore[override]
        return self.horizon * self.targets

    @property
    def window_steps(self) -> int:
        """Steps of one input: the lookback, and the horizon's covariates if there are any."""
        return self.lookback + (self.horizon if self.covariates else 0)

    @property
    def preprocessing(self) -> str:  # type: ignore[override]
        s = self.series
        future = (
            f", then {self.horizon} future steps with empty targets and the known covariates"
            if self.covariates
            else ""
        )
        scaling = (
            "each target divided by its running mean absolute value (the forecast multiplied back)"
            if self.scaling == "window"
            else "standardised with training statistics"
        )
        return (
            f"the last {self.lookback} raw values of each series (columns "
            f"{', '.join(s.targets + s.covariates)}; NaN where missing){future}; {scaling}, "
            f"inside the graph. The output is the next {self.horizon} values of "
            f"{', '.join(s.targets)}, step by step"
        )

    # ------------------------------------------------------------ windows

    def window_ends(self, which: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per series: its first row, the first and the number of ``which`` windows' ends
        (absolute rows of ``series.values``, exclusive)."""
        s, h = self.series, self.horizon
        starts, lengths = s.offsets[:-1], np.diff(s.offsets)
        test = lengths - h
        if which == "train":
            first = np.full(len(starts), self.min_history)
            count = np.maximum(0, test - 2 * h - self.min_history + 1)
        else:
            first = test if which == "test" else test - h
            count = (first >= self.min_history).astype(np.int64)
        return starts, starts + first, count

    def scales(self, which: str) -> np.ndarray:
        """``(series, targets)``: each series' MASE scale from the history before ``which``'s
        targets (before the validation part for training windows)."""
        s, h = self.series, self.horizon
        history = {"test": h, "validation": 2 * h, "train": 2 * h}[which]
        return np.stack(
            [
                seasonal_scale(s.values[a : b - history, : self.targets], self.season)
                for a, b in zip(s.offsets[:-1], s.offsets[1:])
            ]
        )

    @functools.cached_property
    def _splits(self) -> dict[str, Split]:
        splits = {}
        for which in ("train", "validation", "test"):
            windows = Windows(self, *self.window_ends(which), self.scales(which))
            if not len(windows):
                raise UserError(
                    f"{self.series.source}: no {which} window: every series is too short for "
                    f"min_history {self.min_history} + 3 × horizon {self.horizon} (train, "
                    "validation, test); lower --param min_history, lookback or horizon"
                )
            if which == "train":  # cut batch by batch (data larger than memory)
                splits[which] = Split(windows.inputs, windows.targets)
            else:  # one window per series
                every = np.arange(len(windows))
                splits[which] = Split(windows.inputs[every], windows.targets[every])
        return splits

    def load(self) -> dict[str, Split]:
        return dict(self._splits)

    # ------------------------------------------------------------ the model's parts

    def _statistics(self) -> tuple[Tensor, Tensor]:
        """Copies (the encoder and the head each keep their own) of ``_column_statistics``."""
        mean, std = self._column_statistics
        return mean.clone(), std.clone()

    @functools.cached_property
    def _column_statistics(self) -> tuple[Tensor, Tensor]:
        """Mean and spread of each column over every series' training part (targets 0 and 1
        with window scaling: the level scales them)."""
        s, h = self.series, self.horizon
        parts = [s.values[a : max(a, b - 2 * h)] for a, b in zip(s.offsets[:-1], s.offsets[1:])]
        mean, std = channel_statistics(parts)
        if self.scaling == "window":
            mean[: self.targets], std[: self.targets] = 0.0, 1.0
        return mean, std

    def encoder(self) -> nn.Module:
        standardise = Standardise(*self._statistics(), flags=self.targets)
        return WindowScaler(standardise, self.targets) if self.scaling == "window" else standardise

    def head(self, rnn_output_size: int) -> nn.Module:
        mean, std = self._statistics()
        return ScaledHead(rnn_output_size, self.horizon, mean[: self.targets], std[: self.targets])

    def as_next_steps(self, prediction: Tensor) -> Tensor | None:
        """The horizon's values of every target: the next raw steps of a window without
        covariates (whose future values nobody knows)."""
        if self.covariates:
            return None
        return prediction.reshape(len(prediction), self.horizon, self.targets)

    def continuation(self, split: str, index: int, steps: int) -> np.ndarray | None:
        """The ``horizon`` true values after window ``index`` (the series ends there for the
        test windows), at most ``steps``."""
        truth = self._splits[split].y[index, : self.horizon * self.targets]
        return truth.reshape(self.horizon, self.targets)[:steps].numpy()

    def plot_predictions(self, prediction: Tensor, split: Split, path: str) -> bool:
        """The first target of the first few series: the test window's history, the true
        horizon and the forecast."""
        from rnnzoo import plots

        plt = plots.pyplot()
        shown = min(4, len(split))
        fig, axes = plt.subplots(1, shown, figsize=(4 * shown, 3.2), squeeze=False)
        history = np.arange(-self.lookback, 0)
        future = np.arange(self.horizon)
        k = self.horizon * self.targets
        owners = np.flatnonzero(self.window_ends("test")[2])  # a test window's series
        for i, ax in enumerate(axes[0]):
            x = split.x[i]
            ax.plot(history, x[: self.lookback, 0], ".-", ms=3, color="C0", label="history")
            truth = split.y[i, :k].reshape(self.horizon, self.targets)[:, 0]
            ax.plot(future, truth, "o-", ms=3, color="0.5", label="true")
            guess = prediction[i].reshape(self.horizon, self.targets)[:, 0]
            ax.plot(future, guess, "x-", ms=4, color="C1", label="forecast")
            ax.set_title(f"series {self.series.ids[owners[i]]}", fontsize=9)
            ax.set_xlabel("steps from the forecast's start")
        axes[0][0].legend(fontsize=8)
        fig.suptitle(f"forecast: the next {self.horizon} values of {self.series.targets[0]}")
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
        return True

    # ------------------------------------------------------------ scores

    def _parts(self, target: Tensor) -> tuple[Tensor, Tensor]:
        """The true values and the MASE scale repeated over the horizon."""
        k = self.horizon * self.targets
        return target[:, :k], target[:, k:].repeat(1, self.horizon)

    def loss(self, prediction: Tensor, target: Tensor) -> Tensor:
        """MASE: each series' errors in units of its in-sample seasonal naive error, so every
        series counts alike whatever its scale; missing targets left out."""
        truth, scale = self._parts(target)
        seen = ~torch.isnan(truth)
        error = torch.where(
            seen, (prediction - truth.nan_to_num()).abs() / scale, torch.zeros_like(truth)
        )
        return error.sum() / seen.sum().clamp(min=1)

    def evaluate(self, prediction: Tensor, target: Tensor) -> dict[str, float]:
        truth, scale = self._parts(target)
        seen = ~torch.isnan(truth)
        error = (prediction - truth)[seen]
        total = (prediction.abs() + truth.abs())[seen]
        smape = torch.where(total > 0, 2 * error.abs() / total, torch.zeros_like(total))
        return {
            "mase": self.loss(prediction, target).item(),
            "smape": 100 * smape.mean().item(),
            "mae": error.abs().mean().item(),
            "rmse": error.square().mean().sqrt().item(),
        }

    def baseline(self, train: Split, split: Split) -> dict[str, float]:
        """The seasonal naive forecast: each window's last season, repeated.

        The naive one (the last value, repeated) when ``season`` is 1 or longer than the
        window."""
        history = split.x[:, : self.lookback, : self.targets]
        season = self.season if self.season <= self.lookback else 1
        last = history[:, -season:]
        steps = torch.arange(self.horizon) % season
        guess = last[:, steps].reshape(len(history), -1)
        return self.evaluate(guess, split.y)

    # ------------------------------------------------------------ smoke data

    @classmethod
    def smoke_data(cls, folder: Path) -> dict[str, Any]:
        """Three seasonal series of different levels in long format."""
        rng = np.random.default_rng(0)
        rows = ["id,t,value"]
        for name, level in (("low", 10.0), ("mid", 200.0), ("high", 3000.0)):
            t = np.arange(120)
            values = level * (1 + 0.3 * np.sin(2 * np.pi * t / 4) + 0.002 * t) + rng.normal(
                0, level * 0.02, len(t)
            )
            rows += [f"{name},{i},{v:.4f}" for i, v in zip(t, values)]
        path = folder / "series.csv"
        path.write_text("\n".join(rows) + "\n")
        return {**cls.smoke_params, "data": str(path), "id": "id", "time": "t"}


class Windows:
    """A split's windows, cut on demand from the series: window ``i`` belongs to the series
    whose range of window numbers holds ``i``. ``inputs`` and ``targets`` stand in for the
    split's tensors (length, shape, indexing by an index, a slice or a list of indices), so
    the trainer's batches read only their own rows — from a memory map, for data larger than
    memory, and under ``torchrun`` each process only its share."""

    def __init__(
        self,
        task: Forecast,
        starts: np.ndarray,
        first: np.ndarray,
        count: np.ndarray,
        scales: np.ndarray,
    ):
        self.task, self.starts, self.first, self.scales = task, starts, first, scales
        self.cumulative = np.concatenate([[0], np.cumsum(count)])
        self.inputs = LazyTensor(self, "inputs", (task.window_steps, task.step_shape[0]))
        self.targets = LazyTensor(self, "targets", (task.output_size + task.targets,))

    def __len__(self) -> int:
        return int(self.cumulative[-1])

    def cut(self, index: np.ndarray, part: str) -> np.ndarray:
        task, values = self.task, self.task.series.values
        series = np.searchsorted(self.cumulative, index, side="right") - 1
        ends = self.first[series] + (index - self.cumulative[series])
        if part == "inputs":
            return gather_windows(
                values,
                self.starts[series],
                ends,
                task.lookback,
                task.horizon,
                task.targets,
                bool(task.covariates),
            )
        future = gather_targets(values, ends, task.horizon, task.targets)
        return np.concatenate([future, self.scales[series].astype(np.float32)], axis=1)


class LazyTensor:
    """The part of :class:`Windows` a split holds as ``x`` or ``y``: indexing it cuts the
    windows into a tensor."""

    def __init__(self, windows: Windows, part: str, shape: tuple[int, ...]):
        self.windows, self.part = windows, part
        self.shape = torch.Size((len(windows), *shape))

    def __len__(self) -> int:
        return self.shape[0]

    def size(self, dim: int | None = None) -> Any:
        return self.shape if dim is None else self.shape[dim]

    def __getitem__(self, index: Any) -> Tensor:
        if isinstance(index, tuple):  # windows first, then within each window
            first, *rest = index
            keep = () if isinstance(first, (int, np.integer)) else (slice(None),)
            return self[first][(*keep, *rest)]
        if isinstance(index, slice):
            index = np.arange(len(self))[index]
        index = np.asarray(index, np.int64)
        cut = torch.from_numpy(self.windows.cut(np.atleast_1d(index), self.part))
        return cut if index.ndim else cut[0]
