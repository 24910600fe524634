"""torch → ONNX: the whole-sequence graph, the one-step streaming graph, the model card and a
test data set, verified against PyTorch with onnxruntime before anything is written.

Built-in cells become ONNX's own ``RNN`` / ``LSTM`` / ``GRU`` operators (through each cell's
``onnx_operator``); any other cell becomes a ``Loop`` around its step graph. Nothing is ever
unrolled to a fixed length: batch and time axes stay dynamic.
"""

from __future__ import annotations

import copy
import io
import json
import shutil
import tempfile
import warnings
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from torch import Tensor, nn

from rnnzoo import onnx_graph
from rnnzoo.cells.base import Cell, State
from rnnzoo.errors import UserError
from rnnzoo.model import SequenceModel
from rnnzoo.recurrent import unroll
from rnnzoo.registry import task_entry
from rnnzoo.runtime import open_session, zero_state

DEFAULT_OPSET = 17
TOLERANCE = 1e-5
BATCH_SIZES = (1, 3, 17)


class ExportError(UserError):
    """The export failed its verification; nothing was written."""


# --- how cells run while being exported -------------------------------------------------------


class _RecurrentOperator(torch.autograd.Function):
    """Emits one ONNX RNN/LSTM/GRU node; in PyTorch it only produces outputs of the right shape
    (tracing needs shapes, not values)."""

    @staticmethod
    def forward(ctx, x, lengths, op_type, attributes, hidden, n_weights, *tensors):
        steps, batch = x.shape[:2]
        n_states = len(tensors) - n_weights
        return (
            x.new_zeros(steps, 1, batch, hidden),
            *[x.new_zeros(1, batch, hidden) for _ in range(n_states)],
        )

    @staticmethod
    def symbolic(g, x, lengths, op_type, attributes, hidden, n_weights, *tensors):
        weights, states = tensors[:n_weights], tensors[n_weights:]
        if lengths is None:  # ONNX's optional sequence_lens left out: every sequence is whole
            lengths = g.op("prim::Constant")
            lengths.setType(torch._C.OptionalType.ofTensor())
        inputs = [x, *weights[:3], lengths, *states, *weights[3:]]  # P comes last
        kwargs = {"hidden_size_i": hidden}
        for key, value in json.loads(attributes).items():
            first = value[0] if isinstance(value, list) and value else value
            suffix = {str: "_s", float: "_f", int: "_i"}[type(first)]
            kwargs[key + suffix] = value
        outputs = g.op(op_type, *inputs, outputs=1 + len(states), **kwargs)
        # dynamic shapes, so later shape arithmetic (e.g. the seq2vec readout) stays dynamic
        outputs[0].setType(x.type().with_sizes([None, 1, None, hidden]))
        for value in outputs[1:]:
            value.setType(x.type().with_sizes([1, None, hidden]))
        return outputs


class _CellLoopPlaceholder(torch.autograd.Function):
    """Marks where a cell without an ONNX operator runs; replaced by a ``Loop`` afterwards."""

    @staticmethod
    def forward(ctx, x, lengths, index, output_size, *states):
        return (x.new_zeros(x.shape[0], x.shape[1], output_size), *[s.clone() for s in states])

    @staticmethod
    def symbolic(g, x, lengths, index, output_size, *states):
        outputs = g.op(
            "rnnzoo::CellLoop", x, lengths, *states, index_i=index, outputs=1 + len(states)
        )
        outputs[0].setType(x.type().with_sizes([None, None, output_size]))
        for value, state in zip(outputs[1:], states):
            value.setType(state.type())
        return outputs


class _CellStep(nn.Module):
    """One masked time step of one cell: the body of its ONNX ``Loop``."""

    def __init__(self, cell: Cell):
        super().__init__()
        self.cell = cell

    def forward(self, x: Tensor, valid: Tensor, *state: Tensor):
        y, new_state = self.cell.step(x, state)
        keep = valid > 0.5
        return (y * valid, *[torch.where(keep, n, s) for n, s in zip(new_state, state)])


