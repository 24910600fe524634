"""Training recurrent models: ``train`` a config into a run directory (``rnnzoo.rundir``).

- ``loop``: the training loop, one step (``train_step``), prediction and scoring;
- ``distributed``: the device and this process's place under ``torchrun``;
- ``progress``: the progress bar, the per-epoch lines and the learning curves.

``TrainConfig`` and ``config_with_defaults`` live in ``rnnzoo.rundir``; they are re-exported
here for convenience.
"""

from rnnzoo.rundir import TrainConfig, config_with_defaults
from rnnzoo.trainer.loop import (
    TrainingDiverged,
    evaluate,
    predict,
    selection_key,
    train,
    train_step,
)

__all__ = [
    "TrainConfig",
    "TrainingDiverged",
    "config_with_defaults",
    "evaluate",
    "predict",
    "selection_key",
    "train",
    "train_step",
]
