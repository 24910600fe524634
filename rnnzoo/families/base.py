"""What a model family is: one way of building, training and exporting a model.

A family serves one or more task kinds (``Task.kind``). Everything that depends on the kind
of model lives in its family's module — the trainer, the exporter, the CLI and the runtime
ask the family instead of testing the kind. A new kind of model is one new family module (and
a torch-free runtime adapter), registered through ``register_families``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from torch import Tensor, nn

from rnnzoo.errors import UserError

if TYPE_CHECKING:
    from rnnzoo.cells.base import State
    from rnnzoo.tasks.base import Task


class Family:
    """Base class of model families. ``build`` and ``export`` are required; the rest has
    defaults that fit most families."""

    name: ClassVar[str] = ""

    def check(self, config: Any, task: Task) -> None:
        """Refuse training options this family cannot honour for ``task`` (one line each)."""
        if config.tbptt:
            raise UserError(f"--tbptt: {task.kind} models train with full BPTT only")

    def build(self, task: Task, config: Any) -> nn.Module:
        """The untrained model for a loaded task; ``config`` has ``cell``, ``cell_params``,
        ``hidden``, ``layers``, ``bidirectional`` and ``dropout``."""
        raise NotImplementedError

    def train_forward(
        self,
        model: nn.Module,
        x: Tensor,
        y: Tensor,
        lengths: Tensor | None,
        state: State | None,
    ) -> tuple[Tensor, State | None]:
        """The prediction the loss is computed on while training, and the state to carry
        into the next window of truncated BPTT (``None`` when the family has none)."""
        return model(x, lengths), None

    def predict(self, model: nn.Module, x: Tensor, lengths: Tensor | None) -> Tensor:
        """The prediction ``task.evaluate`` scores (``model`` is in eval mode)."""
        return model(x, lengths)

    def generate(self, model: nn.Module, task: Task, seed: Tensor, steps: int) -> Tensor:
        """Roll a trained model forward from ``seed``; only forecasting families can."""
        raise UserError(
            f"generation needs a forecasting (seq2seq) run whose output feeds back as "
            f"input; this is a {task.kind} model"
        )

    def export(self, run: Any, out: Path, options: Any) -> Any:
        """Write and verify the ONNX files of a loaded run (``rnnzoo.rundir.LoadedRun``)
        into ``out`` as ``options`` (``rnnzoo.export.ExportOptions``) say; returns
        ``rnnzoo.export.ExportResult``."""
        raise NotImplementedError


def family_of(task: Task) -> Family:
    """The registered family that serves ``task.kind``, checked to implement what every family
    must (``build`` and ``export``)."""
    from rnnzoo.registry import family_for_kind

    entry = family_for_kind(task.kind)
    family = entry.load()
    if not isinstance(family, Family):
        raise UserError(
            f"family {entry.name!r} (plugin {entry.plugin!r}) is not a subclass of "
            "rnnzoo.families.base.Family"
        )
    missing = [m for m in ("build", "export") if getattr(type(family), m) is getattr(Family, m)]
    if missing:
        raise UserError(
            f"family {entry.name!r} (plugin {entry.plugin!r}) does not implement "
            f"{' and '.join(m + '()' for m in missing)}; see rnnzoo/families/base.py"
        )
    return family