class _ExportRunner:
    """The ``sequence_runner`` used while exporting; remembers the cells that need a Loop."""

    def __init__(self):
        self.loop_cells: list[Cell] = []

    def __call__(self, cell: Cell, x: Tensor, state: State, lengths: Tensor | None):
        op = cell.onnx_operator()
        if lengths is None and op is None:  # the step graph: one step, no Loop needed
            return unroll(cell, x, state)
        if op is None:
            self.loop_cells.append(cell)
            out = _CellLoopPlaceholder.apply(
                x, lengths, len(self.loop_cells) - 1, cell.output_size, *state
            )
            return out[0], tuple(out[1:])
        out = _RecurrentOperator.apply(
            x.transpose(0, 1),
            None if lengths is None else lengths.to(torch.int32),
            op.op_type,
            json.dumps(op.attributes),
            cell.hidden_size,
            len(op.inputs),
            *op.inputs,
            *[s.unsqueeze(0) for s in state],
        )
        return out[0].squeeze(1).transpose(0, 1), tuple(s.squeeze(0) for s in out[1:])


# --- the two graphs --------------------------------------------------------------------------


class _SequenceGraph(nn.Module):
    def __init__(self, model: SequenceModel):
        super().__init__()
        self.model = model

    def forward(self, x: Tensor, lengths: Tensor, *state: Tensor):
        prediction, final = self.model(x, lengths, tuple(state), return_state=True)
        return (prediction, *final)


class _StepGraph(nn.Module):
    def __init__(self, model: SequenceModel, n_states: int):
        super().__init__()
        self.model, self.n_states = model, n_states

    def forward(self, x: Tensor, *states: Tensor):
        y, state, readout = self.model.step(x, states[: self.n_states], states[self.n_states :])
        return (y, *state, *readout)


def _to_onnx(
    module: nn.Module,
    args: tuple,
    names_in: list[str],
    names_out: list[str],
    dynamic: dict[str, dict[int, str]],
    opset: int,
) -> onnx.ModelProto:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            args,
            buffer,
            dynamo=False,
            opset_version=opset,
            input_names=names_in,
            output_names=names_out,
            dynamic_axes=dynamic,
            do_constant_folding=True,
        )
    return onnx.load_from_string(buffer.getvalue())


def _cell_step_graph(cell: Cell, opset: int) -> onnx.ModelProto:
    batch = 2
    states = cell.initial_state(batch)
    names = [f"s{i}" for i in range(len(states))]
    dynamic = {n: {0: "batch"} for n in ["x", "valid", *names, "y", *[n + "_out" for n in names]]}
    return _to_onnx(
        _CellStep(cell).eval(),
        (torch.zeros(batch, cell.input_size), torch.ones(batch, 1), *states),
        ["x", "valid", *names],
        ["y", *[n + "_out" for n in names]],
        dynamic,
        opset,
    )


def state_names(model: SequenceModel) -> list[str]:
    return [f"state_{i}" for i in range(len(model.rnn.state_sizes))]


def _replace_cell_loops(graph: onnx.ModelProto, runner: _ExportRunner, opset: int) -> None:
    """Swap each placeholder left by the runner for a ``Loop`` around its cell's step graph."""
    for index, node in [(i, n) for i, n in enumerate(graph.graph.node) if n.op_type == "CellLoop"]:
        cell = runner.loop_cells[next(a.i for a in node.attribute if a.name == "index")]
        step = _cell_step_graph(cell, opset)
        replacement = onnx_graph.loop_from_step(node, step, prefix=f"cell{index}_")
        position = list(graph.graph.node).index(node)
        graph.graph.node.remove(node)
        for offset, new in enumerate(replacement):
            graph.graph.node.insert(position + offset, new)
    for opset_import in list(graph.opset_import):
        if opset_import.domain == "rnnzoo":
            graph.opset_import.remove(opset_import)


