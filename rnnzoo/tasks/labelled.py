"""Shared parts of ``classify`` and ``regress``: labelled sequences read from a user's files
(UCR/UEA ``.ts``, long-format CSV or Parquet, ``.npz``, a folder of class folders — see
:mod:`rnnzoo.data`), split, padded and fed through a standardising encoder that is part of
the exported graph.

Splits: ``data`` is the training file. The test split is ``test_file``, else the UCR
convention's sibling (``X_TRAIN.ts`` → ``X_TEST.ts``), else a stratified ``test`` fraction of
``data`` drawn from ``seed``. The validation split (which picks the best epoch) is a
stratified ``validation`` fraction of the training cases; with ``validation=0`` every case
trains and the best epoch is picked on the training split itself (for very small sets).
Statistics are fitted on the training cases only.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn

from rnnzoo.data.padding import pad_sequences
from rnnzoo.errors import UserError
from rnnzoo.tasks.augment import augment, parse_kinds
from rnnzoo.tasks.base import Split, Task, require
from rnnzoo.tasks.encoders import SequenceEncoder, channel_statistics, parse_kernels

FORMATS = "a UCR/UEA .ts file, a long-format CSV or Parquet, an .npz or a folder of class folders"


def ucr_test_file(train: Path) -> Path | None:
    """``X_TRAIN.ext`` → ``X_TEST.ext`` beside it, when that exists."""
    if "_TRAIN" not in train.name:
        return None
    test = train.with_name(train.name.replace("_TRAIN", "_TEST"))
    return test if test.is_file() else None


def stratified(keys: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Indices of about ``fraction`` of the cases, the same share of each key (class or, for
    regression, quantile bin), at least one of each key that has two cases or more."""
    chosen = []
    for key in np.unique(keys):
        members = rng.permutation(np.flatnonzero(keys == key))
        if len(members) >= 2:
            chosen.extend(members[: max(1, round(fraction * len(members)))])
    return np.sort(np.asarray(chosen, dtype=np.int64))


