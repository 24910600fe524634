"""Graph surgery on exported ONNX models, with the ``onnx`` package only (no torch).

- ``make_optional``: turn required graph inputs into optional ones whose default is computed
  from the data input (an empty initializer stands for "not fed").
- ``loop_from_step``: replace a placeholder node by an ONNX ``Loop`` whose body is a cell's
  one-step graph, so any cell exports with dynamic sequence length.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def _const(name: str, value: np.ndarray) -> onnx.NodeProto:
    return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(value, name))


def _rename_uses(graph: onnx.GraphProto, old: str, new: str) -> None:
    """Point every node input reading ``old`` at ``new`` (subgraphs included)."""
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name == old:
                node.input[i] = new
        for attribute in node.attribute:
            if attribute.type == onnx.AttributeProto.GRAPH:
                _rename_uses(attribute.g, old, new)


def make_optional(model: onnx.ModelProto, data_input: str, defaults: dict[str, Callable]) -> None:
    """Give each input in ``defaults`` an empty default; when it is not fed, the graph uses
    ``defaults[name](batch, steps)``, a builder of nodes computing the value (see callers).

    An input that is also an initializer is optional in ONNX (IR >= 4): onnxruntime uses the
    initializer unless the caller feeds the input.
    """
    graph = model.graph
    shape = f"{data_input}__shape"
    head = [
        helper.make_node("Shape", [data_input], [shape]),
        _const(f"{shape}__0", np.array([0], np.int64)),
        _const(f"{shape}__1", np.array([1], np.int64)),
        _const(f"{shape}__2", np.array([2], np.int64)),
        helper.make_node("Slice", [shape, f"{shape}__0", f"{shape}__1"], [f"{shape}__batch"]),
        helper.make_node("Slice", [shape, f"{shape}__1", f"{shape}__2"], [f"{shape}__steps"]),
        _const(f"{shape}__zero", np.array(0, np.int64)),
    ]
    for name, build in defaults.items():
        declared = next(i for i in graph.input if i.name == name)
        elem_type = declared.type.tensor_type.elem_type
        dims = [
            d.dim_value if d.HasField("dim_value") else 0
            for d in declared.type.tensor_type.shape.dim
        ]
        empty = np.zeros(
            dims or [0],
            helper.tensor_dtype_to_np_dtype(elem_type),
        )
        graph.initializer.append(numpy_helper.from_array(empty, name))
        resolved = f"{name}__resolved"
        _rename_uses(graph, name, resolved)
        then_nodes, then_out = build(f"{shape}__batch", f"{shape}__steps", f"{name}__default")
        then_branch = helper.make_graph(
            then_nodes,
            f"{name}_default",
            [],
            [helper.make_tensor_value_info(then_out, elem_type, None)],
        )
        else_branch = helper.make_graph(
            [helper.make_node("Identity", [name], [f"{name}__given"])],
            f"{name}_given",
            [],
            [helper.make_tensor_value_info(f"{name}__given", elem_type, None)],
        )
        head += [
            helper.make_node("Size", [name], [f"{name}__size"]),
            helper.make_node("Equal", [f"{name}__size", f"{shape}__zero"], [f"{name}__empty"]),
            helper.make_node(
                "If",
                [f"{name}__empty"],
                [resolved],
                then_branch=then_branch,
                else_branch=else_branch,
            ),
        ]
    nodes = list(graph.node)
    del graph.node[:]
    graph.node.extend(head + nodes)


def full_lengths(batch: str, steps: str, out: str) -> tuple[list[onnx.NodeProto], str]:
    """Default sequence lengths: every sequence as long as the input, ``(batch,)`` int64."""
    return [helper.make_node("Expand", [steps, batch], [out])], out


def zero_state(slots: int, size: int) -> Callable:
    """Default initial state: zeros of ``(slots, batch, size)``."""

    def build(batch: str, steps: str, out: str) -> tuple[list[onnx.NodeProto], str]:
        return [
            _const(f"{out}__slots", np.array([slots], np.int64)),
            _const(f"{out}__size", np.array([size], np.int64)),
            helper.make_node(
                "Concat", [f"{out}__slots", batch, f"{out}__size"], [f"{out}__shape"], axis=0
            ),
            helper.make_node(
                "ConstantOfShape",
                [f"{out}__shape"],
                [out],
                value=numpy_helper.from_array(np.zeros(1, np.float32)),
            ),
        ], out

    return build


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


def loop_from_step(
    node: onnx.NodeProto, step: onnx.ModelProto, prefix: str
) -> list[onnx.NodeProto]:
    """The nodes replacing a placeholder ``node(x, lengths, *states) -> (y, *states)``.

    ``step`` maps ``(x_t, valid, *states) -> (y_t, *states)`` for one time step, ``valid`` a
    ``(batch, 1)`` float mask (1 inside the sequence, 0 on padding).
    """
    body = onnx.GraphProto()
    body.CopyFrom(step.graph)
    _prefixed(body, prefix)
    x_t, valid = body.input[0].name, body.input[1].name
    states = [i.name for i in body.input[2:]]
    x, lengths = node.input[0], node.input[1]
    iteration, cond = f"{prefix}iteration", f"{prefix}cond"
    body_head = [
        helper.make_node("Gather", [x, iteration], [x_t], axis=1),
        helper.make_node("Less", [iteration, lengths], [f"{prefix}valid_1d"]),
        _const(f"{prefix}axis1", np.array([1], np.int64)),
        helper.make_node(
            "Unsqueeze", [f"{prefix}valid_1d", f"{prefix}axis1"], [f"{prefix}valid_bool"]
        ),
        helper.make_node("Cast", [f"{prefix}valid_bool"], [valid], to=TensorProto.FLOAT),
        helper.make_node("Identity", [cond], [f"{prefix}cond_out"]),
    ]
    nodes = list(body.node)
    del body.node[:]
    body.node.extend(body_head + nodes)
    y_t, new_states = body.output[0], list(body.output[1:])
    del body.input[:]
    body.input.extend(
        [
            helper.make_tensor_value_info(iteration, TensorProto.INT64, []),
            helper.make_tensor_value_info(cond, TensorProto.BOOL, []),
            *[helper.make_tensor_value_info(s, TensorProto.FLOAT, None) for s in states],
        ]
    )
    del body.output[:]
    body.output.extend(
        [helper.make_tensor_value_info(f"{prefix}cond_out", TensorProto.BOOL, []), *new_states, y_t]
    )
    scan = f"{prefix}y_scan"
    return [
        helper.make_node("Shape", [x], [f"{prefix}x_shape"]),
        _const(f"{prefix}one", np.array(1, np.int64)),
        helper.make_node("Gather", [f"{prefix}x_shape", f"{prefix}one"], [f"{prefix}steps"]),
        _const(f"{prefix}true", np.array(True)),
        helper.make_node(
            "Loop",
            [f"{prefix}steps", f"{prefix}true", *node.input[2:]],
            [*node.output[1:], scan],
            body=body,
            name=f"{prefix}loop",
        ),
        helper.make_node("Transpose", [scan], [node.output[0]], perm=[1, 0, 2]),
    ]