def sequence_graph(model: SequenceModel, example: Tensor, opset: int) -> onnx.ModelProto:
    """``model.onnx``: ``(input, [lengths], [state_i...]) -> (output, state_i_out...)``."""
    model = copy.deepcopy(model).eval()
    runner = _ExportRunner()
    model.rnn.sequence_runner = runner
    states = model.rnn.initial_state(example.shape[0])
    names = state_names(model)
    lengths = torch.full((example.shape[0],), example.shape[1], dtype=torch.long)
    outputs = ["output", *[n + "_out" for n in names]]
    dynamic = {
        "input": {0: "batch", 1: "time"},
        "lengths": {0: "batch"},
        **{n: {1: "batch"} for n in names},
        **{n + "_out": {1: "batch"} for n in names},
        "output": {0: "batch", 1: "time"} if model.kind == "seq2seq" else {0: "batch"},
    }
    graph = _to_onnx(
        _SequenceGraph(model),
        (example, lengths, *states),
        ["input", "lengths", *names],
        outputs,
        dynamic,
        opset,
    )
    _replace_cell_loops(graph, runner, opset)
    layers = model.rnn.num_layers * model.rnn.num_directions
    onnx_graph.make_optional(
        graph,
        "input",
        {
            "lengths": onnx_graph.full_lengths,
            **{
                n: onnx_graph.zero_state(layers, size)
                for n, size in zip(names, model.rnn.state_sizes)
            },
        },
    )
    return graph


def step_graph(model: SequenceModel, example: Tensor, opset: int) -> onnx.ModelProto:
    """``model.step.onnx``: ``(input, state_i..., [readout_i...]) -> (output, state_i_out...)``."""
    model = copy.deepcopy(model).eval()
    model.rnn.sequence_runner = _ExportRunner()  # built-in cells as ONNX operators here too
    batch = example.shape[0]
    states = model.rnn.initial_state(batch)
    readout = tuple(torch.zeros(batch, n) for n in model.streaming_state_sizes)
    names = state_names(model) + [f"readout_{i}" for i in range(len(readout))]
    dynamic = {"input": {0: "batch"}, "output": {0: "batch"}}
    for i, name in enumerate(names):
        axis = 1 if i < len(states) else 0
        dynamic[name] = dynamic[name + "_out"] = {axis: "batch"}
    return _to_onnx(
        _StepGraph(model, len(states)),
        (example[:, 0], *states, *readout),
        ["input", *names],
        ["output", *[n + "_out" for n in names]],
        dynamic,
        opset,
    )


# --- verification ------------------------------------------------------------------------------


@dataclass
class Check:
    what: str
    batch: int
    steps: int
    max_diff: float

    @property
    def ok(self) -> bool:
        return self.max_diff <= TOLERANCE


