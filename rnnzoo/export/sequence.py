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

from rnnzoo.card import CLASS_SCORES
from rnnzoo.errors import UserError
from rnnzoo.export import tracing
from rnnzoo.export.quantization import graph_sizes, quantized_copy
from rnnzoo.export.staging import (
    ExportOptions,
    ExportResult,
    common_card,
    finish_files,
    save_graph,
    write_staged,
)
from rnnzoo.export.step import Job, StepGraph
from rnnzoo.export.verification import (
    BATCH_SIZES,
    Case,
    Check,
    as_numpy,
    check_on_onnxruntime,
    check_results,
    difference,
    random_states,
    sample_inputs,
    session,
)
from rnnzoo.runtime.session import zero_state

FILES = {
    "model.onnx": "whole sequences of equal length: input → output and final states",
    "model.full.onnx": "padded batches and initial states: input, lengths, state_i → "
    "output and each row's final states",
    "model.step.onnx": "one time step, state in and out, for streaming",
    "model.int8.onnx": "model.onnx with int8 weights (weight-only), compute in float32",
    "model.full.int8.onnx": "model.full.onnx with int8 weights",
    "test_data_set_0/": "input and expected output of model.onnx, ONNX Model Zoo layout",
    "example.json": "an input for `rnnzoo predict --input`",
}


class PlainGraph(nn.Module):
    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: Tensor):
        prediction, final = self.model(x, return_state=True)
        return (prediction, *final)


class FullGraph(nn.Module):
    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: Tensor, lengths: Tensor, *state: Tensor):
        prediction, final = self.model(x, lengths, tuple(state), return_state=True)
        return (prediction, *final)


def state_names(model: nn.Module) -> list[str]:
    return [f"state_{i}" for i in range(len(model.rnn.state_sizes))]


def streaming_names(model: nn.Module) -> list[str]:
    """The step graph's inputs besides the stack's state: a streaming encoder's buffers
    (``encoder_i``), then the mean readout's running sum and count (``readout_i``)."""
    encoder = len(model.encoder_state_sizes)
    readout = len(model.streaming_state_sizes) - encoder
    return [f"encoder_{i}" for i in range(encoder)] + [f"readout_{i}" for i in range(readout)]


def _traced(model: nn.Module, wrapper: type, args: tuple, names_in: list[str], opset: int):
    """Trace ``wrapper(model)`` with the stack's cells as ONNX operators or Scans."""
    model = copy.deepcopy(model).eval()
    runner = tracing.exporting(model.rnn)
    names = state_names(model)
    dynamic = {
        "input": {0: "batch", 1: "time"},
        "lengths": {0: "batch"},
        **{n: {1: "batch"} for n in names},
        **{n + "_out": {1: "batch"} for n in names},
        "output": {0: "batch", 1: "time"} if model.per_step else {0: "batch"},
    }
    outputs = ["output", *[n + "_out" for n in names]]
    graph = tracing.to_onnx(wrapper(model), args, names_in, outputs, dynamic, opset)
    tracing.replace_cell_scans(graph, runner, opset)
    return graph


def plain_graph(model: nn.Module, example: Tensor, opset: int) -> onnx.ModelProto:
    """``model.onnx``: ``input -> (output, state_i_out...)``, rows of equal length, zero
    initial states: built-in cells as ONNX's recurrent operators."""
    return _traced(model, PlainGraph, (example,), ["input"], opset)


def full_graph(model: nn.Module, example: Tensor, opset: int) -> onnx.ModelProto:
    """``model.full.onnx``: ``(input, lengths, state_i...) -> (output, state_i_out...)``, all
    required: every cell as a masked ``Scan``, so each row's final state is its own."""
    lengths = torch.full((example.shape[0],), example.shape[1], dtype=torch.long)
    states = model.rnn.initial_state(example.shape[0])
    names = ["input", "lengths", *state_names(model)]
    return _traced(model, FullGraph, (example, lengths, *states), names, opset)


def step_graph(model: nn.Module, example: Tensor, opset: int) -> onnx.ModelProto:
    """``model.step.onnx``: ``(input, state_i..., [encoder_i...], [readout_i...]) -> (output,
    state_i_out..., ...)``."""
    model = copy.deepcopy(model).eval()
    tracing.exporting(model.rnn)  # built-in cells as ONNX operators here too
    batch = example.shape[0]
    states = model.rnn.initial_state(batch)
    readout = tuple(torch.zeros(batch, n) for n in model.streaming_state_sizes)
    names = state_names(model) + streaming_names(model)
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


