"""Weight-only int8: every float weight matrix stored as int8 behind ``DequantizeLinear``,
compute in float32.

Chosen over onnxruntime's dynamic quantization, which also quantizes activations: on a trained
sine LSTM that raised the test MSE from 0.057 to 0.69, and it fuses only LSTM (GRU and RNN
weights would stay float). The saving grows with the model: the per-row scales and the extra
nodes cost a little, so an 8-unit GRU's int8 graphs are 1 % larger and a 64-unit one's 2.4×
smaller — the card records both sizes and the exporter says when int8 does not pay.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def graph_sizes(fp32: onnx.ModelProto, int8: onnx.ModelProto) -> dict[str, int]:
    """Serialized sizes of both precisions, compared without the model card (which every
    file carries alike)."""
    return {"size_bytes": int8.ByteSize(), "fp32_size_bytes": fp32.ByteSize()}


def quantized_copy(graph: onnx.ModelProto) -> tuple[onnx.ModelProto, int]:
    """A copy of ``graph`` with its weight matrices in int8, and how many were converted."""
    quantized = onnx.ModelProto()
    quantized.CopyFrom(graph)
    return quantized, quantize_weights(quantized.graph)


def _weight_matrices(graph: onnx.GraphProto, min_elements: int) -> list[onnx.TensorProto]:
    """Take the float weight matrices out of ``graph`` (not its subgraphs). Biases stay,
    including the ``(1, n)`` bias and peephole inputs of ONNX's recurrent operators."""
    taken = []
    for tensor in list(graph.initializer):
        dims = list(tensor.dims)
        if (
            tensor.data_type == TensorProto.FLOAT
            and len(dims) >= 2
            and np.prod(dims) >= min_elements
            and not (len(dims) == 2 and dims[0] == 1)
        ):
            graph.initializer.remove(tensor)
            taken.append(tensor)
    return taken


def _matmul_weights(graph: onnx.GraphProto) -> set[str]:
    """The tensors ``graph`` (and its Scan bodies) multiply by as ``MatMul``'s second input:
    laid out ``(in, out)``, so their output channels are columns."""
    names = set()
    for node in graph.node:
        if node.op_type == "MatMul":
            names.add(node.input[1])
        for attribute in node.attribute:
            if attribute.type == onnx.AttributeProto.GRAPH:
                names |= _matmul_weights(attribute.g)
    return names


def _dequantized(
    graph: onnx.GraphProto, tensor: onnx.TensorProto, output: str, by_column: bool = False
) -> list:
    """Add ``tensor`` to ``graph`` as int8 with one scale per output channel — per row of its
    2-D view, or per column for a ``MatMul`` weight (OpenVINO's compressed-weight kernels read
    the scales as per output channel: per input channel, a deep sLSTM's block differed by
    2e-2); return the nodes that turn it back into float32 as ``output``."""
    weight = numpy_helper.to_array(tensor)
    name = tensor.name
    by_column = by_column and weight.ndim == 2
    rows = weight.T if by_column else weight.reshape(-1, weight.shape[-1])
    scale = (np.maximum(np.abs(rows).max(axis=1), 1e-12) / 127.0).astype(np.float32)
    q = np.clip(np.round(rows / scale[:, None]), -127, 127).astype(np.int8)
    if by_column:
        q = np.ascontiguousarray(q.T)
    graph.initializer.extend(
        [
            numpy_helper.from_array(q, f"{name}__int8"),
            numpy_helper.from_array(scale, f"{name}__scale"),
            numpy_helper.from_array(np.zeros(len(scale), np.int8), f"{name}__zero"),
            numpy_helper.from_array(np.array(weight.shape, np.int64), f"{name}__shape"),
        ]
    )
    return [
        helper.make_node(
            "DequantizeLinear",
            [f"{name}__int8", f"{name}__scale", f"{name}__zero"],
            [f"{name}__2d"],
            axis=1 if by_column else 0,
        ),
        helper.make_node("Reshape", [f"{name}__2d", f"{name}__shape"], [output]),
    ]


def _thread_through_scan(node: onnx.NodeProto, body: onnx.GraphProto, name: str) -> str:
    """Make ``name`` a state variable of the ``Scan`` that passes through each step unchanged;
    return the outer value to feed it. (Outer-scope references from a Scan body are valid
    ONNX, but OpenVINO's Scan refuses them.)"""
    outer = f"{name}__outer"
    node.input[:] = [outer, *node.input]
    node.output[:] = [f"{name}__after", *node.output]
    inputs, outputs = list(body.input), list(body.output)
    del body.input[:], body.output[:]
    body.input.extend([helper.make_tensor_value_info(name, TensorProto.FLOAT, None), *inputs])
    through = helper.make_tensor_value_info(f"{name}__through", TensorProto.FLOAT, None)
    body.output.extend([through, *outputs])
    body.node.append(helper.make_node("Identity", [name], [f"{name}__through"]))
    return outer


def quantize_weights(graph: onnx.GraphProto, min_elements: int = 64) -> int:
    """Store every float weight matrix as int8 — symmetric, one scale per output channel —
    with a ``DequantizeLinear`` at the top of the main graph, so it runs once per call, not
    once per step: a ``Scan``'s weights reach its body as state variables that pass through.
    Compute stays in float32. Returns how many tensors were converted."""
    new_nodes, count = [], 0
    columns = _matmul_weights(graph)
    for tensor in _weight_matrices(graph, min_elements):
        new_nodes += _dequantized(graph, tensor, tensor.name, tensor.name in columns)
        count += 1
    for node in graph.node:
        if node.op_type != "Scan":
            continue
        body = next(a.g for a in node.attribute if a.name == "body")
        for tensor in _weight_matrices(body, min_elements):
            outer = _thread_through_scan(node, body, tensor.name)
            new_nodes += _dequantized(graph, tensor, outer, tensor.name in columns)
            count += 1
    nodes = list(graph.node)
    del graph.node[:]
    graph.node.extend(new_nodes + nodes)
    return count