def sample_inputs(data: Tensor, batch: int, steps: int) -> Tensor:
    """Real examples, cut or tiled along time to ``steps``, repeated to ``batch``."""
    index = torch.arange(batch) % len(data)
    rows = data[index]
    reps = -(-steps // rows.shape[1])
    return rows.repeat(1, reps, *([1] * (rows.ndim - 2)))[:, :steps].contiguous()


def _session(graph: onnx.ModelProto):
    return open_session(graph.SerializeToString())


def verify(
    model: SequenceModel,
    graph: onnx.ModelProto,
    step: onnx.ModelProto | None,
    data: Tensor,
    train_steps: int,
) -> list[Check]:
    """Compare onnxruntime with PyTorch on the grid of batch sizes and lengths, on padded
    batches, with initial states, and the step graph with the sequence graph."""
    session = _session(graph)
    checks = []
    model = model.eval()
    names = state_names(model)
    with torch.no_grad():
        for steps in (1, 7, train_steps, 4 * train_steps):
            for batch in BATCH_SIZES:
                x = sample_inputs(data, batch, steps)
                expected = model(x).numpy()
                got = session.run(["output"], {"input": x.numpy()})[0]
                checks.append(Check("sequence", batch, steps, _diff(expected, got)))
        generator = torch.Generator().manual_seed(0)
        x = sample_inputs(data, 5, train_steps)
        lengths = torch.randint(1, train_steps + 1, (5,), generator=generator)
        lengths[0] = train_steps
        states = tuple(
            0.5 * torch.randn(s.shape, generator=generator) for s in model.rnn.initial_state(5)
        )
        expected, final = model(x, lengths, states, return_state=True)
        got = session.run(
            None,
            {
                "input": x.numpy(),
                "lengths": lengths.numpy(),
                **{n: s.numpy() for n, s in zip(names, states)},
            },
        )
        diffs = [_diff(expected.numpy(), got[0])] + [
            _diff(e.numpy(), g) for e, g in zip(final, got[1:])
        ]
        checks.append(Check("padded + initial state", 5, train_steps, max(diffs)))
        if step is not None:
            checks.append(
                Check(
                    "step graph vs sequence",
                    3,
                    train_steps,
                    _step_diff(session, _session(step), model, data, train_steps),
                )
            )
    return checks


def _diff(expected: np.ndarray, got: np.ndarray) -> float:
    """max |expected − got| / (1 + |expected|): the absolute difference for values up to
    about 1, the relative one for larger values (a classifier's logits over 4× the training
    length reach 1e-5 in absolute terms from float32 rounding alone)."""
    if expected.shape != got.shape:
        return float("inf")
    if not expected.size:
        return 0.0
    return float((np.abs(expected - got) / (1 + np.abs(expected))).max())


def _step_diff(sequence, step, model: SequenceModel, data: Tensor, steps: int) -> float:
    x = sample_inputs(data, 3, steps).numpy()
    whole = sequence.run(["output"], {"input": x})[0]
    feeds = zero_state(step, 3)
    outputs = []
    for t in range(steps):
        y, *new = step.run(None, {"input": x[:, t], **feeds})
        feeds = dict(zip(feeds, new))
        outputs.append(y)
    streamed = np.stack(outputs, axis=1) if model.kind == "seq2seq" else outputs[-1]
    return _diff(whole, streamed)


# --- files -------------------------------------------------------------------------------------


@dataclass
class ExportResult:
    out: Path
    card: dict[str, Any]
    checks: list[Check] = field(default_factory=list)


def versions() -> dict[str, str]:
    import onnxruntime

    return {
        "rnnzoo": metadata.version("rnnzoo"),
        "torch": torch.__version__,
        "onnx": onnx.__version__,
        "onnxruntime": onnxruntime.__version__,
    }


def card_basics(task, config: dict, summary: dict, opset: int) -> dict[str, Any]:
    """What every model card says, whatever the kind of model."""
    return {
        "format": "rnnzoo-card/1",
        "task": config["task"],
        "task_params": config["task_params"],
        "kind": task.kind,
        "description": task.description or task_entry(config["task"]).description,
        "cell": config["cell"],
        "cell_params": config["cell_params"],
        "hidden": config["hidden"],
        "layers": config["layers"],
        "bidirectional": config["bidirectional"],
        "preprocessing": getattr(task, "preprocessing", "none: feed the task's inputs as they are"),
        "labels": task.labels,
        "metrics": {"test": summary.get("test"), "baseline_test": summary.get("baseline_test")},
        "training": {k: config[k] for k in ("epochs", "batch_size", "lr", "seed")},
        "opset": opset,
        "versions": versions(),
    }


def build_card(
    task, model: SequenceModel, config: dict, summary: dict, opset: int, streaming: bool
) -> dict[str, Any]:
    rnn = model.rnn
    layers = rnn.num_layers * rnn.num_directions
    output_shape = (
        ["batch", "time", task.output_size]
        if task.kind == "seq2seq"
        else ["batch", task.output_size]
    )
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
        **card_basics(task, config, summary, opset),
        "readout": model.readout,
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
                "shape": output_shape,
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
        "state_sizes": list(rnn.state_sizes),
        "streaming_state_sizes": list(model.streaming_state_sizes),
        "streaming": streaming,
    }


