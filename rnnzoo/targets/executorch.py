"""ExecuTorch: the step model as a ``.pte`` program for phones and embedded Linux, lowered to
the XNNPACK delegate (``torch.export`` → ``to_edge_transform_and_lower``), checked like the
LiteRT file. Its Python runtime takes only torch tensors (and installs torch itself), so the
runner imports torch when it is used; nothing else here does."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import numpy as np

from rnnzoo.errors import UserError
from rnnzoo.targets.base import StepJob, Target, quiet, require, size_text

EXTRA = "pip install 'rnnzoo[executorch]' (executorch)"
FILE = "model.step.pte"


class ExecuTorchStep:
    """A ``.pte`` step on ExecuTorch's runtime, called like the other targets' steps."""

    def __init__(self, path: Path):
        require("executorch", EXTRA)
        self.torch = importlib.import_module("torch")  # ExecuTorch takes only torch tensors
        with quiet():
            from executorch.runtime import Runtime

            self.method = Runtime.get().load_program(str(path)).load_method("forward")

    def __call__(self, feeds: list[np.ndarray]) -> list[np.ndarray]:
        inputs = [self.torch.from_numpy(np.ascontiguousarray(v, np.float32)) for v in feeds]
        with quiet():
            return [o.numpy().copy() for o in self.method.execute(inputs)]


class ExecuTorch(Target):
    name = "executorch"
    aliases = ("pte",)
    description = "the step model as an ExecuTorch program, XNNPACK delegate (batch 1)"
    needs = (("executorch", EXTRA),)
    run_needs = (("executorch", EXTRA),)
    package = "executorch"
    files_meaning = {FILE: "the step model for ExecuTorch, XNNPACK delegate (batch 1)"}

    def write(self, job: StepJob) -> dict[str, Any]:
        from importlib import metadata

        require("executorch", EXTRA)
        with quiet():  # torchao, imported here, prints the kernels it could not load
            from executorch.backends.xnnpack.partition.xnnpack_partitioner import (
                XnnpackPartitioner,
            )
            from executorch.exir import to_edge_transform_and_lower
        path = job.folder / FILE
        try:
            with quiet(), job.no_grad():
                program = job.exported_program()
                lowered = to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()])
                path.write_bytes(lowered.to_executorch().buffer)
        except Exception as error:  # the exporter's own words: a construct it cannot take
            text = " ".join(str(error).split())[:300]
            raise UserError(f"ExecuTorch cannot lower this model's step: {text}") from None
        report = job.checked(ExecuTorchStep(path))
        return {
            "status": report.pop("status"),
            "file": FILE,
            "runtime": f"executorch {metadata.version('executorch')} (XNNPACK delegate)",
            "size_bytes": path.stat().st_size,
            **report,
        }

    def open(self, folder: Path, file: str, entry: dict[str, Any]) -> ExecuTorchStep:
        return ExecuTorchStep(folder / file)

    def describe(self, entry: dict[str, Any]) -> str:
        text = f"pte {size_text(entry['size_bytes'])}"
        return text if entry.get("status") == "ok" else f"{text} ({entry.get('status')})"
