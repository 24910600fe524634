"""Tracing PyTorch models into ONNX without unrolling time.

While a model is exported, its recurrent stacks run each cell through ``ExportRunner``: a cell
that maps onto one of ONNX's recurrent operators (``Cell.onnx_operator``) becomes that operator;
any other cell leaves a placeholder that ``replace_cell_loops`` swaps for an ONNX ``Loop``
around the cell's one-step graph. Batch and time axes stay dynamic.
"""

from __future__ import annotations

import io
import json
import warnings

import onnx
import torch
from torch import Tensor, nn

from rnnzoo.cells.base import Cell, State
from rnnzoo.export import graphs
from rnnzoo.recurrent import unroll


class RecurrentOperator(torch.autograd.Function):
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


class CellLoopPlaceholder(torch.autograd.Function):
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


class CellStep(nn.Module):
    """One masked time step of one cell: the body of its ONNX ``Loop``."""

    def __init__(self, cell: Cell):
        super().__init__()
        self.cell = cell

    def forward(self, x: Tensor, valid: Tensor, *state: Tensor):
        y, new_state = self.cell.step(x, state)
        keep = valid > 0.5
        return (y * valid, *[torch.where(keep, n, s) for n, s in zip(new_state, state)])


class ExportRunner:
    """The ``sequence_runner`` used while exporting; remembers the cells that need a Loop."""

    def __init__(self):
        self.loop_cells: list[Cell] = []

    def __call__(self, cell: Cell, x: Tensor, state: State, lengths: Tensor | None):
        op = cell.onnx_operator()
        if lengths is None and op is None:  # the step graph: one step, no Loop needed
            return unroll(cell, x, state)
        if op is None:
            self.loop_cells.append(cell)
            out = CellLoopPlaceholder.apply(
                x, lengths, len(self.loop_cells) - 1, cell.output_size, *state
            )
            return out[0], tuple(out[1:])
        out = RecurrentOperator.apply(
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
    return onnx.load_from_string(buffer.getvalue())


def cell_step_graph(cell: Cell, opset: int) -> onnx.ModelProto:
    batch = 2
    states = cell.initial_state(batch)
    names = [f"s{i}" for i in range(len(states))]
    dynamic = {n: {0: "batch"} for n in ["x", "valid", *names, "y", *[n + "_out" for n in names]]}
    return to_onnx(
        CellStep(cell).eval(),
        (torch.zeros(batch, cell.input_size), torch.ones(batch, 1), *states),
        ["x", "valid", *names],
        ["y", *[n + "_out" for n in names]],
        dynamic,
        opset,
    )


def replace_cell_loops(graph: onnx.ModelProto, runner: ExportRunner, opset: int) -> None:
    """Swap each placeholder left by the runner for a ``Loop`` around its cell's step graph."""
    for index, node in [(i, n) for i, n in enumerate(graph.graph.node) if n.op_type == "CellLoop"]:
        cell = runner.loop_cells[next(a.i for a in node.attribute if a.name == "index")]
        step = cell_step_graph(cell, opset)
        replacement = graphs.loop_from_step(node, step, prefix=f"cell{index}_")
        position = list(graph.graph.node).index(node)
        graph.graph.node.remove(node)
        for offset, new in enumerate(replacement):
            graph.graph.node.insert(position + offset, new)
    for opset_import in list(graph.opset_import):
        if opset_import.domain == "rnnzoo":
            graph.opset_import.remove(opset_import)


def exporting(stack: nn.Module) -> ExportRunner:
    """Make a (copied) recurrent stack run its cells as ONNX operators or Loop placeholders."""
    runner = ExportRunner()
    stack.sequence_runner = runner
    return runner
