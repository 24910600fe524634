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

from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from rnnzoo.errors import UserError
from rnnzoo.export.step import StepGraph
from rnnzoo.export.verification import TOLERANCE, Case, diff
from rnnzoo.runtime.edge import LITERT as EXTRA
from rnnzoo.runtime.edge import LiteRTStep, quiet, require

FILE = "model.step.tflite"


def step_module(model: nn.Module) -> nn.Module:
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


def start_feeds(model: nn.Module) -> list[np.ndarray]:
    """The states a stream starts from (batch 1), after the input."""
    state = [*model.rnn.start_state(1), *(torch.zeros(1, n) for n in model.streaming_state_sizes)]
    return [s.numpy() for s in state]


def stream_split(run_step, model: nn.Module, split: Any, n: int) -> torch.Tensor:
    """The predictions of the first ``n`` sequences of a split, each streamed from the start
    state one step at a time (the last valid step's for one answer per sequence)."""
    predictions = []
    for i in range(n):
        x = split.x[i : i + 1].numpy()
        steps = int(split.lengths[i]) if split.lengths is not None else x.shape[1]
        feeds, outputs = start_feeds(model), []
        for t in range(steps):
            y, *feeds = run_step([x[:, t], *feeds])
            outputs.append(y)
        if model.per_step:
            padded = np.zeros((1, x.shape[1], *outputs[0].shape[1:]), np.float32)
            padded[:, :steps] = np.stack(outputs, 1)
            predictions.append(padded)
        else:
            predictions.append(outputs[-1])
    return torch.from_numpy(np.concatenate(predictions))


def calibration(model: nn.Module, split: Any, samples: int = 1000) -> list[dict[str, np.ndarray]]:
    """Step inputs as training data reaches them: training sequences streamed through the
    PyTorch step from the start state, every step's input and states (up to ``samples``)."""
    module, found = step_module(model), []
    with torch.no_grad():
        for i in range(len(split.x)):
            x = split.x[i : i + 1]
            steps = int(split.lengths[i]) if split.lengths is not None else x.shape[1]
            state = [torch.from_numpy(v) for v in start_feeds(model)]
            for t in range(steps):
                found.append([x[:, t], *state])
                state = list(module(x[:, t], *state)[1:])
            if len(found) >= samples:
                break
    values = [np.concatenate([f[j].numpy() for f in found]) for j in range(len(found[0]))]
    if not all(np.isfinite(v).all() for v in values):
        raise UserError("the calibration data (training sequences streamed) is not finite")
    return [{f"args_{j}": f[j].numpy() for j in range(len(f))} for f in found[:samples]]


INTEGER = {  # file suffix: ai-edge-quantizer's recipe
    "int8": "static_wi8_ai8",  # int8 weights and activations
    "int16x8": "static_wi8_ai16",  # int8 weights, int16 activations
}


def quantize(fp32: Path, samples: list[dict[str, np.ndarray]], recipe_name: str, out: Path) -> None:
    """A full-integer copy of ``fp32``, calibrated on ``samples`` with each tensor's true
    minimum and maximum (the quantizer's default, a moving average of each sample's range,
    shrinks the ranges of a one-step model and clipped the states badly when measured)."""
    require("ai_edge_quantizer", EXTRA)
    from ai_edge_quantizer import calibrator, quantizer, recipe
    from ai_edge_quantizer.utils import qsv_utils

    with quiet():
        q = quantizer.Quantizer(str(fp32), getattr(recipe, recipe_name)())
        c = calibrator.Calibrator(
            fp32.read_bytes(), num_threads=1, qsv_update_func=qsv_utils.min_max_update
        )
        c.calibrate({"serving_default": samples}, q._recipe_manager)  # noqa: SLF001
        q.quantize(c.get_model_qsvs()).export_model(str(out))


def integer_variants(model: nn.Module, folder: Path, run: Any, n_test: int = 200) -> dict:
    """``model.step.int8.tflite`` and ``model.step.int16x8.tflite``, each with its test
    metrics (the first ``n_test`` test sequences streamed) beside fp32's; none for a model that
    takes missing values (the report says why)."""
    if run.task.missing_values:
        return {"skipped": "integer inputs cannot carry the missing values (NaN) this model takes"}
    test = run.splits["test"]
    n = min(n_test, len(test.x))
    fp32 = folder / FILE
    samples = calibration(model, run.splits["train"])
    report = {
        "calibration": f"{len(samples)} steps of training sequences, min/max per tensor",
        "test_examples": n,
        "fp32": {
            "test_metrics": run.task.evaluate(
                stream_split(LiteRTStep(fp32), model, test, n), test.y[:n]
            )
        },
    }
    for suffix, recipe_name in INTEGER.items():
        path = folder / FILE.replace(".tflite", f".{suffix}.tflite")
        quantize(fp32, samples, recipe_name, path)
        prediction = stream_split(LiteRTStep(path), model, test, n)
        report[suffix] = {
            "file": path.name,
            "size_bytes": path.stat().st_size,
            "test_metrics": run.task.evaluate(prediction, test.y[:n]),
        }
    report["fp32"]["size_bytes"] = fp32.stat().st_size
    return report


def example_inputs(cases: list[Case], names: list[str]) -> tuple[torch.Tensor, ...]:
    """One batch-1 row of the first step case: what a converter traces the step with."""
    return tuple(torch.from_numpy(v) for v in rows(cases[0], names)[0][0])


def checked(run_step, cases: list[Case], names: list[str], model: nn.Module, test_x) -> dict:
    """A target's step against PyTorch (states fed, then a streamed test sequence): the
    card's status and differences."""
    fed, stream = check_step(run_step, cases, names), streamed(run_step, model, test_x)
    worst = max(fed, stream)
    return {
        "status": "ok" if worst <= TOLERANCE else f"differs by {worst:.1e}",
        "max_diff_states_fed": fed,
        "max_diff_streamed": stream,
    }


def write_tflite(
    model: nn.Module, folder: Path, cases: list[Case], names: list[str], test_x: torch.Tensor
) -> dict[str, Any]:
    """``model.step.tflite`` in ``folder``, checked; the card's entry for the target."""
    path = folder / FILE
    convert(model, example_inputs(cases, names), path)
    report = checked(LiteRTStep(path), cases, names, model, test_x)
    return {
        "status": report.pop("status"),
        "file": FILE,
        "converter": f"litert-torch {metadata.version('litert-torch')}",
        "runtime": f"ai-edge-litert {metadata.version('ai-edge-litert')}",
        "size_bytes": path.stat().st_size,
        "operators": operators(path),
        **report,
    }
