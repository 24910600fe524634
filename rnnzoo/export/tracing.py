"""Tracing PyTorch models into ONNX without unrolling time, in graphs every runtime runs.

While a model is exported, its recurrent stacks run each cell through ``ExportRunner``. For
whole sequences of equal length a cell that maps onto one of ONNX's recurrent operators
(``Cell.onnx_operator``, except those in ``SCANNED``) becomes that operator, without
``sequence_lens`` (runtimes disagree on the final state of a padded row); any other cell
leaves a placeholder that ``replace_cell_scans`` swaps for a ``Scan`` over the cell's one-step
graph — masked in a padded batch, so that the final states are each row's own by
construction. One step (streaming) of a cell with an operator is that operator.

A traced graph keeps every input it declares, read or not (``keep_inputs``): a cell whose step
ignores its state or ``x`` keeps the contract, and its graphs take the inputs their callers
feed. A ``Scan`` around such a step is masked (``loose_ends``), which every runtime runs."""

from __future__ import annotations

import io
import json
import warnings

import onnx
import torch
from torch import Tensor, nn

from rnnzoo.cells.base import Cell, OnnxOperator, State
from rnnzoo.export import graphs
from rnnzoo.recurrent import layer_step


class RecurrentOperator(torch.autograd.Function):
    """Emits one ONNX RNN/LSTM/GRU node over whole sequences (no ``sequence_lens``); in
    PyTorch it only produces outputs of the right shape (tracing needs shapes, not values)."""

    @staticmethod
    def forward(ctx, x, op_type, attributes, hidden, n_weights, *tensors):
        steps, batch = x.shape[:2]
        n_states = len(tensors) - n_weights
        return (
            x.new_zeros(steps, 1, batch, hidden),
            *[x.new_zeros(1, batch, hidden) for _ in range(n_states)],
        )

    @staticmethod
    def symbolic(g, x, op_type, attributes, hidden, n_weights, *tensors):
        weights, states = tensors[:n_weights], tensors[n_weights:]
        no_lengths = g.op("prim::Constant")  # ONNX's optional sequence_lens, left out
        no_lengths.setType(torch._C.OptionalType.ofTensor())
        inputs = [x, *weights[:3], no_lengths, *states, *weights[3:]]
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


class CellScanPlaceholder(torch.autograd.Function):
    """Marks where a cell runs over whole sequences; replaced by a ``Scan`` afterwards.
    ``lengths`` None: every row is whole, and the Scan needs no mask."""

    @staticmethod
    def forward(ctx, x, lengths, index, backward, output_size, *states):
        return (x.new_zeros(x.shape[0], x.shape[1], output_size), *[s.clone() for s in states])

    @staticmethod
    def symbolic(g, x, lengths, index, backward, output_size, *states):
        outputs = g.op(
            "rnnzoo::CellScan",
            *([x] if lengths is None else [x, lengths]),
            *states,
            index_i=index,
            backward_i=int(backward),
            masked_i=int(lengths is not None),
            outputs=1 + len(states),
        )
        outputs[0].setType(x.type().with_sizes([None, None, output_size]))
        for value, state in zip(outputs[1:], states):
            value.setType(state.type())
        return outputs


class CellStep(nn.Module):
    """One time step of one cell: the body of its ONNX ``Scan``. Masked, it takes a
    ``valid`` column too: a padded step outputs zeros and keeps the state."""

    def __init__(self, cell: Cell, masked: bool):
        super().__init__()
        self.cell, self.masked = cell, masked

    def forward(self, x: Tensor, *inputs: Tensor):
        valid, state = (inputs[0], inputs[1:]) if self.masked else (None, inputs)
        y, new_state = self.cell.flat_step(x, state)
        if valid is None:
            return (y, *new_state)
        keep = valid > 0.5
        return (y * valid, *[torch.where(keep, n, s) for n, s in zip(new_state, state)])


# Operators that whole sequences leave for a Scan over the cell's step: onnxruntime's CPU
# kernel for RNN applies the activation one element at a time through a std::function on
# one thread (batch 256 x 28 steps x 128 units: 1.2-1.5x PyTorch's time, the Scan 0.6-0.7x).
SCANNED = {"RNN"}


