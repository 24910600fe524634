"""The task contract: data, the shape of the problem, encoder and head, loss, metrics, baseline.

A model is ``task.encoder() → recurrent stack of a cell → task.head(size)``. Every keyword
argument of a task's ``__init__`` (typed, with a default) is a parameter that ``rnnzoo info``
shows and ``--param KEY=VALUE`` sets.

Splits are :class:`Split` objects: ``x`` is ``(n, time, features)`` (or whatever the encoder
takes), ``y`` the targets, ``lengths`` the valid steps of each sequence for variable-length data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from rnnzoo import text
from rnnzoo.errors import UserError


def require(condition: bool, message: str) -> None:
    """Refuse a task parameter with one line (``UserError``) unless ``condition`` holds."""
    if not condition:
        raise UserError(message)


def split_generators(seed: int) -> dict[str, np.random.Generator]:
    """An independent random generator for each split (train, validation, test), from the
    task's seed: how much one split draws (``n_train``) never changes another's data, so runs
    that differ only in training size are scored on the same test data."""
    streams = np.random.SeedSequence(seed).spawn(3)
    return {
        name: np.random.default_rng(stream)
        for name, stream in zip(("train", "validation", "test"), streams)
    }


@dataclass
class Split:
    """One split of a task's data, as tensors."""

    x: Tensor
    y: Tensor
    lengths: Tensor | None = None

    def __len__(self) -> int:
        return len(self.x)

    def tensors(self) -> tuple[Tensor, ...]:
        return (self.x, self.y) if self.lengths is None else (self.x, self.y, self.lengths)


@dataclass(frozen=True)
class Metric:
    """A metric's name and direction; the first metric of a task is the one to select on."""

    name: str
    higher_is_better: bool


