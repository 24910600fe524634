"""Comparing exported graphs with PyTorch: one tolerance, one measure of difference, one
record per check. A single failed check stops the export before anything is written."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import torch
from torch import Tensor

from rnnzoo.closeness import difference, tolerance
from rnnzoo.errors import UserError
from rnnzoo.runtime.session import open_session

BATCH_SIZES = (1, 3, 17)


class ExportError(UserError):
    """The export failed its verification; nothing was written."""


@dataclass
class Check:
    what: str
    batch: int
    steps: int
    max_diff: float

    @property
    def tolerance(self) -> float:
        return tolerance(self.steps)

    @property
    def ok(self) -> bool:
        return self.max_diff <= self.tolerance

    def to_dict(self) -> dict:
        return asdict(self)


def max_diff(expected: list[Tensor], got: list[np.ndarray]) -> float:
    """The largest ``difference`` over pairs of PyTorch tensors and onnxruntime arrays."""
    return max(difference(e.detach().numpy(), g) for e, g in zip(expected, got))


def as_numpy(values) -> list[np.ndarray]:
    """PyTorch tensors as numpy arrays, for a ``Case``'s expected outputs."""
    return [v.detach().numpy() for v in values]


def session(graph: onnx.ModelProto) -> onnxruntime.InferenceSession:
    return open_session(graph.SerializeToString())


def sample_inputs(data: Tensor, batch: int, steps: int) -> Tensor:
    """Real examples, cut or tiled along time to ``steps``, repeated to ``batch``."""
    index = torch.arange(batch) % len(data)
    rows = data[index]
    reps = -(-steps // rows.shape[1])
    return rows.repeat(1, reps, *([1] * (rows.ndim - 2)))[:, :steps].contiguous()


def random_states(stack: torch.nn.Module, batch: int, generator: torch.Generator) -> tuple:
    """Valid non-zero states of a recurrent stack (``Cell.sample_state``), to check that fed
    states are used."""
    return stack.sample_state(batch, generator)


def check_results(checks: list[Check]) -> None:
    bad = [c for c in checks if not c.ok]
    if bad:
        worst = max(bad, key=lambda c: c.max_diff)
        raise ExportError(
            f"onnxruntime disagrees with PyTorch ({worst.what}, batch "
            f"{worst.batch}, {worst.steps} steps: max |diff| / (1 + max |value|) "
            f"{worst.max_diff:.2e} > {worst.tolerance:.2g}); nothing was written"
        )


@dataclass
class Case:
    """One input of one exported file, and what PyTorch answered (``expected``, in the
    graph's output order)."""

    file: str
    what: str
    batch: int
    steps: int
    feeds: dict[str, np.ndarray]
    expected: list[np.ndarray]


def check_on_onnxruntime(graphs: dict[str, onnx.ModelProto], cases: list[Case]) -> list[Check]:
    """Every case on onnxruntime for Python against PyTorch: the checks an export must pass."""
    sessions = {name: session(graph) for name, graph in graphs.items()}
    checks = []
    for case in cases:
        got = sessions[case.file].run(None, case.feeds)
        worst = max(difference(e, g) for e, g in zip(case.expected, got))
        checks.append(Check(f"{case.file}: {case.what}", case.batch, case.steps, worst))
    return checks


def portability(
    folder: Path, files: dict[str, str], cases: list[Case], names: list[str] | None = None
) -> dict:
    """Every file in ``folder`` on every other installed runtime, on the verification grid's
    inputs (``files`` maps each file to the file whose cases it answers: ``model.int8.onnx``
    answers ``model.onnx``'s). See ``rnnzoo.runtime.engines.compare``."""
    from rnnzoo.runtime.engines import compare

    feeds = {file: [c.feeds for c in cases if c.file == source] for file, source in files.items()}
    return compare(folder, feeds, tolerance(max((c.steps for c in cases), default=1)), names)
