"""Exporting the sequence family: ``model.onnx`` (whole sequences, dynamic batch and time,
optional ``lengths`` and initial states) and ``model.step.onnx`` (one step, state in and out,
for streaming), verified against PyTorch on a grid of batch sizes and lengths."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from torch import Tensor, nn

from rnnzoo.export import graphs, tracing
from rnnzoo.export.quantization import graph_sizes, quantized_copy
from rnnzoo.export.staging import ExportResult, common_card, save_graph, write_staged
from rnnzoo.export.verification import (
    BATCH_SIZES,
    Check,
    check_results,
    diff,
    max_diff,
    random_states,
    sample_inputs,
    session,
)
from rnnzoo.runtime.session import zero_state

FILES = {
    "model.onnx": "whole sequences, dynamic batch and time",
    "model.step.onnx": "one time step, state in and out, for streaming",
    "model.int8.onnx": "int8 weights (weight-only), compute in float32",
    "test_data_set_0/": "input and expected output in the ONNX Model Zoo layout",
    "example.json": "an input for `rnnzoo predict --input`",
}


class SequenceGraph(nn.Module):
    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: Tensor, lengths: Tensor, *state: Tensor):
        prediction, final = self.model(x, lengths, tuple(state), return_state=True)
        return (prediction, *final)


class StepGraph(nn.Module):
    def __init__(self, model: nn.Module, n_states: int):
        super().__init__()
        self.model, self.n_states = model, n_states

    def forward(self, x: Tensor, *states: Tensor):
        y, state, readout = self.model.step(x, states[: self.n_states], states[self.n_states :])
        return (y, *state, *readout)


def state_names(model: nn.Module) -> list[str]:
    return [f"state_{i}" for i in range(len(model.rnn.state_sizes))]


def sequence_graph(model: nn.Module, example: Tensor, opset: int) -> onnx.ModelProto:
    """``model.onnx``: ``(input, [lengths], [state_i...]) -> (output, state_i_out...)``."""
    model = copy.deepcopy(model).eval()
    runner = tracing.exporting(model.rnn)
    states = model.rnn.initial_state(example.shape[0])
    names = state_names(model)
    lengths = torch.full((example.shape[0],), example.shape[1], dtype=torch.long)
    dynamic = {
        "input": {0: "batch", 1: "time"},
        "lengths": {0: "batch"},
        **{n: {1: "batch"} for n in names},
        **{n + "_out": {1: "batch"} for n in names},
        "output": {0: "batch", 1: "time"} if model.per_step else {0: "batch"},
    }
    graph = tracing.to_onnx(
        SequenceGraph(model),
        (example, lengths, *states),
        ["input", "lengths", *names],
        ["output", *[n + "_out" for n in names]],
        dynamic,
        opset,
    )
    tracing.replace_cell_loops(graph, runner, opset)
    layers = model.rnn.num_layers * model.rnn.num_directions
    defaults = {n: graphs.zero_state(layers, s) for n, s in zip(names, model.rnn.state_sizes)}
    graphs.make_optional(graph, "input", {"lengths": graphs.full_lengths, **defaults})
    return graph


def step_graph(model: nn.Module, example: Tensor, opset: int) -> onnx.ModelProto:
    """``model.step.onnx``: ``(input, state_i..., [readout_i...]) -> (output, state_i_out...)``."""
    model = copy.deepcopy(model).eval()
    tracing.exporting(model.rnn)  # built-in cells as ONNX operators here too
    batch = example.shape[0]
    states = model.rnn.initial_state(batch)
    readout = tuple(torch.zeros(batch, n) for n in model.streaming_state_sizes)
    names = state_names(model) + [f"readout_{i}" for i in range(len(readout))]
    dynamic = {"input": {0: "batch"}, "output": {0: "batch"}}
    for i, name in enumerate(names):
        axis = 1 if i < len(states) else 0
        dynamic[name] = dynamic[name + "_out"] = {axis: "batch"}
    return tracing.to_onnx(
        StepGraph(model, len(states)),
        (example[:, 0], *states, *readout),
        ["input", *names],
        ["output", *[n + "_out" for n in names]],
        dynamic,
        opset,
    )


def verify(
    model: nn.Module,
    graph: onnx.ModelProto,
    step: onnx.ModelProto | None,
    data: Tensor,
    train_steps: int,
) -> list[Check]:
    """Compare onnxruntime with PyTorch on the grid of batch sizes and lengths, on padded
    batches, with initial states, and the step graph with the sequence graph."""
    whole = session(graph)
    checks = []
    model = model.eval()
    names = state_names(model)
    with torch.no_grad():
        for steps in (1, 7, train_steps, 4 * train_steps):
            for batch in BATCH_SIZES:
                x = sample_inputs(data, batch, steps)
                got = whole.run(["output"], {"input": x.numpy()})[0]
                checks.append(Check("sequence", batch, steps, diff(model(x).numpy(), got)))
        generator = torch.Generator().manual_seed(0)
        x = sample_inputs(data, 5, train_steps)
        lengths = torch.randint(1, train_steps + 1, (5,), generator=generator)
        lengths[0] = train_steps
        states = random_states(model.rnn, 5, generator)
        expected, final = model(x, lengths, states, return_state=True)
        feeds = {"input": x.numpy(), "lengths": lengths.numpy()}
        got = whole.run(None, {**feeds, **{n: s.numpy() for n, s in zip(names, states)}})
        checks.append(
            Check("padded + initial state", 5, train_steps, max_diff([expected, *final], got))
        )
        if step is not None:
            streamed = step_diff(whole, session(step), model, data, train_steps)
            checks.append(Check("step graph vs sequence", 3, train_steps, streamed))
    return checks


def step_diff(sequence, step, model: nn.Module, data: Tensor, steps: int) -> float:
    x = sample_inputs(data, 3, steps).numpy()
    whole = sequence.run(["output"], {"input": x})[0]
    feeds = zero_state(step, 3)
    outputs = []
    for t in range(steps):
        y, *new = step.run(None, {"input": x[:, t], **feeds})
        feeds = dict(zip(feeds, new))
        outputs.append(y)
    streamed = np.stack(outputs, axis=1) if model.per_step else outputs[-1]
    return diff(whole, streamed)


def build_card(run: Any, opset: int, streaming: bool) -> dict[str, Any]:
    task, model = run.task, run.model
    rnn = model.rnn
    layers = rnn.num_layers * rnn.num_directions
    output_shape = ["batch", "time"] if model.per_step else ["batch"]
    states = [
        {
            "name": name,
            "shape": [layers, "batch", size],
            "meaning": f"state slot {i} of each layer and direction (layer-major), "
            "zeros when not fed",
        }
        for i, (name, size) in enumerate(zip(state_names(model), rnn.state_sizes))
    ]
    return {
        **common_card(run, opset),
        "readout": model.readout or "per_step",
        "inputs": [
            {
                "name": "input",
                "shape": ["batch", "time", *task.input_shape],
                "dtype": "float32",
                "meaning": "the sequences, (batch, time, features)",
            },
            {
                "name": "lengths",
                "shape": ["batch"],
                "dtype": "int64",
                "optional": True,
                "meaning": "valid steps of each sequence (padded batches); default: all",
            },
            *[{**s, "dtype": "float32", "optional": True} for s in states],
        ],
        "outputs": [
            {
                "name": "output",
                "shape": [*output_shape, task.output_size],
                "dtype": "float32",
                "meaning": "class scores (logits)" if task.labels else "the prediction",
            },
            *[
                {
                    "name": s["name"] + "_out",
                    "shape": s["shape"],
                    "dtype": "float32",
                    "meaning": "final " + s["name"],
                }
                for s in states
            ],
        ],
        "per_step": model.per_step,
        "state_sizes": list(rnn.state_sizes),
        "streaming_state_sizes": list(model.streaming_state_sizes),
        "streaming": streaming,
    }


def export_sequence_model(run: Any, out: Path, opset: int, quantize: str | None) -> ExportResult:
    """Export a loaded run of the sequence family to ``out``, verified."""
    model, test = run.model, run.splits["test"]
    train_steps = run.splits["train"].x.shape[1]
    example = sample_inputs(test.x, 2, train_steps)
    streaming = model.rnn.num_directions == 1
    graph = sequence_graph(model, example, opset)
    step = step_graph(model, example, opset) if streaming else None
    checks = verify(model, graph, step, test.x, train_steps)
    check_results(checks)
    card = build_card(run, opset, streaming)
    wanted = {"model.onnx", "test_data_set_0/", "example.json"}
    wanted |= {"model.step.onnx"} if streaming else set()
    wanted |= {"model.int8.onnx"} if quantize else set()
    card["files"] = {name: what for name, what in FILES.items() if name in wanted}

    def write(staging: Path) -> None:
        if quantize:
            card["int8"] = quantize_int8(graph, staging / "model.int8.onnx", run, card)
        save_graph(graph, staging / "model.onnx", card)
        if step is not None:
            save_graph(step, staging / "model.step.onnx", card)
        write_test_data(model, test, staging)

    write_staged(out, card, checks, write)
    return ExportResult(out, card, checks)


def write_test_data(model: nn.Module, test: Any, folder: Path) -> None:
    """``test_data_set_0`` (ONNX Model Zoo layout, outputs by PyTorch) and ``example.json``."""
    dataset = folder / "test_data_set_0"
    dataset.mkdir()
    x, lengths = test.x[:3], None if test.lengths is None else test.lengths[:3]
    with torch.no_grad():
        y = model(x, lengths)
    inputs = [("input", x)] + ([] if lengths is None else [("lengths", lengths)])
    for i, (name, value) in enumerate(inputs):
        onnx.save_tensor(numpy_helper.from_array(value.numpy(), name), dataset / f"input_{i}.pb")
    onnx.save_tensor(numpy_helper.from_array(y.numpy(), "output"), dataset / "output_0.pb")
    example = {name: value.tolist() for name, value in inputs}
    (folder / "example.json").write_text(json.dumps(example) + "\n")


def quantize_int8(graph: onnx.ModelProto, path: Path, run: Any, card: dict) -> dict[str, Any]:
    """``model.int8.onnx`` and the test metrics of both precisions on up to 2000 examples."""
    quantized, converted = quantized_copy(graph)
    sizes = graph_sizes(graph, quantized)  # before the card goes into the metadata
    save_graph(quantized, path, card)
    test = run.splits["test"]
    n = min(len(test.x), 2000)
    feeds = {"input": test.x[:n].numpy()}
    if test.lengths is not None:
        feeds["lengths"] = test.lengths[:n].numpy()
    metrics = {}
    for precision, candidate in (("fp32", graph), ("int8", quantized)):
        prediction = session(candidate).run(["output"], feeds)[0]
        metrics[precision] = run.task.evaluate(torch.from_numpy(prediction), test.y[:n])
    return {
        "note": f"weight-only int8 (QDQ) for {converted} weight matrices; compute in float32",
        **sizes,
        "test_examples": n,
        "test_metrics": metrics["int8"],
        "fp32_test_metrics": metrics["fp32"],
    }