@torch.no_grad()
def cases(model: nn.Module, data: Tensor, train_steps: int, streaming: bool) -> list[Case]:
    """The verification grid: whole sequences of 1, 7, the training length and 4× it steps
    at batch 1, 3 and 17; padded batches with initial states; one streaming step."""
    model = model.eval()
    names = state_names(model)
    grid = []
    for steps in (1, 7, train_steps, 4 * train_steps):
        for batch in BATCH_SIZES:
            x = sample_inputs(data, batch, steps)
            prediction, final = model(x, return_state=True)
            feeds = {"input": x.numpy()}
            grid.append(
                Case("model.onnx", "whole", batch, steps, feeds, as_numpy([prediction, *final]))
            )
    generator = torch.Generator().manual_seed(0)
    for batch, steps in ((1, train_steps), (3, 7), (5, train_steps), (17, 4 * train_steps)):
        x = sample_inputs(data, batch, steps)
        lengths = torch.randint(1, steps + 1, (batch,), generator=generator)
        lengths[0] = steps
        states = random_states(model.rnn, batch, generator)
        prediction, final = model(x, lengths, states, return_state=True)
        feeds = {"input": x.numpy(), "lengths": lengths.numpy()}
        feeds.update({n: s.numpy() for n, s in zip(names, states)})
        what = "padded + initial states"
        grid.append(
            Case("model.full.onnx", what, batch, steps, feeds, as_numpy([prediction, *final]))
        )
    if streaming:
        for batch in BATCH_SIZES:
            before = sample_inputs(data, batch, 6)  # real steps before the one fed
            x = before[:, -1]
            states = random_states(model.rnn, batch, generator)
            readout = model.random_streaming_state(batch, generator, before[:, :-1])
            y, new, new_readout = model.step(x, states, readout)
            feeds = {"input": x.numpy(), **{n: s.numpy() for n, s in zip(names, states)}}
            feeds.update({n: r.numpy() for n, r in zip(streaming_names(model), readout)})
            expected = as_numpy([y, *new, *new_readout])
            grid.append(Case("model.step.onnx", "one step, states fed", batch, 1, feeds, expected))
    return grid


def streamed_check(
    plain: onnx.ModelProto, step: onnx.ModelProto, model: nn.Module, data: Tensor, steps: int
) -> Check:
    """The step graph fed one step at a time from zeros gives the sequence graph's output."""
    x = sample_inputs(data, 3, steps).numpy()
    whole = session(plain).run(["output"], {"input": x})[0]
    stepper = session(step)
    feeds = zero_state(stepper, 3)
    outputs = []
    for t in range(steps):
        y, *new = stepper.run(None, {"input": x[:, t], **feeds})
        feeds = dict(zip(feeds, new))
        outputs.append(y)
    streamed = np.stack(outputs, axis=1) if model.per_step else outputs[-1]
    return Check("model.step.onnx streamed vs model.onnx", 3, steps, difference(whole, streamed))


def usage_lines(streaming: bool) -> list[str]:
    """The card's Python usage after the model is opened: whole sequences, then streaming."""
    lines = [
        'x = np.asarray(example["input"], np.float32)  # (batch, time, *step)',
        "y = model.predict(x)",
    ]
    if streaming:
        lines.append("stream = model.stream(); y_t = stream.step(x[:, 0])  # one step at a time")
    return lines