def card_markdown(card: dict[str, Any], checks: list[Check]) -> str:
    lines = [
        f"# {card['task']} / {card['cell']}",
        "",
        card["description"],
        "",
        f"- kind: {card['kind']}; cell `{card['cell']}` {card['cell_params'] or ''}, "
        f"{card['layers']} layer(s) × {card['hidden']} units"
        f"{', bidirectional' if card['bidirectional'] else ''}",
        f"- preprocessing: {card['preprocessing']}",
        f"- opset {card['opset']}; " + ", ".join(f"{k} {v}" for k, v in card["versions"].items()),
        "",
        "| file | what |",
        "|---|---|",
    ]
    if card["kind"] in ("encdec", "vec2seq"):
        lines += [
            "| `encoder.onnx` | the source → the decoder's first state |",
            "| `decoder.step.onnx` | previous token and state → next-token scores and state |",
        ]
        int8_files = "`encoder.int8.onnx`, `decoder.step.int8.onnx`"
    else:
        lines.append("| `model.onnx` | whole sequences, dynamic batch and time |")
        int8_files = "`model.int8.onnx`"
    if card["streaming"]:
        lines.append("| `model.step.onnx` | one time step, state in and out, for streaming |")
    if card.get("int8"):
        lines.append(f"| {int8_files} | int8 weights: {card['int8']['note']} |")
    lines += ["", "## Inputs and outputs", "", "| name | shape | meaning |", "|---|---|---|"]
    for item in card["inputs"] + card["outputs"]:
        lines.append(f"| `{item['name']}` | {item['shape']} | {item['meaning']} |")
    if card["labels"]:
        lines += ["", "Labels: " + ", ".join(f"{i} {n}" for i, n in enumerate(card["labels"]))]
    lines += ["", "## Metrics (test split)", "", "| metric | model | baseline |", "|---|---|---|"]
    test, base = card["metrics"]["test"] or {}, card["metrics"]["baseline_test"] or {}
    for key, value in test.items():
        shown = f"{base[key]:.4f}" if key in base else "—"
        lines.append(f"| {key} | {value:.4f} | {shown} |")
    lines += [
        "",
        f"## Verification (onnxruntime vs PyTorch: max |diff| / (1 + |value|) ≤ {TOLERANCE:g})",
        "",
        "| check | batch | steps | max abs diff |",
        "|---|---|---|---|",
    ]
    lines += [f"| {c.what} | {c.batch} | {c.steps} | {c.max_diff:.2e} |" for c in checks]
    return "\n".join(lines) + "\n"


def _save(graph: onnx.ModelProto, path: Path, card: dict[str, Any]) -> None:
    onnx.helper.set_model_props(
        graph, {"rnnzoo_card": json.dumps(card), "task": card["task"], "cell": card["cell"]}
    )
    graph.producer_name, graph.producer_version = "rnnzoo", card["versions"]["rnnzoo"]
    onnx.save(graph, str(path))
    onnx.checker.check_model(str(path), full_check=True)


