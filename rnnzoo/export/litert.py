"""LiteRT (TensorFlow Lite) files of the step model, for phones and microcontrollers.

Converted from the PyTorch step module by litert-torch, not from the ONNX graph: measured for
issue 22, onnx2tf converted reber's step graph only with hand-picked flags and failed on sine's
and on every whole-sequence graph, while litert-torch converted every cell tried straight from
PyTorch (plain FULLY_CONNECTED, LOGISTIC, TANH, … operators that TensorFlow Lite Micro runs).
The file has batch 1 — one stream, as on a device — and is checked row by row against PyTorch
on the export's own streaming cases (random valid states fed), then over a streamed test
sequence from zeros. The whole sequence on these targets is the step streamed.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from rnnzoo.errors import UserError
from rnnzoo.export.verification import TOLERANCE, Case, diff

FILE = "model.step.tflite"
EXTRA = "pip install 'rnnzoo[litert]' (litert-torch)"


MICRO_EXTRA = "pip install 'rnnzoo[micro]' (tflite-micro)"
# what each edge format needs installed: (module, how to install it)
NEEDS = {
    "tflite": [("litert_torch", EXTRA), ("ai_edge_litert", EXTRA)],
    "micro": [("litert_torch", EXTRA), ("ai_edge_litert", EXTRA), ("tflite_micro", MICRO_EXTRA)],
}


def check_installed(formats: tuple[str, ...]) -> None:
    """Before any work: one line naming the extra a requested format needs."""
    import importlib.util

    for fmt in formats:
        for module, extra in NEEDS.get(fmt, []):
            if importlib.util.find_spec(module) is None:
                raise UserError(f"--format {fmt} needs {module}, which is not installed: {extra}")


def require(module: str, extra: str) -> Any:
    """Import an optional converter or runtime, or one line naming the extra to install."""
    import importlib

    try:
        with quiet():
            return importlib.import_module(module)
    except ImportError:
        raise UserError(f"this needs {module}, which is not installed: {extra}") from None


@contextlib.contextmanager
def quiet():
    """TensorFlow's and the converters' C++ logging goes to file descriptor 2 and their
    progress to stdout; neither belongs in rnnzoo's output."""
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def step_module(model: nn.Module) -> nn.Module:
    from rnnzoo.export.sequence import StepGraph

    return StepGraph(model, len(model.rnn.state_sizes)).eval()


def convert(model: nn.Module, example: tuple[torch.Tensor, ...], path: Path) -> None:
    """``model``'s step module to a batch-1 ``.tflite`` at ``path``."""
    litert_torch = require("litert_torch", EXTRA)
    try:
        with quiet(), torch.no_grad():
            litert_torch.convert(step_module(model), example).export(str(path))
    except Exception as error:  # the converter's own words: an operator it cannot take
        text = " ".join(str(error).split())[:300]
        raise UserError(f"litert-torch cannot convert this model's step: {text}") from None


class LiteRTStep:
    """A ``.tflite`` step file on LiteRT's interpreter: inputs and outputs in the step
    module's order (``input``, ``state_i``…, then the streaming states)."""

    def __init__(self, path: Path):
        interpreter = require("ai_edge_litert.interpreter", EXTRA)
        with quiet():
            self.interpreter = interpreter.Interpreter(model_path=str(path))
            self.runner = self.interpreter.get_signature_runner()

    def __call__(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        with quiet():
            out = self.runner(
                **{f"args_{i}": np.ascontiguousarray(v) for i, v in enumerate(inputs)}
            )
        return [out[f"output_{i}"] for i in range(len(out))]


def rows(case: Case, names: list[str]) -> list[tuple[list[np.ndarray], list[np.ndarray]]]:
    """A step case of batch b as b cases of batch 1: the stack's ``state_i`` are ``(layers,
    batch, size)``, everything else has the batch first."""
    axes = [1 if name.startswith("state_") else 0 for name in names]
    outputs = [0, *axes[1:]]
    return [
        (
            [np.take(case.feeds[n], [b], axis=a) for n, a in zip(names, axes)],
            [np.take(v, [b], axis=a) for v, a in zip(case.expected, outputs)],
        )
        for b in range(case.batch)
    ]


def check_step(run_step, cases: list[Case], names: list[str]) -> float:
    """The largest difference from PyTorch over every row of the step cases."""
    worst = 0.0
    for case in cases:
        for feeds, expected in rows(case, names):
            got = run_step(feeds)
            worst = max(worst, *(diff(e, g) for e, g in zip(expected, got)))
    return worst


def streamed(run_step, model: nn.Module, x: torch.Tensor) -> float:
    """One test sequence ``(1, time, …)`` streamed from zeros, against PyTorch's steps."""
    module = step_module(model)
    with torch.no_grad():
        state = [
            *model.rnn.start_state(1),
            *(torch.zeros(1, n) for n in model.streaming_state_sizes),
        ]
        feeds = [s.numpy() for s in state]
        worst = 0.0
        for t in range(x.shape[1]):
            want = module(x[:, t], *state)
            got = run_step([x[:, t].numpy(), *feeds])
            worst = max(worst, *(diff(w.numpy(), g) for w, g in zip(want, got)))
            state, feeds = list(want[1:]), got[1:]
    return worst


def operators(path: Path) -> list[str]:
    """The builtin operators a ``.tflite`` file uses (what a micro op resolver must add)."""
    schema = require("ai_edge_litert.schema_py_generated", EXTRA)
    model = schema.ModelT.InitFromPackedBuf(path.read_bytes(), 0)
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    codes = [max(c.builtinCode, c.deprecatedBuiltinCode) for c in model.operatorCodes]
    used = {op.opcodeIndex for g in model.subgraphs for op in g.operators}
    return sorted(names[codes[i]] for i in used)


def write_tflite(
    model: nn.Module, folder: Path, cases: list[Case], names: list[str], test_x: torch.Tensor
) -> dict[str, Any]:
    """``model.step.tflite`` in ``folder``, checked; the card's entry for the target."""
    example = tuple(torch.from_numpy(v) for v in rows(cases[0], names)[0][0])
    path = folder / FILE
    convert(model, example, path)
    step = LiteRTStep(path)
    fed, stream = check_step(step, cases, names), streamed(step, model, test_x)
    worst = max(fed, stream)
    return {
        "status": "ok" if worst <= TOLERANCE else f"differs by {worst:.1e}",
        "file": FILE,
        "converter": f"litert-torch {metadata.version('litert-torch')}",
        "runtime": f"ai-edge-litert {metadata.version('ai-edge-litert')}",
        "size_bytes": path.stat().st_size,
        "operators": operators(path),
        "max_diff_states_fed": fed,
        "max_diff_streamed": stream,
    }