def build_card(run: Any, out: Path, options: ExportOptions, streaming: bool) -> dict[str, Any]:
    task, model = run.task, run.model
    rnn = model.rnn
    layers = rnn.num_layers * rnn.num_directions
    output_shape = ["batch", "time"] if model.per_step else ["batch"]
    states = [
        {
            "name": name,
            "shape": [layers, "batch", size],
            "meaning": f"state slot {i} of each layer and direction (layer-major): "
            "model.full.onnx and model.step.onnx take it, every file returns it"
            + (
                "; the offset from the cell's learned initial state (zeros start from it)"
                if rnn.states_from_initial
                else ""
            ),
        }
        for i, (name, size) in enumerate(zip(state_names(model), rnn.state_sizes))
    ]
    return {
        **common_card(run, out, options, usage_lines(streaming)),
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
                "meaning": "model.full.onnx: valid steps of each sequence (padded batches)",
            },
            *[{**s, "dtype": "float32"} for s in states],
        ],
        "outputs": [
            {
                "name": "output",
                "shape": [*output_shape, task.output_size],
                "dtype": "float32",
                "meaning": CLASS_SCORES if task.labels else "the prediction",
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


def export_sequence_model(run: Any, out: Path, options: ExportOptions) -> ExportResult:
    """Export a loaded run of the sequence family to ``out``, verified: against PyTorch on
    onnxruntime (any difference fails the export), then on every other installed runtime
    (recorded in the card)."""
    model, test = run.model, run.splits["test"]
    model.rnn.states_from_initial = model.rnn.learns_initial_state  # zeros start from it
    train_steps = run.splits["train"].x.shape[1]
    example = sample_inputs(test.x, 2, train_steps)
    streaming = model.rnn.num_directions == 1
    graphs = {
        "model.onnx": plain_graph(model, example, options.opset),
        "model.full.onnx": full_graph(model, example, options.opset),
    }
    if streaming:
        graphs["model.step.onnx"] = step_graph(model, example, options.opset)
    grid = cases(model, test.x, train_steps, streaming)
    checks = check_on_onnxruntime(graphs, grid)
    if streaming:
        plain, step = graphs["model.onnx"], graphs["model.step.onnx"]
        checks.append(streamed_check(plain, step, model, test.x, train_steps))
    check_results(checks)
    card = build_card(run, out, options, streaming)
    answers = {name: name for name in graphs}  # which file's cases each file answers
    if options.quantize:
        for name in ("model.onnx", "model.full.onnx"):
            answers[name.replace(".onnx", ".int8.onnx")] = name
    card["files"] = {
        name: what for name, what in FILES.items() if name in answers or not name.endswith("onnx")
    }

    edge = [t for t in options.targets if not t.after_files]
    if edge and not streaming:
        raise UserError(
            f"--format {edge[0].name} exports the step model: a bidirectional model has none"
        )

    def write(staging: Path) -> None:
        if options.quantize:
            card["int8"] = quantize_int8(graphs, staging, run)
        if edge:
            job = Job(
                model,
                staging,
                out.name,
                ["input", *state_names(model), *streaming_names(model)],
                [c for c in grid if c.file == "model.step.onnx"],
                graphs["model.step.onnx"],
                run,
                card,
                options.quantize,
            )
            for target in edge:
                target.refuse(job)
            for target in edge:
                target.record(card, target.write(job))
                card["files"].update(target.files_meaning)
        for name, graph in graphs.items():
            save_graph(graph, staging / name, card)
        write_test_data(model, test, staging)
        finish_files(staging, answers, grid, card, options)

    write_staged(out, card, checks, write)
    return ExportResult(out, card, checks)


def write_test_data(model: nn.Module, test: Any, folder: Path) -> None:
    """``test_data_set_0`` for ``model.onnx`` (ONNX Model Zoo layout: three test rows and
    PyTorch's outputs, final states included) and ``example.json`` for ``rnnzoo predict``
    (with the rows' lengths for variable-length tasks)."""
    dataset = folder / "test_data_set_0"
    dataset.mkdir()
    x = test.x[:3]
    with torch.no_grad():
        prediction, final = model(x, return_state=True)
    onnx.save_tensor(numpy_helper.from_array(x.numpy(), "input"), dataset / "input_0.pb")
    names = ["output", *[n + "_out" for n in state_names(model)]]
    for i, (name, value) in enumerate(zip(names, [prediction, *final])):
        onnx.save_tensor(numpy_helper.from_array(value.numpy(), name), dataset / f"output_{i}.pb")
    # missing values (NaN) as null: JSON has no NaN, and rnnzoo's readers take null as NaN
    example = {"input": np.where(np.isnan(x.numpy()), None, x.numpy()).tolist()}
    if test.lengths is not None:
        example["lengths"] = test.lengths[:3].tolist()
    (folder / "example.json").write_text(json.dumps(example) + "\n")


def quantize_int8(graphs: dict[str, onnx.ModelProto], folder: Path, run: Any) -> dict[str, Any]:
    """``model.int8.onnx`` and ``model.full.int8.onnx``, and the test metrics of both
    precisions on up to 2000 examples."""
    sizes, converted, quantized = {"size_bytes": 0, "fp32_size_bytes": 0}, 0, {}
    for name in ("model.onnx", "model.full.onnx"):
        quantized[name], count = quantized_copy(graphs[name])
        converted += count
        for key, value in graph_sizes(graphs[name], quantized[name]).items():
            sizes[key] += value
        onnx.save(quantized[name], str(folder / name.replace(".onnx", ".int8.onnx")))
    test = run.splits["test"]
    n = min(len(test.x), 2000)
    if test.lengths is None:
        name, feeds = "model.onnx", {"input": test.x[:n].numpy()}
    else:
        states = run.model.rnn.start_state(n)
        name = "model.full.onnx"
        feeds = {"input": test.x[:n].numpy(), "lengths": test.lengths[:n].numpy()}
        feeds.update({s: v.numpy() for s, v in zip(state_names(run.model), states)})
    metrics = {}
    for precision, candidate in (("fp32", graphs[name]), ("int8", quantized[name])):
        prediction = session(candidate).run(["output"], feeds)[0]
        metrics[precision] = run.task.evaluate(torch.from_numpy(prediction), test.y[:n])
    return {
        "note": f"weight-only int8 (QDQ) for {converted} weight matrices; compute in float32",
        **sizes,
        "test_examples": n,
        "test_metrics": metrics["int8"],
        "fp32_test_metrics": metrics["fp32"],
    }
