"""rnnzoo: a model zoo for recurrent neural networks.

The names below import torch only when used, so ``import rnnzoo`` and ``rnnzoo --help`` stay light.
"""

from __future__ import annotations

import os
from typing import Any

from rnnzoo.hookspecs import hookimpl
from rnnzoo.registry import UnknownNameError, list_cells, list_tasks

__all__ = [
    "hookimpl",
    "list_cells",
    "list_tasks",
    "create_cell",
    "create_recurrent",
    "create_task",
    "train",
    "load_run",
    "UnknownNameError",
]


def create_cell(name: str | type, input_size: int, hidden_size: int, **params: Any):
    """Build one registered cell by name, e.g. ``create_cell("lstm", 8, 32, peephole=True)``, or
    from a ``Cell`` subclass; the cell is checked against the contract (``rnnzoo.cells.base``)."""
    from rnnzoo.cells.contract import build_cell

    return build_cell(name, input_size, hidden_size, **params)


def create_recurrent(cell: str, input_size: int, hidden_size: int, **kwargs: Any):
    """Build a recurrent stack: ``create_recurrent("gru", 28, 128, num_layers=2,
    bidirectional=True)``; extra keyword arguments go to the cell."""
    from rnnzoo.recurrent import Recurrent

    return Recurrent(cell, input_size, hidden_size, **kwargs)


def create_task(name: str, **params: Any):
    """Build a registered task by name, e.g. ``create_task("sine", n_train=2000)``."""
    from rnnzoo.registry import create_task as build

    return build(name, params)


def train(
    task: str,
    cell: str,
    out: str,
    resume: bool = False,
    quiet: bool = False,
    overwrite: bool = False,
    cell_params: dict[str, Any] | None = None,
    task_params: dict[str, Any] | None = None,
    threads: int | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Train a cell on a task into the run directory ``out``, as ``rnnzoo train`` does.

    ``options`` are the fields of ``rnnzoo.rundir.TrainConfig`` (hidden, layers, epochs, lr, ...);
    unset ones take the task's recommended values; ``overwrite`` replaces a run already in
    ``out``; ``quiet`` hides the progress; ``threads``: the CPU threads (default: the free
    cores). Returns the run's summary.
    """
    from rnnzoo.rundir import config_with_defaults
    from rnnzoo.trainer import train as run_training

    config = config_with_defaults(
        task, cell, cell_params=cell_params or {}, task_params=task_params or {}, **options
    )
    return run_training(
        config, out, resume=resume, quiet=quiet, overwrite=overwrite, threads=threads
    )


def load_run(path: str | os.PathLike[str]):
    """A trained run directory, ready to use (``rnnzoo.rundir.LoadedRun``): its validated
    ``config``, the ``task`` with its data loaded (``splits``, checked against the files it was
    trained on), the model ``family`` and the best ``model`` in eval mode, and the ``summary``::

        run = rnnzoo.load_run("runs/sine-lstm")
        run.family.predict(run.model, run.splits["test"].x[:4], None)

    Raises ``rnnzoo.errors.UserError`` (one line) for a directory that is not a finished run.
    """
    from rnnzoo.rundir import load_run as load

    return load(path)
