"""MNIST-1D (Greydanus 2020): 40-step one-dimensional signals of the ten digits, generated
locally by the ``mnist1d`` package (``pip install mnist1d``), never downloaded. Generation takes
a few seconds, so the arrays are cached under ``$RNNZOO_CACHE`` (default ``~/.cache/rnnzoo``)."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import torch

from rnnzoo.errors import UserError
from rnnzoo.files import atomic_write, cache_dir
from rnnzoo.tasks.base import ClassificationTask, Split, require


def generate(num_samples: int, seed: int) -> dict[str, np.ndarray]:
    path = cache_dir() / f"mnist1d-{num_samples}-{seed}.npz"
    cached = read_cache(path)
    if cached is not None:
        return cached
    arrays = make(num_samples, seed)

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)

    atomic_write(path, write)
    return arrays


def make(num_samples: int, seed: int) -> dict[str, np.ndarray]:
    """The generator's own arrays; it seeds Python's and NumPy's global generators, which are
    put back afterwards so that generating data disturbs nothing else."""
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError as error:
        raise UserError(
            "the mnist1d task needs the mnist1d package: pip install mnist1d"
        ) from error
    args = get_dataset_args()
    args.num_samples, args.seed = num_samples, seed
    python_state, numpy_state = random.getstate(), np.random.get_state()
    try:
        data = make_dataset(args)
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)
    return {k: np.asarray(data[k]) for k in ("x", "y", "x_test", "y_test")}


def read_cache(path: Path) -> dict[str, np.ndarray] | None:
    """The cached arrays, or None when there are none or the file is damaged (it is then
    generated again: a cache must never break a run)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: np.asarray(data[k]) for k in ("x", "y", "x_test", "y_test")}
    except Exception:  # none yet, or any damage: zip, header, missing array, a folder
        return None
    if len(arrays["x"]) != len(arrays["y"]) or len(arrays["x_test"]) != len(arrays["y_test"]):
        return None
    return arrays


class MNIST1D(ClassificationTask):
    readout = "mean"
    smoke_params = {"num_samples": 600, "validation_size": 100}
    defaults = {
        "hidden": 128,
        "layers": 2,
        "bidirectional": True,
        "epochs": 40,
        "batch_size": 100,
        "lr": 3e-3,
        "weight_decay": 1e-2,
        "schedule": "onecycle",
    }

    def __init__(
        self,
        num_samples: int = 5000,
        validation_size: int = 400,
        seed: int = 42,
        fresh: bool = True,
    ):
        super().__init__()
        self.num_samples, self.validation_size, self.seed = num_samples, validation_size, seed
        self.fresh = fresh
        self.input_size, self.output_size = 1, 10
        self.labels = [str(i) for i in range(10)]
        require(num_samples >= 20, "num_samples must be at least 20")
        require(
            1 <= validation_size < 0.8 * num_samples * 0.8,
            "validation_size must be at least 1 and leave most of the training set",
        )
        self.preprocessing = (
            "the 40 samples of each signal as 40 steps of 1 feature, as generated"
            + ("; new signals from the generator every epoch after the first" if fresh else "")
        )

    def load(self) -> dict[str, Split]:
        data = generate(self.num_samples, self.seed)
        n_val = self.validation_size
        self._n_train = len(data["x"]) - n_val
        return {
            "train": as_split(data["x"][:-n_val], data["y"][:-n_val]),
            "validation": as_split(data["x"][-n_val:], data["y"][-n_val:]),
            "test": as_split(data["x_test"], data["y_test"]),
        }

    def train_split(self, epoch: int) -> Split | None:
        """With ``fresh``, new signals from the same generator each epoch (other seeds than
        the data set's; validation and test stay the standard ones): the 3,600 fixed signals
        are few enough for a 2x128 network to memorise, and new draws of the same digits are
        the augmentation the generator was made for."""
        if not self.fresh or epoch == 0:
            return None
        seed = int(np.random.SeedSequence((self.seed, epoch)).generate_state(1)[0])
        data = make(self.num_samples, seed)
        x = np.concatenate([data["x"], data["x_test"]])[: self._n_train]
        y = np.concatenate([data["y"], data["y_test"]])[: self._n_train]
        return as_split(x, y)


def as_split(x: np.ndarray, y: np.ndarray) -> Split:
    """Signals as (N, 40, 1) float32 steps, labels as int64."""
    return Split(
        torch.from_numpy(x.astype(np.float32)[:, :, None]), torch.from_numpy(y.astype(np.int64))
    )