class ExportRunner:
    """The ``sequence_runner`` used while exporting; remembers the cells that need a Scan.

    The backward direction flips the whole time axis (a ``Slice``, which every runtime has,
    where reversing each row within its length would need ``ReverseSequence`` — tract has
    none — or a gather that ``onnx.reference`` fails beyond 64 steps); its ``Scan`` then masks
    a row's first ``T - length`` steps instead of its last ones.
    """

    def __init__(self):
        self.scan_cells: list[Cell] = []

    def __call__(self, cell: Cell, x: Tensor, state: State, lengths: Tensor | None, backward: bool):
        op = cell.onnx_operator()
        if op is None or op.op_type in SCANNED or lengths is not None:
            self.scan_cells.append(cell)
            out = CellScanPlaceholder.apply(
                x, lengths, len(self.scan_cells) - 1, backward, cell.output_size, *state
            )
            return out[0], tuple(out[1:])
        if backward:
            x = x.flip(1)
        out = operator(cell, op, x.transpose(0, 1), [s.unsqueeze(0) for s in state])
        y = out[0].squeeze(1).transpose(0, 1)
        return (y.flip(1) if backward else y), tuple(s.squeeze(0) for s in out[1:])

    @staticmethod
    def step(cell: Cell, x: Tensor, state: State) -> tuple[Tensor, State]:
        """One step (streaming) on ``(1, batch, size)`` states: the cell's operator over a
        one-step sequence, the states straight in and out, where it has one (the fewest
        nodes: a streaming step costs mostly onnxruntime's overhead per node); else the
        cell's own math."""
        op = cell.onnx_operator()
        if op is None:
            return layer_step(cell, x, state)
        out = operator(cell, op, x.unsqueeze(0), list(state))
        return out[1][0], tuple(out[1:])  # the output of ONNX's RNN/LSTM/GRU is its state h


def operator(cell: Cell, op: OnnxOperator, x: Tensor, state: list[Tensor]) -> tuple[Tensor, ...]:
    """The cell's ONNX operator over ``x`` ``(time, batch, features)`` from ``state``
    ``(1, batch, size)`` each: ``Y`` ``(time, 1, batch, hidden)`` and the final states."""
    weights = list(op.inputs)
    if op.op_type == "GRU" and x.shape[-1] == 1:
        # tract 0.23 fails a GRU (linear_before_reset) on one input feature ("xw not
        # contiguous"): a zero second feature with zero weights changes nothing
        x = torch.cat([x, torch.zeros_like(x)], dim=-1)
        weights[0] = torch.cat([weights[0], torch.zeros_like(weights[0])], dim=-1)
    return RecurrentOperator.apply(
        x, op.op_type, json.dumps(op.attributes), cell.hidden_size, len(weights), *weights, *state
    )