class LabelledSequences(Task):
    """Sequences with one label (or number) each, from a user's files. Subclasses say what
    the label is: ``regression``, the head, the loss, the metrics, the baseline."""

    kind = "seq2vec"
    readout = "mean"
    regression = False
    # the recipe measured on six UCR/UEA sets (benchmarks/real_data.py): 1,000 AdamW steps
    # of 16 cases, one-cycle, every training case (tiny sets cannot spare a validation part)
    defaults = {
        "hidden": 64,
        "layers": 1,
        "epochs": 1000,
        "max_steps": 1000,
        "batch_size": 16,
        "lr": 3e-3,
        "weight_decay": 1e-2,
        "schedule": "onecycle",
    }
    smoke_params = {"validation": 0.25, "augment": "none"}
    path_params = ("data", "test_file")

    def __init__(
        self,
        data: str = "",
        test_file: str = "",
        target: str = "label",
        id: str = "id",
        time: str = "",
        features: str = "",
        encoder: Literal["conv", "none"] = "conv",
        conv_channels: int = 64,
        kernels: str = "7,5:2,3:4",
        dropout: float = 0.1,
        augment: str = "scale,jitter,warp",
        validation: float = 0.0,
        test: float = 0.3,
        seed: int = 42,
        source: str = "",
    ):
        super().__init__()
        require(
            bool(data),
            f"the {self.name or 'task'} task reads your file: pass --data FILE ({FORMATS})",
        )
        require(0 <= validation < 1 and 0 < test < 1, "validation must be 0 to 1, test 0 to 1")
        self.data, self.test_file, self.target, self.id, self.time = (
            data,
            test_file,
            target,
            id,
            time,
        )
        self.features = [f.strip() for f in features.split(",") if f.strip()]
        self.encoder_kind, self.conv_channels = encoder, conv_channels
        self.kernels = parse_kernels(kernels)
        require(1 <= conv_channels <= 1024, "conv_channels must be 1 to 1024")
        require(0 <= dropout < 1, "dropout must be 0 to 1")
        self.dropout, self.augment = dropout, parse_kinds(augment)
        self.validation, self.test, self.seed = validation, test, seed
        self.source = source  # where the data came from, its licence: for the model card

    # ------------------------------------------------------------ reading

    def _read(self, path: Path) -> Any:
        from rnnzoo.data import read_sequences

        return read_sequences(
            path,
            target=self.target,
            id=self.id,
            time=self.time,
            features=self.features or None,
            regression=self.regression,
        )

    @functools.cached_property
    def _files(self) -> dict[str, Any]:
        """The training file's sequences and the test file's (None: split from training)."""
        train_path = Path(self.data)
        test_path = Path(self.test_file) if self.test_file else ucr_test_file(train_path)
        train = self._read(train_path)
        test = self._read(test_path) if test_path else None
        if test is not None and test.channels != train.channels:
            raise UserError(
                f"{test.source}: channels {', '.join(test.channels)} differ from the training "
                f"file's ({', '.join(train.channels)})"
            )
        return {"train": train, "test": test, "test_path": test_path}

    @property
    def validation_measured_on(self) -> str:
        return "validation" if self.validation else "train_cases"

    def notes(self) -> list[str]:
        files = self._files
        test = files["test"]
        held = (
            []
            if self.validation
            else [
                "validation=0: the best epoch is picked on the training cases (train_cases_*"
                " below); --param validation=0.2 holds a fifth of them out"
            ]
        )
        inputs = (
            f"{files['train'].source}: the model's inputs: {', '.join(files['train'].channels)}"
        )
        return (
            held
            + [inputs]
            + [
                f"{data.source}: {note}"
                for data in (files["train"], test)
                if data
                for note in data.notes
            ]
        )

    def reader(self) -> dict[str, Any]:
        return {
            "kind": "sequences",
            "target": self.target,
            "id": self.id,
            "time": self.time,
            "features": self.channels,
        }

    def data_files(self) -> list[Path]:
        test = self._files["test_path"]
        return [Path(self.data), *([test] if test else [])]

    def keys(self, y: np.ndarray) -> np.ndarray:
        """What a stratified split balances: the class (or, for regression, a quartile)."""
        return y

    @functools.cached_property
    def _cases(self) -> dict[str, tuple[list[np.ndarray], np.ndarray, list[str]]]:
        """Each split's sequences, targets and ids, from the seed and the files alone."""
        files, rng = self._files, np.random.default_rng(self.seed)
        train = files["train"]
        x, y, ids = train.x, np.asarray(train.y), list(train.ids)
        require(len(x) >= 2, f"{train.source}: {len(x)} sequence(s); training needs at least 2")
        everything = np.arange(len(x))
        if files["test"] is None:
            test_rows = stratified(self.keys(y), self.test, rng)
            test = ([x[i] for i in test_rows], y[test_rows], [ids[i] for i in test_rows])
            everything = np.setdiff1d(everything, test_rows)
        else:
            t = files["test"]
            test = (list(t.x), np.asarray(t.y), list(t.ids))
        if self.validation:
            held = stratified(self.keys(y[everything]), self.validation, rng)
            val_rows, train_rows = everything[held], np.delete(everything, held)
        else:
            val_rows = train_rows = everything
        require(
            len(train_rows) > 0 and len(val_rows) > 0 and len(test[0]) > 0,
            f"{train.source}: too few sequences to split into train, validation and test; "
            "give a test file (--param test_file=PATH) or lower --param validation",
        )
        pick = lambda rows: ([x[i] for i in rows], y[rows], [ids[i] for i in rows])  # noqa: E731
        return {"train": pick(train_rows), "validation": pick(val_rows), "test": test}

    @property
    def channels(self) -> list[str]:
        return list(self._files["train"].channels)

    @property
    def step_shape(self) -> tuple[int, ...]:  # type: ignore[override]
        return (len(self.channels),)

    @property
    def input_size(self) -> int:  # type: ignore[override]
        return self.conv_channels if self._convolves else len(self.channels)

    @property
    def _convolves(self) -> bool:
        return self.encoder_kind == "conv" and bool(self.kernels)

    @property
    def missing_values(self) -> bool:  # type: ignore[override]
        """Whether the data has missing values (NaN), which the encoder then handles."""
        return any(np.isnan(s).any() for split in self._cases.values() for s in split[0])

    @property
    def preprocessing(self) -> str:  # type: ignore[override]
        conv = (
            f", then causal convolutions (kernel:dilation "
            f"{','.join(f'{k}:{d}' for k, d in self.kernels)}, "
            f"{self.conv_channels} channels)"
            if self._convolves
            else ""
        )
        return (
            f"raw values, one column per channel ({', '.join(self.channels)}); per-channel "
            f"standardisation with training statistics{conv} inside the graph"
            + ("; NaN marks a missing value" if self.missing_values else "")
        )

    @functools.cached_property
    def _statistics(self) -> tuple[Tensor, Tensor]:
        """Each channel's mean and spread over the training cases."""
        return channel_statistics(self._cases["train"][0])

    def encoder(self) -> nn.Module:
        kernels = self.kernels if self._convolves else ()
        return SequenceEncoder(*self._statistics, self.conv_channels, kernels, self.dropout)

    def target_tensor(self, y: np.ndarray) -> Tensor:
        raise NotImplementedError

    @functools.cached_property
    def _splits(self) -> dict[str, Split]:
        splits = {}
        for name, (x, y, _) in self._cases.items():
            padded, lengths = pad_sequences(x, len(self.channels))
            lengths = None if lengths is None else torch.from_numpy(lengths)
            splits[name] = Split(torch.from_numpy(padded), self.target_tensor(y), lengths)
        return splits

    def load(self) -> dict[str, Split]:
        return dict(self._splits)

    def train_split(self, epoch: int) -> Split | None:
        """The training cases augmented afresh (``augment``), or None without augmentation."""
        if not self.augment:
            return None
        train = self._splits["train"]
        generator = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
        x = augment(train.x, train.lengths, self.augment, *self._statistics, generator)
        return Split(x, train.y, train.lengths)

    @classmethod
    def smoke_data(cls, folder: Path) -> dict[str, Any]:
        """A small ``.npz`` of two-channel sequences of unequal length whose label (or value)
        is the sign (or size) of a bump."""
        rng = np.random.default_rng(0)
        n, steps = 240, 30
        x = rng.normal(0, 0.3, (n, steps, 2)).astype(np.float32)
        value = rng.uniform(-1, 1, n)
        x[:, 10:20, 0] += value[:, None] * 2
        lengths = rng.integers(20, steps + 1, n)
        y = value if cls.regression else np.where(value > 0, "up", "down")
        path = folder / "smoke.npz"
        np.savez(path, x=x, y=y, lengths=lengths)
        return {**cls.smoke_params, "data": str(path)}