class Task:
    """Base class of every task. Subclasses set the class attributes, declare their parameters
    as typed keyword arguments of ``__init__`` (calling ``super().__init__()``), and set
    ``input_size``, ``output_size`` and, for classifiers, ``labels``. ``load()`` returns the
    splits and changes nothing on the task."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    kind: ClassVar[str] = ""  # seq2seq, seq2vec, vec2seq or encdec
    metrics: ClassVar[tuple[Metric, ...]] = ()
    # Training defaults a task recommends (hidden, layers, epochs, batch_size, lr, ...).
    defaults: ClassVar[dict[str, Any]] = {}
    # Small parameters for smoke tests (a few hundred examples), so the registry-wide tests
    # can train every cell on every task in seconds.
    smoke_params: ClassVar[dict[str, Any]] = {}
    # The parameters that name files or folders: a new run stores them as absolute paths, so
    # that it evaluates, exports and resumes from any folder.
    path_params: ClassVar[tuple[str, ...]] = ()
    # How a seq2vec model reads the sequence out: the last valid step ("last") or the mean.
    readout: ClassVar[str] = "last"
    # How raw data becomes the model's input, for the model card (set per instance if it
    # depends on the parameters).
    preprocessing: str = "none: feed the task's inputs as they are"
    # whether NaN in an input marks a missing value that the model handles (rain); the
    # runtime refuses non-finite input otherwise
    missing_values: bool = False

    # What the model is built from. A task sets them in ``__init__`` from its parameters or,
    # when the data decides them (a vocabulary, input statistics, a folder's classes), defines
    # them as properties computed from the data on first use — never as a side effect of
    # ``load()``, so they are valid before and after it.
    step_shape: tuple[int, ...] = ()  # one raw time step, where the encoder changes it
    input_size: int = 0  # features per step entering the recurrent stack
    output_size: int = 0  # features the head emits (per step, or once)
    labels: list[str] | None = None  # class names by output index (classifiers)

    def __init__(self) -> None:
        """Subclasses call it first; the parameters are theirs."""

    # what every task must implement itself
    REQUIRED = ("load", "loss", "evaluate", "baseline")

    @classmethod
    def check_contract(cls, name: str) -> None:
        """Refuse, before any work, a task class that lacks what training and evaluation need
        (one line naming the task and the fix)."""
        missing = [m for m in cls.REQUIRED if getattr(cls, m) is getattr(Task, m)]
        if missing:
            raise UserError(
                f"task {name!r} ({cls.__module__}.{cls.__qualname__}) does not implement "
                f"{', '.join(m + '()' for m in missing)}; see rnnzoo/tasks/base.py"
            )
        if not cls.metrics or not all(isinstance(m, Metric) for m in cls.metrics):
            raise UserError(
                f"task {name!r}: metrics must be a non-empty tuple of rnnzoo.tasks.base.Metric "
                "(the first selects the best epoch)"
            )

    @classmethod
    def smoke_data(cls, folder: Path) -> dict[str, Any]:
        """Parameters for a smoke test that trains in seconds: ``smoke_params``, plus whatever
        a task that reads files needs — it writes small files of its format into ``folder``
        and names them. The registry-wide tests call this for every installed task."""
        return dict(cls.smoke_params)

    @property
    def input_shape(self) -> tuple[int, ...]:
        """The shape of one time step of raw input (before the encoder)."""
        return self.step_shape or (self.input_size,)

    def load(self) -> dict[str, Split]:
        """Return the ``train``, ``validation`` and ``test`` splits (generated or read)."""
        raise NotImplementedError

    def train_split(self, epoch: int) -> Split | None:
        """Fresh training examples for ``epoch`` (drawn from the seed and the epoch alone, so
        a resumed run sees what an uninterrupted one saw), or None to train on ``load()``'s
        split every epoch — the default. A task that composes its examples (caption) draws
        new compositions each epoch, so the model cannot learn the few it would see."""
        return None

    def encoder(self) -> nn.Module:
        """The module in front of the recurrent stack; its output feature size is
        ``self.input_size`` as the stack sees it."""
        return nn.Identity()

    def head(self, rnn_output_size: int) -> nn.Module:
        """The module behind the recurrent stack (per step for seq2seq, once for seq2vec)."""
        return nn.Linear(rnn_output_size, self.output_size)

    def loss(self, prediction: Tensor, target: Tensor) -> Tensor:
        raise NotImplementedError

    def evaluate(self, prediction: Tensor, target: Tensor) -> dict[str, float]:
        """Every metric of ``self.metrics`` on a whole split."""
        raise NotImplementedError

    def baseline(self, train: Split, split: Split) -> dict[str, float]:
        """The metrics of a simple baseline (fitted on ``train`` if at all) on ``split``."""
        raise NotImplementedError

    def plot_predictions(self, prediction: Tensor, split: Split, path: str) -> bool:
        """Optionally draw predictions against the truth into ``path`` (a PNG); return
        whether a plot was written. Forecasting tasks do; the default draws nothing."""
        return False

    @classmethod
    def input_examples(cls) -> list[str]:
        """Examples of the inputs a trained model takes, where a list says more than the
        description (the date formats of ``dates``); ``rnnzoo info TASK`` shows them."""
        return []

    def continuation(self, split: str, index: int, steps: int) -> np.ndarray | None:
        """The true ``(steps, features)`` values that follow input ``index`` of ``split``
        (from ``load()``), for a task that can make them (a generated series); ``rnnzoo
        generate --plot`` draws them beside the generated ones. None by default."""
        return None

    def as_next_steps(self, prediction: Tensor) -> Tensor | None:
        """A seq2vec model's ``(batch, output_size)`` prediction as the ``(batch, steps,
        step features)`` raw steps that continue its input window, for ``rnnzoo generate``
        to feed back; None (the default) where the prediction does not continue the input."""
        return None

    @property
    def validation_measured_on(self) -> str:
        """What the validation split's cases are, as the epoch lines name its metrics:
        ``"validation"``, or ``"train_cases"`` for a task that scores its training cases
        (a set too small to hold any out); ``metrics.jsonl`` keeps ``validation_*``."""
        return "validation"

    def notes(self) -> list[str]:
        """What reading the data found worth saying but not refusing (rows that were sorted,
        gaps in time, missing values); ``rnnzoo train`` prints each under its header."""
        return []

    def reader(self) -> dict[str, Any] | None:
        """How ``rnnzoo predict`` reads a file in the format of the task's data, written into
        the model card: ``{"kind": "sequences" | "series", ...}`` with the keyword arguments
        of :func:`rnnzoo.data.read_sequences` or :func:`rnnzoo.data.read_series` (and, for
        series, the window: ``lookback``, ``horizon``, ``covariates``). None (the default):
        the model takes arrays only."""
        return None

    def data_files(self) -> list[Path]:
        """The files the data is read from, whose contents the model depends on beyond their
        format (a vocabulary, input statistics). A run records their digests, and evaluating,
        exporting or resuming it refuses files that changed since."""
        return []


class ClassificationTask(Task):
    """Shared parts of sequence → class tasks: cross-entropy, accuracy, majority baseline."""

    kind = "seq2vec"
    metrics = (Metric("accuracy", True), Metric("loss", False))

    def loss(self, prediction: Tensor, target: Tensor) -> Tensor:
        return nn.functional.cross_entropy(prediction, target)

    def evaluate(self, prediction: Tensor, target: Tensor) -> dict[str, float]:
        return {
            "accuracy": (prediction.argmax(-1) == target).float().mean().item(),
            "loss": self.loss(prediction, target).item(),
        }

    def baseline(self, train: Split, split: Split) -> dict[str, float]:
        """Always predict the most frequent class of the training labels."""
        majority = torch.bincount(train.y, minlength=self.output_size).argmax()
        return {"accuracy": (split.y == majority).float().mean().item()}


def pad_ids(rows: list[list[int]], length: int | None = None) -> tuple[Tensor, Tensor]:
    """Token id lists as one ``(n, length)`` tensor padded with ``PAD``, and their lengths."""
    lengths = torch.tensor([len(row) for row in rows])
    padded = torch.full((len(rows), length or int(lengths.max())), text.PAD, dtype=torch.long)
    for i, row in enumerate(rows):
        padded[i, : len(row)] = torch.tensor(row, dtype=torch.long)
    return padded, lengths


class TokenSequenceTask(Task):
    """Shared parts of tasks whose target is a sequence of tokens (encdec, vec2seq).

    Subclasses set ``target_vocab`` (starting with :data:`rnnzoo.text.SPECIALS`),
    ``target_tokens`` ("char" or "word") and ``target_length`` (the most tokens decoded,
    end token included); targets are ids ending with ``EOS``, padded with ``PAD``. A
    prediction counts as an exact match when every token up to and including the end token
    is right: what a decoder emits after its end token is never read.
    """

    kind = "encdec"
    metrics = (Metric("exact_match", True), Metric("token_accuracy", True))
    target_tokens: str = "char"

    target_vocab: Sequence[str] = ()  # starting with text.SPECIALS
    target_length: int = 0  # the most tokens decoded, end token included
    # the source side of encdec tasks: its vocabulary, "char" or "word" tokens, and whether
    # text is lower-cased before tokenizing (vec2seq tasks have no source text)
    source_vocab: Sequence[str] = ()
    source_tokens: str = "char"
    lowercase: bool = False

    def loss(self, prediction: Tensor, target: Tensor) -> Tensor:
        return nn.functional.cross_entropy(
            prediction.flatten(0, 1), target.flatten(), ignore_index=text.PAD
        )

    def evaluate(self, prediction: Tensor, target: Tensor) -> dict[str, float]:
        return {
            **self.score(prediction.argmax(-1), target),
            "loss": self.loss(prediction, target).item(),
        }

    def score(self, tokens: Tensor, target: Tensor) -> dict[str, float]:
        valid = target != text.PAD
        right = (tokens == target) & valid
        return {
            "exact_match": (right | ~valid).all(1).float().mean().item(),
            "token_accuracy": (right.sum() / valid.sum()).item(),
        }

    def baseline(self, train: Split, split: Split) -> dict[str, float]:
        """The most frequent token of the training targets at each position."""
        counts = nn.functional.one_hot(train.y, len(self.target_vocab)).sum(0)
        counts[:, text.PAD] = 0
        guess = counts.argmax(-1).expand(len(split.y), -1)
        return self.score(guess, split.y)

    def decode(self, ids: list[int]) -> str:
        """The text of target ids (up to the end token)."""
        return text.from_ids(ids, self.target_vocab, self.target_tokens)
