"""Graph surgery on exported ONNX models, with the ``onnx`` package only (no torch).

- ``scan_from_step``: replace a placeholder node by an ONNX ``Scan`` whose body is a cell's
  one-step graph, so any cell exports with dynamic sequence length.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def _const(name: str, value: np.ndarray) -> onnx.NodeProto:
    return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(value, name))


def _prefixed(graph: onnx.GraphProto, prefix: str) -> None:
    """Prefix every value name of ``graph`` (not of outer scopes) to keep them unique."""
    names = {i.name for i in graph.input} | {i.name for i in graph.initializer}
    for node in graph.node:
        names.update(node.output)
    rename = {n: prefix + n for n in names if n}
    for value in [*graph.input, *graph.output, *graph.value_info]:
        value.name = rename.get(value.name, value.name)
    for tensor in graph.initializer:
        tensor.name = rename[tensor.name]
    for node in graph.node:
        node.name = prefix + node.name
        node.input[:] = [rename.get(n, n) for n in node.input]
        node.output[:] = [rename.get(n, n) for n in node.output]


def _forget_shapes(body: onnx.GraphProto) -> None:
    """Drop the traced shapes inside a Scan body: its symbolic ``batch`` is not the outer
    graph's, and a runtime that unifies the two (tract) refuses a concrete batch."""
    for value in [*body.input, *body.output]:
        value.type.tensor_type.ClearField("shape")
    del body.value_info[:]


def _own_value(body: onnx.GraphProto, name: str) -> None:
    """Give the value ``name`` an ``Identity`` of its own when a node of ``body`` also reads
    it (a cell whose output is its state): tract cannot infer the shape of a ``Scan`` output
    that its body also uses."""
    if not any(name in node.input for node in body.node):
        return
    inner = name + "_value"
    for node in body.node:
        node.input[:] = [inner if n == name else n for n in node.input]
        node.output[:] = [inner if n == name else n for n in node.output]
    body.node.append(helper.make_node("Identity", [inner], [name]))


def scan_from_step(
    node: onnx.NodeProto,
    step: onnx.ModelProto,
    prefix: str,
    backward: bool = False,
    masked: bool = True,
) -> list[onnx.NodeProto]:
    """The nodes replacing a placeholder ``node(x, [lengths,] *states) -> (y, *states)`` by an
    ONNX ``Scan`` over time whose body is a cell's one-step graph.

    ``step`` maps ``(x_t, [valid,] *states) -> (y_t, *states)`` for one time step. Masked,
    ``valid`` is a ``(batch, 1)`` float mask (1 inside the sequence, 0 on padding), so a padded
    step outputs zeros and keeps the state: the final states are each row's own. ``backward``
    scans from the last step to the first (padded steps first, masked), writing each output
    at its own step. ``Scan`` rather than ``Loop``: tract implements only the former.
    """
    body = onnx.GraphProto()
    body.CopyFrom(step.graph)
    _prefixed(body, prefix)
    _forget_shapes(body)
    _own_value(body, body.output[0].name)
    scanned = 2 if masked else 1  # x_t and valid, or x_t alone
    inputs = list(body.input)
    outputs = list(body.output)
    del body.input[:]
    body.input.extend([*inputs[scanned:], *inputs[:scanned]])  # Scan: states, then elements
    del body.output[:]
    body.output.extend([*outputs[1:], outputs[0]])
    x, states = node.input[0], node.input[scanned:]
    p = prefix
    # the time index each scan step reads: 0..T-1, or T-1..0 for the backward direction
    # (a Gather over time: every runtime has it, where onnx.reference lacks Scan's
    # directions and tract fails on a Slice with a negative step here)
    order = [helper.make_node("Range", [f"{p}zero", f"{p}steps", f"{p}one"], [f"{p}t"])]
    x_scanned, y_scanned = f"{p}x_tm", f"{p}y_tm"
    if backward:
        order = [  # T - 1 - (0..T-1): tract misjudges the length of a falling Range
            helper.make_node("Range", [f"{p}zero", f"{p}steps", f"{p}one"], [f"{p}t_up"]),
            helper.make_node("Sub", [f"{p}steps", f"{p}one"], [f"{p}last"]),
            helper.make_node("Sub", [f"{p}last", f"{p}t_up"], [f"{p}t"]),
            helper.make_node("Gather", [f"{p}x_tm", f"{p}t"], [f"{p}x_rev"], axis=0),
        ]
        x_scanned, y_scanned = f"{p}x_rev", f"{p}y_rev"
    mask = []
    if masked:
        mask = [
            _const(f"{p}axis0", np.array([0], np.int64)),
            _const(f"{p}axis1", np.array([1], np.int64)),
            _const(f"{p}axis2", np.array([2], np.int64)),
            helper.make_node("Unsqueeze", [f"{p}t", f"{p}axis1"], [f"{p}t_col"]),
            helper.make_node("Cast", [node.input[1]], [f"{p}lengths64"], to=TensorProto.INT64),
            helper.make_node("Unsqueeze", [f"{p}lengths64", f"{p}axis0"], [f"{p}lengths_row"]),
            helper.make_node("Less", [f"{p}t_col", f"{p}lengths_row"], [f"{p}valid_bool"]),
            helper.make_node("Cast", [f"{p}valid_bool"], [f"{p}valid_2d"], to=TensorProto.FLOAT),
            helper.make_node("Unsqueeze", [f"{p}valid_2d", f"{p}axis2"], [f"{p}valid_tm"]),
        ]
    needs_order = backward or masked  # else the Scan reads the steps in order by itself
    return [
        helper.make_node("Transpose", [x], [f"{p}x_tm"], perm=[1, 0, 2]),
        *(
            [
                helper.make_node("Shape", [x], [f"{p}shape"]),
                _const(f"{p}one", np.array(1, np.int64)),
                _const(f"{p}zero", np.array(0, np.int64)),
                helper.make_node("Gather", [f"{p}shape", f"{p}one"], [f"{p}steps"], axis=0),
                *order,
            ]
            if needs_order
            else []
        ),
        *mask,
        helper.make_node(
            "Scan",
            [*states, x_scanned, *([f"{p}valid_tm"] if masked else [])],
            [*node.output[1:], y_scanned],
            body=body,
            num_scan_inputs=scanned,
            name=f"{p}scan",
        ),
        *(
            [helper.make_node("Gather", [f"{p}y_rev", f"{p}t"], [f"{p}y_tm"], axis=0)]
            if backward
            else []
        ),
        helper.make_node("Transpose", [f"{p}y_tm"], [node.output[0]], perm=[1, 0, 2]),
    ]
