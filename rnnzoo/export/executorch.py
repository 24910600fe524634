"""ExecuTorch: the step model as a ``.pte`` program for phones and embedded Linux, lowered to the
XNNPACK delegate (``torch.export`` → ``to_edge_transform_and_lower``), checked like the LiteRT
file: row by row on the export's streaming cases, then over a streamed test sequence."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rnnzoo.errors import UserError
from rnnzoo.export.litert import checked, example_inputs, step_module
from rnnzoo.export.verification import Case
from rnnzoo.runtime.edge import EXECUTORCH as EXTRA
from rnnzoo.runtime.edge import ExecuTorchStep, quiet, require

FILE = "model.step.pte"


def convert(model: nn.Module, example: tuple[torch.Tensor, ...], path: Path) -> None:
    require("executorch", EXTRA)
    with quiet():  # torchao, imported here, prints the kernels it could not load
        from executorch.backends.xnnpack.partition.xnnpack_partitioner import (
            XnnpackPartitioner,
        )
        from executorch.exir import to_edge_transform_and_lower

    try:
        with quiet(), torch.no_grad():
            program = torch.export.export(step_module(model), example)
            lowered = to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()])
            path.write_bytes(lowered.to_executorch().buffer)
    except Exception as error:  # the exporter's own words: a construct it cannot take
        text = " ".join(str(error).split())[:300]
        raise UserError(f"ExecuTorch cannot lower this model's step: {text}") from None


def write_pte(
    model: nn.Module, folder: Path, cases: list[Case], names: list[str], test_x: torch.Tensor
) -> dict[str, Any]:
    """``model.step.pte`` in ``folder``, checked; the card's entry for the target."""
    path = folder / FILE
    convert(model, example_inputs(cases, names), path)
    report = checked(ExecuTorchStep(path), cases, names, model, test_x)
    return {
        "status": report.pop("status"),
        "file": FILE,
        "runtime": f"executorch {metadata.version('executorch')} (XNNPACK delegate)",
        "size_bytes": path.stat().st_size,
        **report,
    }