def export_run(
    run_dir: str | Path, out: str | Path, opset: int | None = None, quantize: str | None = None
) -> ExportResult:
    """Export a trained run to ``out``; raises ``ExportError`` (writing nothing) when
    onnxruntime and PyTorch disagree anywhere on the verification grid."""
    from rnnzoo.runs import load_run

    opset = opset or DEFAULT_OPSET
    if opset < 14:
        raise UserError(f"--opset {opset}: rnnzoo needs opset 14 or newer")
    if quantize not in (None, "int8"):
        raise UserError(f"--quantize takes int8, not {quantize!r}")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UserError(f"{out} is a file; --out names the export folder")
    if out.exists() and not (out / "card.json").is_file() and any(out.iterdir()):
        raise UserError(f"{out} exists and is not an rnnzoo export; choose another --out")
    task, splits, model, config = load_run(run_dir)
    summary_path = Path(run_dir) / "summary.json"
    try:
        summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    except ValueError:
        summary = {}  # the metrics are optional in the card; the weights are what matter
    if task.kind in ("encdec", "vec2seq"):
        from rnnzoo.export_encdec import export_token_decoder

        return export_token_decoder(task, splits, model, config, summary, out, opset, quantize)
    test = splits["test"]
    train_steps = splits["train"].x.shape[1]
    example = sample_inputs(test.x, 2, train_steps)
    streaming = model.rnn.num_directions == 1
    graph = sequence_graph(model, example, opset)
    step = step_graph(model, example, opset) if streaming else None
    checks = verify(model, graph, step, test.x, train_steps)
    check_results(checks)
    card = build_card(task, model, config, summary, opset, streaming)
    card["verification"] = [c.__dict__ for c in checks]

    def write(staging: Path) -> None:
        if quantize:
            card["int8"] = quantize_int8(graph, staging / "model.int8.onnx", task, test, card)
        _save(graph, staging / "model.onnx", card)
        if step is not None:
            _save(step, staging / "model.step.onnx", card)
        dataset = staging / "test_data_set_0"
        dataset.mkdir()
        x, lengths = test.x[:3], None if test.lengths is None else test.lengths[:3]
        with torch.no_grad():
            y = model(x, lengths)
        inputs = [("input", x)] + ([] if lengths is None else [("lengths", lengths)])
        for i, (name, value) in enumerate(inputs):
            onnx.save_tensor(
                numpy_helper.from_array(value.numpy(), name), dataset / f"input_{i}.pb"
            )
        onnx.save_tensor(numpy_helper.from_array(y.numpy(), "output"), dataset / "output_0.pb")
        example = {name: value.tolist() for name, value in inputs}  # for `rnnzoo predict`
        (staging / "example.json").write_text(json.dumps(example) + "\n")

    write_staged(out, card, checks, write)
    return ExportResult(out, card, checks)


def write_staged(out: Path, card: dict, checks: list[Check], write) -> None:
    """``write(folder)`` into a staging folder beside ``out``, add the card, then rename it
    into place: a failure leaves nothing half-written."""
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        write(staging)
        (staging / "card.json").write_text(json.dumps(card, indent=2) + "\n")
        (staging / "README.md").write_text(card_markdown(card, checks))
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def check_results(checks: list[Check]) -> None:
    bad = [c for c in checks if not c.ok]
    if bad:
        worst = max(bad, key=lambda c: c.max_diff)
        raise ExportError(
            f"onnxruntime disagrees with PyTorch ({worst.what}, batch "
            f"{worst.batch}, {worst.steps} steps: max |diff| / (1 + |value|) "
            f"{worst.max_diff:.2e} > {TOLERANCE:g}); nothing was written"
        )


def quantize_int8(graph: onnx.ModelProto, path: Path, task, test, card: dict) -> dict[str, Any]:
    """``model.int8.onnx``: every weight matrix stored as int8 (QDQ, weight-only), compute in
    float32. Chosen over onnxruntime's dynamic quantization, which also quantizes activations:
    on a trained sine LSTM that raised the test MSE from 0.057 to 0.69, and it fuses only LSTM
    (GRU and RNN weights would stay float)."""
    quantized = onnx.ModelProto()
    quantized.CopyFrom(graph)
    converted = onnx_graph.quantize_weights(quantized.graph)
    _save(quantized, path, card)
    n = min(len(test.x), 2000)
    feeds = {"input": test.x[:n].numpy()}
    if test.lengths is not None:
        feeds["lengths"] = test.lengths[:n].numpy()
    fp32_prediction = _session(graph).run(["output"], feeds)[0]
    int8_prediction = _session(quantized).run(["output"], feeds)[0]
    return {
        "note": f"weight-only int8 (QDQ) for {converted} weight matrices; compute in float32",
        "size_bytes": path.stat().st_size,
        "fp32_size_bytes": len(graph.SerializeToString()),
        "test_examples": n,
        "test_metrics": task.evaluate(torch.from_numpy(int8_prediction), test.y[:n]),
        "fp32_test_metrics": task.evaluate(torch.from_numpy(fp32_prediction), test.y[:n]),
    }