def to_onnx(
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
    graph = onnx.load_from_string(buffer.getvalue())
    keep_inputs(graph.graph, names_in, args, dynamic)
    # Traced intermediate shapes name the batch axis "batch" even where a runtime that
    # unifies symbols with the concrete shapes it is given (tract) would disagree; the
    # inputs' and outputs' shapes stay declared.
    del graph.graph.value_info[:]
    return graph


ONNX_TYPES = {
    torch.float32: onnx.TensorProto.FLOAT,
    torch.float64: onnx.TensorProto.DOUBLE,
    torch.float16: onnx.TensorProto.FLOAT16,
    torch.int64: onnx.TensorProto.INT64,
    torch.int32: onnx.TensorProto.INT32,
    torch.bool: onnx.TensorProto.BOOL,
}


def keep_inputs(
    graph: onnx.GraphProto, names: list[str], args: tuple, dynamic: dict[str, dict[int, str]]
) -> None:
    """Put back, in their declared order, the inputs that ``torch.onnx.export`` dropped
    because nothing reads them.

    A cell whose ``step`` ignores its state (or ``x``) keeps the contract, but its traced step
    graph would lose that input: the ``Scan`` around it would then pass one input more than
    its body takes, and a streaming step graph would refuse the ``state_i`` its caller feeds.
    An unused input is valid ONNX (in a ``Scan`` body, see ``loose_ends`` for tract).
    """
    present = {value.name: value for value in graph.input}
    declared = [(n, a) for n, a in zip(names, args) if isinstance(a, Tensor)]
    if all(name in present for name, _ in declared):
        return
    inputs = []
    for name, arg in declared:
        if name in present:
            inputs.append(present.pop(name))
            continue
        axes = dynamic.get(name, {})
        shape = [axes.get(axis, size) for axis, size in enumerate(arg.shape)]
        inputs.append(onnx.helper.make_tensor_value_info(name, ONNX_TYPES[arg.dtype], shape))
    inputs += present.values()  # anything else torch kept, after the declared ones
    copies = [onnx.ValueInfoProto() for _ in inputs]
    for copy, value in zip(copies, inputs):
        copy.CopyFrom(value)
    del graph.input[:]
    graph.input.extend(copies)


def cell_step_graph(cell: Cell, opset: int, masked: bool) -> onnx.ModelProto:
    batch = 2
    states = cell.flat(cell.initial_state(batch))
    names = [f"s{i}" for i in range(len(states))]
    inputs = ["x", *(["valid"] if masked else []), *names]
    dynamic = {n: {0: "batch"} for n in [*inputs, "y", *[n + "_out" for n in names]]}
    valid = (torch.ones(batch, 1),) if masked else ()
    return to_onnx(
        CellStep(cell, masked).eval(),
        (torch.zeros(batch, cell.input_size), *valid, *states),
        inputs,
        ["y", *[n + "_out" for n in names]],
        dynamic,
        opset,
    )


def loose_ends(step: onnx.GraphProto) -> bool:
    """Whether a step graph has an input no node reads, or passes an input straight to an
    output (a cell whose step ignores ``x`` or a state, or returns a state unchanged).

    onnxruntime and onnx.reference run a ``Scan`` around such a body, but tract fails on it
    ("declutter_discard_unused_input") or never finishes; the masked body reads every state
    (``Where(valid, new, old)``) and runs everywhere.
    """
    inputs = {value.name for value in step.input}
    read = {name for node in step.node for name in node.input}
    passed = {
        output
        for node in step.node
        if node.op_type == "Identity" and node.input[0] in inputs
        for output in node.output
    }
    return bool(inputs - read) or any(v.name in inputs | passed for v in step.output)


def whole_lengths(node: onnx.NodeProto, prefix: str) -> tuple[list[onnx.NodeProto], onnx.NodeProto]:
    """Nodes computing every row's length (the time axis of ``node``'s input ``x``, for every
    row), and a copy of the unmasked placeholder ``node`` that reads them, as a masked one."""
    x, lengths, p = node.input[0], prefix + "lengths", prefix
    make = onnx.helper.make_node

    def const(name: str, value: list[int]) -> onnx.NodeProto:
        return make(
            "Constant",
            [],
            [p + name],
            value=onnx.helper.make_tensor(p + name, onnx.TensorProto.INT64, [len(value)], value),
        )

    nodes = [  # Shape's start/end would need opset 15; rnnzoo exports from 14
        make("Shape", [x], [p + "shape"]),
        const("first", [0]),
        const("second", [1]),
        make("Slice", [p + "shape", p + "first", p + "second"], [p + "batch"]),
        make("Gather", [p + "shape", p + "second"], [p + "steps"], axis=0),
        make("Expand", [p + "steps", p + "batch"], [lengths]),
    ]
    masked = onnx.NodeProto()
    masked.CopyFrom(node)
    masked.input[:] = [x, lengths, *node.input[1:]]
    return nodes, masked


def replace_cell_scans(graph: onnx.ModelProto, runner: ExportRunner, opset: int) -> None:
    """Swap each placeholder left by the runner for a ``Scan`` around its cell's step graph."""
    for index, node in [(i, n) for i, n in enumerate(graph.graph.node) if n.op_type == "CellScan"]:
        attributes = {a.name: a.i for a in node.attribute}
        cell = runner.scan_cells[attributes["index"]]
        masked, backward = bool(attributes["masked"]), bool(attributes["backward"])
        prefix, whole, placeholder = f"cell{index}_", [], node
        step = cell_step_graph(cell, opset, masked)
        if not masked and loose_ends(step.graph):
            whole, placeholder = whole_lengths(node, prefix + "whole_")
            masked, step = True, cell_step_graph(cell, opset, True)
        replacement = whole + graphs.scan_from_step(placeholder, step, prefix, backward, masked)
        position = list(graph.graph.node).index(node)
        graph.graph.node.remove(node)
        for offset, new in enumerate(replacement):
            graph.graph.node.insert(position + offset, new)
    for opset_import in list(graph.opset_import):
        if opset_import.domain == "rnnzoo":
            graph.opset_import.remove(opset_import)


def exporting(stack: nn.Module) -> ExportRunner:
    """Make a (copied) recurrent stack run its cells as ONNX operators or Scan placeholders."""
    runner = ExportRunner()
    stack.sequence_runner = runner
    stack.step_runner = runner.step
    return runner
