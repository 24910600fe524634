"""The step graph (``model.step.onnx``) as plain C99: one ``.c`` and one ``.h``.

Written here rather than by a library because none emits C for recurrent steps today: onnx2c has
no GRU, LSTM or RNN operator, emlearn has no recurrent layers, TFLM answers requests for a GRU
kernel with "not planned". The graph is fixed at batch 1, folded by onnxruntime's basic
optimisations (its constant folding, standard ONNX operators only), then every node becomes a
loop over static shapes. Reshapes, squeezes and contiguous slices are views, not copies; the
other intermediates share one work buffer on the stack, placed by liveness. Weights are
``static const`` arrays (they stay in flash); the state is a struct the caller owns; there is no
heap and no global mutable state, so two models link into one program.

``weights="int8"`` stores every weight matrix and convolution kernel as int8 with one float
scale per output row (per channel), activations in float: a quarter of the bytes for the same
code path.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

from rnnzoo.errors import UserError

STREAMING_PREFIXES = ("state_", "encoder_", "readout_")


def batch_axis(name: str) -> int:
    """Where the batch sits in a step graph input: the stack's states are (layers, batch, size)."""
    return 1 if name.startswith("state_") else 0


def fixed_batch(model: onnx.ModelProto) -> onnx.ModelProto:
    """The step graph at batch 1, folded by onnxruntime (shapes become constants)."""
    import onnxruntime

    model = onnx.ModelProto.FromString(model.SerializeToString())
    for value in model.graph.input:
        dims = value.type.tensor_type.shape.dim
        axis = batch_axis(value.name)
        if axis < len(dims):
            dims[axis].Clear()
            dims[axis].dim_value = 1
    for value in model.graph.output:
        value.type.tensor_type.ClearField("shape")
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.log_severity_level = 3
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        options.optimized_model_filepath = str(Path(folder) / "folded.onnx")
        onnxruntime.InferenceSession(
            model.SerializeToString(), options, providers=["CPUExecutionProvider"]
        )
        folded = onnx.load(options.optimized_model_filepath)
    return folded


def run_shapes(model: onnx.ModelProto) -> dict[str, tuple[int, ...]]:
    """Every tensor's shape at batch 1, found by running the graph once on zeros (shape
    inference leaves some open where a shape is computed from data)."""
    import onnxruntime

    probe = onnx.ModelProto.FromString(model.SerializeToString())
    known = {o.name for o in probe.graph.output}
    for node in probe.graph.node:
        for name in node.output:
            if name and name not in known:
                probe.graph.output.append(onnx.ValueInfoProto(name=name))
                known.add(name)
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(
        probe.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    feeds = {
        i.name: np.zeros([d if isinstance(d, int) else 1 for d in i.shape], np.float32)
        for i in session.get_inputs()
    }
    names = [o.name for o in session.get_outputs()]
    return {n: tuple(np.shape(v)) for n, v in zip(names, session.run(names, feeds))}


def strides(shape: tuple[int, ...]) -> tuple[int, ...]:
    out, step = [], 1
    for size in reversed(shape):
        out.append(step)
        step *= size
    return tuple(reversed(out))


def broadcast_strides(shape: tuple[int, ...], to: tuple[int, ...]) -> tuple[int, ...]:
    """Strides of ``shape`` read as ``to`` under numpy broadcasting (0 where repeated)."""
    own = (1,) * (len(to) - len(shape)) + tuple(shape)
    return tuple(0 if s == 1 and t != 1 else st for s, t, st in zip(own, to, strides(own)))


@dataclass(eq=False)
class Storage:
    """A float buffer: the caller's input or output, a state slot, a constant or work space."""

    size: int
    kind: str  # "work", "input", "state", "const", "output"
    name: str = ""
    offset: int = 0  # in the work buffer
    born: int = 0  # the node that writes it
    last_use: int = -1  # the last node that reads it


@dataclass
class Value:
    """A tensor of the graph: a shape and a place (storage + element offset)."""

    shape: tuple[int, ...]
    storage: Storage | None = None
    offset: int = 0
    const: np.ndarray | None = None

    @property
    def size(self) -> int:
        return math.prod(self.shape)


def c_float(value: float) -> str:
    """A float32 as a C literal that reads back to the same value (NAN: a missing value)."""
    if math.isnan(value):
        return "NAN"
    if math.isinf(value):
        return "INFINITY" if value > 0 else "-INFINITY"
    text = f"{float(np.float32(value)):.9g}"
    return text + ("f" if ("." in text or "e" in text) else ".0f")


def c_array(kind: str, name: str, values: np.ndarray, per_line: int = 8) -> str:
    items = [c_float(v) if kind == "float" else str(int(v)) for v in np.asarray(values).reshape(-1)]
    lines = [", ".join(items[i : i + per_line]) for i in range(0, len(items), per_line)]
    return (
        f"static const {kind} {name}[{max(len(items), 1)}] = {{\n  "
        + (",\n  ".join(lines) or "0")
        + "\n};"
    )


KERNELS = {
    "tanh": """/* a 13/6 rational approximation (Eigen's), within a few float ulps of tanhf on
 * [-9, 9]; inlined where it is called, so its constants stay in registers across a loop */
RZ_INLINE float rz_tanh(float x) {
  float x2, p, q;
  x = x > 7.90531110763549805f ? 7.90531110763549805f : x;
  x = x < -7.90531110763549805f ? -7.90531110763549805f : x;
  x2 = x * x;
  p = fmaf(x2, -2.76076847742355e-16f, 2.00018790482477e-13f);
  p = fmaf(p, x2, -8.60467152213735e-11f);
  p = fmaf(p, x2, 5.12229709037114e-08f);
  p = fmaf(p, x2, 1.48572235717979e-05f);
  p = fmaf(p, x2, 6.37261928875436e-04f);
  p = fmaf(p, x2, 4.89352455891786e-03f);
  q = fmaf(x2, 1.19825839466702e-06f, 1.18534705686654e-04f);
  q = fmaf(q, x2, 2.26843463243900e-03f);
  q = fmaf(q, x2, 4.89352518554385e-03f);
  return x * p / q;
}""",
    "sigmoid": """RZ_INLINE float rz_sigmoid(float x) {
  return fmaf(0.5f, rz_tanh(0.5f * x), 0.5f);
}""",
    "copy": """RZ_INLINE void rz_copy(float *to, const float *from, int n) {
  int i;
  for (i = 0; i < n; ++i) to[i] = from[i];
}""",
    "softplus": """static float rz_softplus(float x) {
  return x > 20.0f ? x : log1pf(expf(x));
}""",
    "matvec": "",  # written by matvec_kernel below: fp32 and int8 share one shape
    "matvec_q8": "",
}


def matvec_kernel(int8: bool) -> str:
    """``rz_matvec`` (fp32) or ``rz_matvec_q8`` (int8 weights, one scale per row): y[n] =
    w x[k] + b[n] (b may be 0). w holds blocks of 8 rows interleaved column by column
    (w[8i][j] … w[8i+7][j], then j+1), then the n % 8 last rows in order: one pointer walks the
    weights, each input is loaded once for 8 rows, two inputs a turn."""
    cast = "(float)" if int8 else ""
    rows = range(8)

    def fma(offset: int, value: str) -> list[str]:
        return [f"      a{r} = fmaf({cast}w[{offset + r}], {value}, a{r});" for r in rows]

    def result(r: str, acc: str) -> str:
        return f"fmaf({acc}, scale[{r}], b ? b[{r}] : 0.0f)" if int8 else acc

    head = (
        "static void rz_matvec_q8(const signed char *w, const float *scale, const float *x,\n"
        "                         const float *b, float *y, int n, int k) {"
        if int8
        else "static void rz_matvec(const float *w, const float *x, const float *b, float *y, "
        "int n, int k) {"
    )
    return "\n".join(
        [
            "/* y[n] = w x[k] + b[n]; w in blocks of 8 rows interleaved column by column, then",
            " * the n % 8 last rows in order (rnnzoo.targets.csource.blocked) */",
            head,
            "  int i = 0, j, r;",
            "  for (; i + 8 <= n; i += 8) {",
            "    float a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f;",
            "    float a4 = 0.0f, a5 = 0.0f, a6 = 0.0f, a7 = 0.0f;",
            *(
                []
                if int8
                else [  # fp32 starts from the bias; int8 adds it after the scale
                    "    if (b) {",
                    "      a0 = b[i]; a1 = b[i + 1]; a2 = b[i + 2]; a3 = b[i + 3];",
                    "      a4 = b[i + 4]; a5 = b[i + 5]; a6 = b[i + 6]; a7 = b[i + 7];",
                    "    }",
                ]
            ),  # fmt: skip
            "    for (j = 0; j + 2 <= k; j += 2, w += 16) {  /* two inputs a turn */",
            "      const float v = x[j], u = x[j + 1];",
            *fma(0, "v"),
            *fma(8, "u"),
            "    }",
            "    if (j < k) {",
            "      const float v = x[j];",
            *fma(0, "v"),
            "      w += 8;",
            "    }",
            *(f"    y[i + {r}] = {result(f'i + {r}', f'a{r}')};" for r in rows),
            "  }",
            "  for (r = i; r < n; ++r) {",
            "    float acc = 0.0f;" if int8 else "    float acc = b ? b[r] : 0.0f;",
            f"    for (j = 0; j < k; ++j) acc = fmaf({cast}*w++, x[j], acc);",
            f"    y[r] = {result('r', 'acc')};",
            "  }",
            "}",
        ]
    )


KERNELS["matvec"], KERNELS["matvec_q8"] = matvec_kernel(False), matvec_kernel(True)


KERNEL_NEEDS = {"sigmoid": ["tanh"]}


def blocked(w: np.ndarray) -> np.ndarray:
    """``(n, k)`` weights as ``rz_matvec`` reads them: each block of 8 rows interleaved column
    by column, then the ``n % 8`` last rows as they are."""
    n, k = w.shape
    full = n - n % 8
    blocks = w[:full].reshape(full // 8, 8, k).transpose(0, 2, 1).reshape(-1)
    return np.concatenate([blocks, w[full:].reshape(-1)])


@dataclass
class Program:
    """What the emitter collects while walking the graph."""

    prefix: str
    weights: str
    constants: list[str] = field(default_factory=list)
    body: list[str] = field(default_factory=list)
    kernels: set[str] = field(default_factory=set)
    weight_bytes: int = 0
    counter: int = 0

    def fresh(self, stem: str) -> str:
        self.counter += 1
        return f"{self.prefix}_{stem}{self.counter}"

    def use(self, kernel: str) -> None:
        self.kernels.add(kernel)
        for needed in KERNEL_NEEDS.get(kernel, []):
            self.use(needed)

    def copy(self, to: str, source: str, n: int) -> str:
        """A copy of ``n`` floats (a loop: newlib-nano's memcpy goes byte by byte)."""
        self.use("copy")
        return f"  rz_copy({to}, {source}, {n});"

    def constant(self, values: np.ndarray, stem: str = "k") -> str:
        name = self.fresh(stem)
        values = np.asarray(values, np.float32)
        self.constants.append(c_array("float", name, values))
        self.weight_bytes += 4 * values.size
        return name

    def quantized(self, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``w`` (output channels first) as int8 with one float scale per output channel."""
        flat = np.asarray(w, np.float32).reshape(len(w), -1)
        scale = np.abs(flat).max(axis=1) / 127.0
        scale[scale == 0] = 1.0
        q = np.clip(np.round(flat / scale[:, None]), -127, 127).astype(np.int8)
        return q.reshape(np.shape(w)), scale.astype(np.float32)

    def kernel(self, w: np.ndarray) -> tuple[str, str | None]:
        """A convolution's weights in their own layout: the array's name and, with int8
        weights, the name of its per-channel scales (None for fp32)."""
        if self.weights != "int8":
            return self.constant(w, "w"), None
        q, scale = self.quantized(w)
        name = self.fresh("q")
        self.constants.append(c_array("signed char", name, q, per_line=16))
        self.weight_bytes += q.size
        return name, self.constant(scale, "s")

    def matrix(self, w: np.ndarray) -> str:
        """A weight matrix ``(n, k)`` as the C arguments of a matvec: fp32 or int8 + scales,
        in the matvec's blocked layout."""
        w = np.asarray(w, np.float32)
        if self.weights != "int8":
            self.use("matvec")
            return f"rz_matvec({self.constant(blocked(w), 'w')}, "
        self.use("matvec_q8")
        q, scale = self.quantized(w)
        name = self.fresh("q")
        self.constants.append(c_array("signed char", name, blocked(q), per_line=16))
        self.weight_bytes += q.size
        return f"rz_matvec_q8({name}, {self.constant(scale, 's')}, "


UNARY = {
    "Sigmoid": ("rz_sigmoid({0})", "sigmoid"),
    "Tanh": ("rz_tanh({0})", "tanh"),
    "Relu": ("({0} > 0.0f ? {0} : 0.0f)", None),
    "Exp": ("expf({0})", None),
    "Log": ("logf({0})", None),
    "Neg": ("(-{0})", None),
    "Abs": ("fabsf({0})", None),
    "Sqrt": ("sqrtf({0})", None),
    "Reciprocal": ("(1.0f / {0})", None),
    "Softplus": ("rz_softplus({0})", "softplus"),
    "Softsign": ("({0} / (1.0f + fabsf({0})))", None),
    "Erf": ("erff({0})", None),
    "Sin": ("sinf({0})", None),
    "Cos": ("cosf({0})", None),
    "Identity": ("{0}", None),
    "IsNaN": ("(isnan({0}) ? 1.0f : 0.0f)", None),  # booleans are floats 0 and 1 here
    "Not": ("({0} == 0.0f ? 1.0f : 0.0f)", None),
}
BINARY = {
    "Add": "({0} + {1})",
    "Sub": "({0} - {1})",
    "Mul": "({0} * {1})",
    "Div": "({0} / {1})",
    "Max": "({0} > {1} ? {0} : {1})",
    "Min": "({0} < {1} ? {0} : {1})",
    "Pow": "powf({0}, {1})",
    "Greater": "({0} > {1} ? 1.0f : 0.0f)",
    "Less": "({0} < {1} ? 1.0f : 0.0f)",
    "GreaterOrEqual": "({0} >= {1} ? 1.0f : 0.0f)",
    "LessOrEqual": "({0} <= {1} ? 1.0f : 0.0f)",
    "Equal": "({0} == {1} ? 1.0f : 0.0f)",
    "And": "({0} != 0.0f && {1} != 0.0f ? 1.0f : 0.0f)",
    "Or": "({0} != 0.0f || {1} != 0.0f ? 1.0f : 0.0f)",
}
VIEWS = {"Reshape", "Squeeze", "Unsqueeze", "Flatten", "Identity"}


class Emitter:
    """Walks a folded, shape-inferred batch-1 step graph and writes its C body."""

    def __init__(self, model: onnx.ModelProto, program: Program):
        self.model, self.p = model, program
        graph = model.graph
        self.values: dict[str, Value] = {}
        self.storages: list[Storage] = []
        shapes = run_shapes(model)
        for value in graph.input:
            shapes[value.name] = tuple(d.dim_value for d in value.type.tensor_type.shape.dim)
        self.shapes = shapes
        for init in graph.initializer:
            array = numpy_helper.to_array(init)
            self.values[init.name] = Value(tuple(array.shape), const=array)
        self.inputs = [v.name for v in graph.input if v.name not in self.values]
        for name in self.inputs:
            kind = "input" if name == "input" else "state"
            storage = Storage(math.prod(shapes[name]), kind, name)
            self.values[name] = Value(shapes[name], storage)
        self.outputs = [v.name for v in graph.output]
        self.nodes = list(graph.node)
        self.index = 0  # the node being emitted

    # ---- places ----------------------------------------------------------------------------
    def pointer(self, value: Value) -> str:
        s = value.storage
        assert s is not None
        if s.kind == "work":  # placed after the walk: a mark that ``resolve`` replaces
            return f"@{self.storages.index(s)}:{value.offset}@"
        base = {
            "input": "input",
            "state": f"s->{s.name}",
            "const": s.name,
            "output": "output",
        }[s.kind]
        return f"({base} + {value.offset})" if value.offset else base

    def resolve(self, text: str) -> str:
        """The work buffer's marks as offsets, once ``place`` has placed every buffer."""

        def offset(match: re.Match) -> str:
            at = self.storages[int(match.group(1))].offset + int(match.group(2))
            return f"(work + {at})" if at else "work"

        return re.sub(r"@(\d+):(\d+)@", offset, text)

    def materialise(self, name: str) -> Value:
        """A value as a place in memory: a constant becomes a ``static const`` array."""
        value = self.values[name]
        if value.storage is None:
            assert value.const is not None
            array = np.asarray(value.const, np.float32)
            value.storage = Storage(array.size, "const", self.p.constant(array))
        return value

    def new(self, name: str, shape: tuple[int, ...]) -> Value:
        storage = Storage(max(math.prod(shape), 1), "work", born=self.index)
        self.storages.append(storage)
        value = Value(tuple(shape), storage)
        self.values[name] = value
        return value

    def const(self, name: str, what: str) -> np.ndarray:
        value = self.values.get(name)
        if value is None or value.const is None:
            raise UserError(f"the C target needs a constant {what}; this step graph computes it")
        return value.const

    def shape(self, name: str) -> tuple[int, ...]:
        if name in self.values:
            return self.values[name].shape
        if name not in self.shapes:
            raise UserError(f"the C target cannot tell the shape of {name!r} at batch 1")
        return self.shapes[name]

    # ---- walking ---------------------------------------------------------------------------
    def run(self) -> None:
        for index, node in enumerate(self.nodes):
            self.index = index
            if all(self.values.get(i) is not None and self.values[i].const is not None
                   for i in node.input if i):  # fmt: skip
                self.fold(node)
                continue
            handler = getattr(self, f"op_{node.op_type}", None)
            if node.op_type in UNARY and handler is None:
                handler = self.unary
            elif node.op_type in BINARY:
                handler = self.binary
            if handler is None:
                raise UserError(
                    f"the C target has no kernel for the ONNX operator {node.op_type}, which "
                    "this model's step uses; export it with another --format"
                )
            self.p.body.append(f"  /* {node.op_type} {node.output[0]} */")
            handler(node)
            for name in node.input:
                if name and self.values[name].storage is not None:
                    self.values[name].storage.last_use = index
        for name in self.outputs:
            storage = self.materialise(name).storage
            storage.last_use = len(self.nodes)

    def fold(self, node: onnx.NodeProto) -> None:
        """A node of constants only: evaluated now with the ONNX reference."""
        from onnx.reference import ReferenceEvaluator

        inputs = [i for i in node.input if i]
        graph = helper.make_graph(
            [node],
            "fold",
            [helper.make_tensor_value_info(i, 1, None) for i in inputs],
            [helper.make_tensor_value_info(o, 1, None) for o in node.output],
        )
        evaluator = ReferenceEvaluator(
            helper.make_model(graph, opset_imports=self.model.opset_import)
        )
        results = evaluator.run(None, {i: self.values[i].const for i in inputs})
        for name, result in zip(node.output, results):
            self.values[name] = Value(tuple(np.shape(result)), const=np.asarray(result))

    def attr(self, node: onnx.NodeProto, name: str, default=None):
        for a in node.attribute:
            if a.name == name:
                return helper.get_attribute_value(a)
        return default

    def view(self, node: onnx.NodeProto, source: str, offset: int = 0) -> None:
        base = self.materialise(source)
        shape = self.shape(node.output[0])
        self.values[node.output[0]] = Value(shape, base.storage, base.offset + offset)

    def loops(
        self, shape: tuple[int, ...], operands: list[tuple[str, tuple[int, ...]]], body: str
    ) -> None:
        """``for`` loops over ``shape`` with each operand's element as ``{i}`` in ``body``
        (operand 0 is the output, contiguous); dimensions merged where every operand allows."""
        dims = [list(shape)]
        strides_of = [list(st) for _, st in operands]
        merged_shape, merged = [], [[] for _ in operands]
        for axis, size in enumerate(shape):
            if size == 1:
                continue
            if merged_shape and all(m[-1] == st[axis] * size for m, st in zip(merged, strides_of)):
                merged_shape[-1] *= size
                for m, st in zip(merged, strides_of):
                    m[-1] = st[axis]
                continue
            merged_shape.append(size)
            for m, st in zip(merged, strides_of):
                m.append(st[axis])
        del dims
        names = [f"i{k}" for k in range(len(merged_shape))]
        lines, indent = [], "  "
        for k, size in enumerate(merged_shape):
            lines.append(f"{indent}for ({names[k]} = 0; {names[k]} < {size}; ++{names[k]})")
            indent += "  "
        elements = []
        for (pointer, _), st in zip(operands, merged):
            index = " + ".join(f"{n} * {s}" if s != 1 else n for n, s in zip(names, st) if s)
            elements.append(f"{pointer}[{index or 0}]")
        lines.append(indent + body.format(*elements) + ";")
        declare = f"  {{ int {', '.join(names)};" if names else "  {"
        self.p.body.extend([declare, *lines, "  }"])

    # ---- elementwise -----------------------------------------------------------------------
    def unary(self, node: onnx.NodeProto) -> None:
        if node.op_type == "Identity":
            return self.view(node, node.input[0])
        expression, kernel = UNARY[node.op_type]
        if kernel:
            self.p.use(kernel)
        self.map(node, [node.input[0]], expression)

    def binary(self, node: onnx.NodeProto) -> None:
        names = [i for i in node.input if i]
        if len(names) == 1:
            return self.view(node, names[0])
        expression = BINARY[node.op_type]
        first, rest = names[0], names[1:]
        if len(rest) > 1:  # variadic Max / Min / Sum: pairwise, left to right
            for k in range(len(rest) - 1):
                expression = BINARY[node.op_type].format(expression, f"{{{k + 2}}}")
        self.map(node, [first, *rest], expression)

    def map(self, node: onnx.NodeProto, inputs: list[str], expression: str) -> None:
        out_shape = self.shape(node.output[0])
        out = self.new(node.output[0], out_shape)
        operands = [(self.pointer(out), strides(out_shape))]
        for name in inputs:
            value = self.materialise(name)
            operands.append((self.pointer(value), broadcast_strides(value.shape, out_shape)))
        body = "{0} = " + expression.replace("{", "{{").replace("}", "}}")
        body = re.sub(r"\{\{(\d+)\}\}", lambda m: f"{{{int(m.group(1)) + 1}}}", body)
        self.loops(out_shape, operands, body)

    def op_Clip(self, node: onnx.NodeProto) -> None:
        low = (
            self.const(node.input[1], "Clip minimum")
            if len(node.input) > 1 and node.input[1]
            else None
        )
        high = (
            self.const(node.input[2], "Clip maximum")
            if len(node.input) > 2 and node.input[2]
            else None
        )
        expression = "{0}"
        if low is not None:
            expression = f"({expression} < {c_float(low)} ? {c_float(low)} : {expression})"
        if high is not None:
            expression = f"({expression} > {c_float(high)} ? {c_float(high)} : {expression})"
        self.map(node, [node.input[0]], expression)

    def op_LeakyRelu(self, node: onnx.NodeProto) -> None:
        alpha = c_float(self.attr(node, "alpha", 0.01))
        self.map(node, [node.input[0]], f"({{0}} > 0.0f ? {{0}} : {alpha} * {{0}})")

    def op_HardSigmoid(self, node: onnx.NodeProto) -> None:
        alpha, beta = c_float(self.attr(node, "alpha", 0.2)), c_float(self.attr(node, "beta", 0.5))
        value = f"({alpha} * {{0}} + {beta})"
        self.map(
            node, [node.input[0]], f"({value} < 0.0f ? 0.0f : {value} > 1.0f ? 1.0f : {value})"
        )

    def op_Where(self, node: onnx.NodeProto) -> None:
        self.map(node, list(node.input), "({0} != 0.0f ? {1} : {2})")

    def op_Cast(self, node: onnx.NodeProto) -> None:
        to = self.attr(node, "to")
        if to == onnx.TensorProto.FLOAT:  # from a boolean (0, 1) or a float: the same floats
            return self.view(node, node.input[0])
        if to == onnx.TensorProto.BOOL:
            return self.map(node, [node.input[0]], "({0} != 0.0f ? 1.0f : 0.0f)")
        name = onnx.TensorProto.DataType.Name(to)
        raise UserError(f"the C target computes in float only; this step graph casts to {name}")

    # ---- views and copies ------------------------------------------------------------------
    def op_Tile(self, node: onnx.NodeProto) -> None:
        data = self.materialise(node.input[0])
        out_shape = self.shape(node.output[0])
        out = self.new(node.output[0], out_shape)
        names = [f"i{k}" for k in range(len(out_shape))]
        lines, indent = ["  { int " + ", ".join(names) + ";"], "  "
        for name, size in zip(names, out_shape):
            lines.append(f"{indent}for ({name} = 0; {name} < {size}; ++{name})")
            indent += "  "
        source = " + ".join(
            f"({n} % {d}) * {st}" for n, d, st in zip(names, data.shape, strides(data.shape))
        )
        target = " + ".join(f"{n} * {st}" for n, st in zip(names, strides(out_shape)))
        lines += [f"{indent}{self.pointer(out)}[{target}] = {self.pointer(data)}[{source}];", "  }"]
        self.p.body.extend(lines)

    def op_Reshape(self, node: onnx.NodeProto) -> None:
        self.view(node, node.input[0])

    op_Squeeze = op_Unsqueeze = op_Flatten = op_Reshape

    def op_Gather(self, node: onnx.NodeProto) -> None:
        indices = self.const(node.input[1], "Gather index").astype(np.int64)
        data = self.materialise(node.input[0])
        axis = self.attr(node, "axis", 0) % len(data.shape)
        size = data.shape[axis]
        indices = np.where(indices < 0, indices + size, indices)
        outer = math.prod(data.shape[:axis])
        inner = math.prod(data.shape[axis + 1 :])
        if indices.size == 1 and outer == 1:
            return self.view(node, node.input[0], int(indices.reshape(-1)[0]) * inner)
        self.copy_by_index(node, data, axis, indices.reshape(-1))

    def copy_by_index(self, node, data: Value, axis: int, indices: np.ndarray) -> None:
        """Rows ``indices`` of ``data`` along ``axis``, copied: one loop per index."""
        out = self.new(node.output[0], self.shape(node.output[0]))
        outer = math.prod(data.shape[:axis])
        inner = math.prod(data.shape[axis + 1 :])
        src, dst = self.pointer(data), self.pointer(out)
        size = data.shape[axis]
        for o in range(outer):
            for k, index in enumerate(indices):
                at = (o * len(indices) + k) * inner
                from_at = (o * size + int(index)) * inner
                self.p.body.append(self.p.copy(f"{dst} + {at}", f"{src} + {from_at}", inner))

    def op_Slice(self, node: onnx.NodeProto) -> None:
        data = self.materialise(node.input[0])
        rank = len(data.shape)
        starts = self.const(node.input[1], "Slice start").astype(np.int64)
        ends = self.const(node.input[2], "Slice end").astype(np.int64)
        axes = (
            self.const(node.input[3], "Slice axis").astype(np.int64)
            if len(node.input) > 3 and node.input[3]
            else np.arange(len(starts))
        )
        steps = (
            self.const(node.input[4], "Slice step").astype(np.int64)
            if len(node.input) > 4 and node.input[4]
            else np.ones(len(starts), np.int64)
        )
        begin, step = [0] * rank, [1] * rank
        for s, e, a, st in zip(starts, ends, axes, steps):
            a = int(a) % rank
            begin[a] = int(slice(int(s), int(e), int(st)).indices(data.shape[a])[0])
            step[a] = int(st)
        out_shape = self.shape(node.output[0])
        base = sum(b * st for b, st in zip(begin, strides(data.shape)))
        if all(st == 1 for st in step) and contiguous_block(data.shape, out_shape):
            return self.view(node, node.input[0], base)
        self.strided_copy(
            node, data, out_shape, base, [s * k for s, k in zip(strides(data.shape), step)]
        )

    def strided_copy(self, node, data: Value, out_shape, base: int, source_strides) -> None:
        out = self.new(node.output[0], out_shape)
        pointer = self.pointer(data)
        source = f"({pointer} + {base})" if base else pointer
        self.loops(
            out_shape,
            [(self.pointer(out), strides(out_shape)), (source, tuple(source_strides))],
            "{0} = {1}",
        )

    def op_Transpose(self, node: onnx.NodeProto) -> None:
        data = self.materialise(node.input[0])
        perm = self.attr(node, "perm") or list(reversed(range(len(data.shape))))
        own = strides(data.shape)
        out_shape = tuple(data.shape[p] for p in perm)
        self.strided_copy(node, data, out_shape, 0, [own[p] for p in perm])

    def op_Expand(self, node: onnx.NodeProto) -> None:
        data = self.materialise(node.input[0])
        out_shape = self.shape(node.output[0])
        self.strided_copy(node, data, out_shape, 0, broadcast_strides(data.shape, out_shape))

    def op_Concat(self, node: onnx.NodeProto) -> None:
        out_shape = self.shape(node.output[0])
        axis = self.attr(node, "axis") % len(out_shape)
        out = self.new(node.output[0], out_shape)
        outer = math.prod(out_shape[:axis])
        inner = math.prod(out_shape[axis + 1 :])
        at = 0
        for name in node.input:
            part = self.materialise(name)
            width = part.shape[axis] * inner
            src, dst = self.pointer(part), self.pointer(out)
            for o in range(outer):
                to = f"{dst} + {o * out_shape[axis] * inner + at}"
                self.p.body.append(self.p.copy(to, f"{src} + {o * width}", width))
            at += width

    def op_Split(self, node: onnx.NodeProto) -> None:
        data = self.materialise(node.input[0])
        axis = self.attr(node, "axis", 0) % len(data.shape)
        at = 0
        for name in node.output:
            out_shape = self.shape(name)
            fake = helper.make_node("Slice", [], [name])
            base = at * math.prod(data.shape[axis + 1 :])
            if contiguous_block(data.shape, out_shape):
                self.values[name] = Value(out_shape, data.storage, data.offset + base)
            else:
                self.strided_copy(fake, data, out_shape, base, strides(data.shape))
            at += out_shape[axis]

    # ---- reductions and normalisation ------------------------------------------------------
    def reduce(self, node: onnx.NodeProto, mean: bool) -> None:
        data = self.materialise(node.input[0])
        rank = len(data.shape)
        if len(node.input) > 1 and node.input[1]:
            axes = [int(a) % rank for a in self.const(node.input[1], "reduction axis")]
        else:
            axes = [int(a) % rank for a in (self.attr(node, "axes") or range(rank))]
        out_shape = self.shape(node.output[0])
        out = self.new(node.output[0], out_shape)
        kept = [a for a in range(rank) if a not in axes]
        own = strides(data.shape)
        count = math.prod(data.shape[a] for a in axes)
        outer_names = [f"o{k}" for k in kept]
        inner_names = [f"r{k}" for k in axes]
        index = " + ".join([f"o{k} * {own[k]}" for k in kept] + [f"r{k} * {own[k]}" for k in axes])
        out_index = (
            " + ".join(
                f"o{k} * {s}" for k, s in zip(kept, strides(tuple(data.shape[k] for k in kept)))
            )
            or "0"
        )
        lines = [
            f"  {{ int {', '.join(outer_names + inner_names)}; float acc;"
            if outer_names + inner_names
            else "  { float acc;"
        ]
        indent = "  "
        for k in kept:
            lines.append(f"{indent}for (o{k} = 0; o{k} < {data.shape[k]}; ++o{k}) {{")
            indent += "  "
        lines.append(f"{indent}acc = 0.0f;")
        for k in axes:
            lines.append(f"{indent}for (r{k} = 0; r{k} < {data.shape[k]}; ++r{k})")
            indent += "  "
        lines.append(f"{indent}acc += {self.pointer(data)}[{index or 0}];")
        indent = indent[: len(indent) - 2 * len(axes)]
        scale = f" * {c_float(1.0 / count)}" if mean else ""
        lines.append(f"{indent}{self.pointer(out)}[{out_index}] = acc{scale};")
        lines.extend(["  " * (len(kept) - k) + "  }" for k in range(len(kept))])
        lines.append("  }")
        self.p.body.extend(lines)

    def op_ReduceMean(self, node: onnx.NodeProto) -> None:
        self.reduce(node, mean=True)

    def op_ReduceSum(self, node: onnx.NodeProto) -> None:
        self.reduce(node, mean=False)

    def op_LayerNormalization(self, node: onnx.NodeProto) -> None:
        data = self.materialise(node.input[0])
        axis = self.attr(node, "axis", -1) % len(data.shape)
        width = math.prod(data.shape[axis:])
        rows = math.prod(data.shape[:axis])
        eps = c_float(self.attr(node, "epsilon", 1e-5))
        scale = self.pointer(self.materialise(node.input[1]))
        bias = (
            self.pointer(self.materialise(node.input[2]))
            if len(node.input) > 2 and node.input[2]
            else None
        )
        out = self.new(node.output[0], self.shape(node.output[0]))
        x, y = self.pointer(data), self.pointer(out)
        self.p.body.append(
            f"  {{ int r, j; for (r = 0; r < {rows}; ++r) {{\n"
            f"    const float *x = {x} + r * {width}; float *y = {y} + r * {width};\n"
            f"    float mean = 0.0f, var = 0.0f, inv;\n"
            f"    for (j = 0; j < {width}; ++j) mean += x[j];\n"
            f"    mean *= {c_float(1.0 / width)};\n"
            f"    for (j = 0; j < {width}; ++j) var += (x[j] - mean) * (x[j] - mean);\n"
            f"    inv = 1.0f / sqrtf(var * {c_float(1.0 / width)} + {eps});\n"
            f"    for (j = 0; j < {width}; ++j) y[j] = (x[j] - mean) * inv * {scale}[j]"
            + (f" + {bias}[j];" if bias else ";")
            + "\n  } }"
        )

    # ---- matrix products -------------------------------------------------------------------
    def op_Gemm(self, node: onnx.NodeProto) -> None:
        a = self.materialise(node.input[0])
        if self.attr(node, "transA", 0):
            raise UserError("the C target takes Gemm with transA=0 only")
        alpha, beta = self.attr(node, "alpha", 1.0), self.attr(node, "beta", 1.0)
        b = self.values[node.input[1]]
        if b.const is None:
            raise UserError("the C target takes Gemm with constant weights only")
        w = np.asarray(b.const, np.float32)
        w = (w if self.attr(node, "transB", 0) else w.T) * alpha  # (n, k)
        n, k = w.shape
        rows = a.size // k
        bias = None
        if len(node.input) > 2 and node.input[2]:
            c = self.values[node.input[2]]
            if c.const is None or c.const.size not in (1, n):  # computed: added after
                self.matvecs(node.output[0], a, w, None, rows)
                out = self.values[node.output[0]]
                added = self.materialise(node.input[2])
                scale = "" if beta == 1.0 else f"{c_float(beta)} * "
                self.loops(
                    out.shape,
                    [(self.pointer(out), strides(out.shape)),
                     (self.pointer(added), broadcast_strides(added.shape, out.shape))],
                    "{0} += " + scale + "{1}",
                )  # fmt: skip
                return
            vector = np.asarray(c.const, np.float32).reshape(-1) * beta
            bias = self.p.constant(np.broadcast_to(vector, (n,)), "b")
        self.matvecs(node.output[0], a, w, bias, rows)

    def matvecs(self, output: str, a: Value, w: np.ndarray, bias: str | None, rows: int) -> None:
        n, k = w.shape
        out = self.new(output, self.shape(output))
        call = self.p.matrix(w)
        x, y = self.pointer(a), self.pointer(out)
        for r in range(rows):
            self.p.body.append(f"  {call}{x} + {r * k}, {bias or 0}, {y} + {r * n}, {n}, {k});")

    def op_MatMul(self, node: onnx.NodeProto) -> None:
        a = self.materialise(node.input[0])
        b = self.values[node.input[1]]
        if b.const is not None and b.const.ndim == 2:
            self.matvecs(
                node.output[0],
                a,
                np.asarray(b.const, np.float32).T,
                None,
                a.size // b.const.shape[0],
            )
            return
        b = self.materialise(node.input[1])
        out_shape = self.shape(node.output[0])
        out = self.new(node.output[0], out_shape)
        a_shape = (1,) * (2 - len(a.shape)) + a.shape if len(a.shape) < 2 else a.shape
        b_shape = b.shape if len(b.shape) >= 2 else (*b.shape, 1)
        m, k, n = a_shape[-2], a_shape[-1], b_shape[-1]
        batch = out_shape[:-2] if len(out_shape) >= 2 else ()
        a_st = broadcast_strides(a_shape[:-2], batch) if batch else ()
        b_st = broadcast_strides(b_shape[:-2], batch) if batch else ()
        names = [f"i{d}" for d in range(len(batch))]
        a_off = " + ".join([f"{nm} * {s * m * k}" for nm, s in zip(names, a_st) if s] or ["0"])
        b_off = " + ".join([f"{nm} * {s * k * n}" for nm, s in zip(names, b_st) if s] or ["0"])
        o_off = " + ".join([f"{nm} * {s * m * n}" for nm, s in zip(names, strides(batch))] or ["0"])
        lines = ["  { int " + ", ".join([*names, "r", "q", "j"]) + "; float acc;"]
        indent = "  "
        for d, size in enumerate(batch):
            lines.append(f"{indent}for ({names[d]} = 0; {names[d]} < {size}; ++{names[d]})")
            indent += "  "
        A, B, Y = self.pointer(a), self.pointer(b), self.pointer(out)
        lines.append(
            f"{indent}for (r = 0; r < {m}; ++r) for (q = 0; q < {n}; ++q) {{\n"
            f"{indent}  acc = 0.0f;\n"
            f"{indent}  for (j = 0; j < {k}; ++j)\n"
            f"{indent}    acc += {A}[{a_off} + r * {k} + j] * {B}[{b_off} + j * {n} + q];\n"
            f"{indent}  {Y}[{o_off} + r * {n} + q] = acc;\n"
            f"{indent}}}"
        )
        lines.append("  }")
        self.p.body.extend(lines)

    def op_Einsum(self, node: onnx.NodeProto) -> None:
        equation = self.attr(node, "equation").decode().replace(" ", "")
        given, result = equation.split("->")
        terms = given.split(",")
        if "." in equation:
            raise UserError("the C target takes Einsum without ellipses only")
        operands = [self.materialise(n) for n in node.input]
        sizes: dict[str, int] = {}
        for term, value in zip(terms, operands):
            sizes.update(zip(term, value.shape))
        out = self.new(node.output[0], tuple(sizes[c] for c in result))
        summed = [c for c in dict.fromkeys("".join(terms)) if c not in result]
        loops = [*result, *summed]
        lines = ["  { int " + ", ".join(f"e_{c}" for c in loops) + "; float acc;"]
        indent = "  "
        for c in result:
            lines.append(f"{indent}for (e_{c} = 0; e_{c} < {sizes[c]}; ++e_{c}) {{")
            indent += "  "
        lines.append(f"{indent}acc = 0.0f;")
        for c in summed:
            lines.append(f"{indent}for (e_{c} = 0; e_{c} < {sizes[c]}; ++e_{c})")
            indent += "  "

        def element(term: str, value: Value) -> str:
            st = strides(value.shape)
            return (
                f"{self.pointer(value)}["
                + (" + ".join(f"e_{c} * {s}" for c, s in zip(term, st)) or "0")
                + "]"
            )

        product = " * ".join(element(t, v) for t, v in zip(terms, operands))
        lines.append(f"{indent}acc += {product};")
        indent = indent[: len(indent) - 2 * len(summed)]
        out_st = strides(out.shape)
        out_index = " + ".join(f"e_{c} * {s}" for c, s in zip(result, out_st)) or "0"
        lines.append(f"{indent}{self.pointer(out)}[{out_index}] = acc;")
        lines.extend(["  " * (len(result) - k) + "  }" for k in range(len(result))])
        lines.append("  }")
        self.p.body.extend(lines)

    def op_Conv(self, node: onnx.NodeProto) -> None:
        """A convolution of one sample, any number of spatial axes, zero padding."""
        x = self.materialise(node.input[0])
        w = np.asarray(self.const(node.input[1], "Conv weight"), np.float32)
        spatial = len(x.shape) - 2
        if (self.attr(node, "auto_pad", b"NOTSET") or b"NOTSET") != b"NOTSET":
            raise UserError("the C target takes Conv with explicit pads only")
        step = self.attr(node, "strides") or [1] * spatial
        dilation = self.attr(node, "dilations") or [1] * spatial
        pads = self.attr(node, "pads") or [0] * (2 * spatial)
        groups = self.attr(node, "group", 1)
        out_shape = self.shape(node.output[0])
        out = self.new(node.output[0], out_shape)
        channels_out, per_group = w.shape[0], w.shape[1]
        bias = (
            self.p.constant(self.const(node.input[2], "Conv bias"), "b")
            if len(node.input) > 2 and node.input[2]
            else None
        )
        weight, scale = self.p.kernel(w)
        X, Y = self.pointer(x), self.pointer(out)
        o = [f"o{k}" for k in range(spatial)]
        k = [f"k{k}" for k in range(spatial)]
        p = [f"p{k}" for k in range(spatial)]
        x_st, w_st, y_st = strides(x.shape), strides(w.shape), strides(out_shape)
        lines = [
            "  { int oc, ic, " + ", ".join(o + k + p) + "; float acc;",
            "  for (oc = 0; oc < " + f"{channels_out}; ++oc)",
        ]
        indent = "    "
        for name, size in zip(o, out_shape[2:]):
            lines.append(f"{indent}for ({name} = 0; {name} < {size}; ++{name})")
            indent += "  "
        lines.append(indent + "{")
        indent += "  "
        start = bias + "[oc]" if bias and not scale else "0.0f"  # int8: the bias after the scale
        lines.append(f"{indent}acc = {start};")
        group_size = channels_out // groups
        lines.append(f"{indent}for (ic = 0; ic < {per_group}; ++ic)")
        indent += "  "
        for d in range(spatial):
            lines.append(f"{indent}for ({k[d]} = 0; {k[d]} < {w.shape[2 + d]}; ++{k[d]})")
            indent += "  "
        lines.append(indent + "{")
        inner = indent + "  "
        checks = []
        for d in range(spatial):
            lines.append(
                f"{inner}{p[d]} = {o[d]} * {step[d]} + {k[d]} * {dilation[d]} - {pads[d]};"
            )
            if pads[d] or pads[d + spatial]:
                checks.append(f"{p[d]} < 0 || {p[d]} >= {x.shape[2 + d]}")
        if checks:
            lines.append(f"{inner}if ({' || '.join(checks)}) continue;")
        channel = f"((oc / {group_size}) * {per_group} + ic)"
        x_index = " + ".join(
            [f"{channel} * {x_st[1]}", *(f"{p[d]} * {x_st[2 + d]}" for d in range(spatial))]
        )
        w_index = " + ".join(
            [
                "oc * " + str(w_st[0]),
                f"ic * {w_st[1]}",
                *(f"{k[d]} * {w_st[2 + d]}" for d in range(spatial)),
            ]
        )
        cast = "(float)" if scale else ""
        lines.append(f"{inner}acc += {cast}{weight}[{w_index}] * {X}[{x_index}];")
        lines.append(indent + "}")
        indent = indent[: len(indent) - 2 * (spatial + 1)]
        y_index = " + ".join(
            ["oc * " + str(y_st[1]), *(f"{o[d]} * {y_st[2 + d]}" for d in range(spatial))]
        )
        after = bias + "[oc]" if bias else "0.0f"
        total = f"fmaf(acc, {scale}[oc], {after})" if scale else "acc"
        lines.append(f"{indent}{Y}[{y_index}] = {total};")
        lines += [indent[:-2] + "}", "  }"]
        self.p.body.extend(lines)

    # ---- ONNX's recurrent operators, one step --------------------------------------------
    def recurrent_inputs(self, node: onnx.NodeProto, gates: int):
        x = self.materialise(node.input[0])
        if x.shape[0] != 1 or x.shape[1] != 1:
            raise UserError(f"the C target takes {node.op_type} over one step of batch 1 only")
        if (self.attr(node, "direction", b"forward") or b"forward") != b"forward" or self.attr(
            node, "layout", 0
        ):
            raise UserError(f"the C target takes forward {node.op_type} (layout 0) only")
        defaults = {
            "RNN": [b"Tanh"],
            "GRU": [b"Sigmoid", b"Tanh"],
            "LSTM": [b"Sigmoid", b"Tanh", b"Tanh"],
        }
        activations = self.attr(node, "activations")
        if activations not in (None, defaults[node.op_type]) or self.attr(node, "clip") is not None:
            raise UserError(f"the C target takes {node.op_type} with its default activations only")
        hidden = self.attr(node, "hidden_size")
        w = np.asarray(self.const(node.input[1], f"{node.op_type} weight"), np.float32)[0]
        r = np.asarray(self.const(node.input[2], f"{node.op_type} weight"), np.float32)[0]
        if len(node.input) > 3 and node.input[3]:
            b = np.asarray(self.const(node.input[3], f"{node.op_type} bias"), np.float32)[0]
        else:
            b = np.zeros(2 * gates * hidden, np.float32)
        if len(node.input) > 4 and node.input[4]:
            raise UserError(f"the C target takes {node.op_type} without sequence_lens only")

        def state(i: int) -> str:
            if len(node.input) > i and node.input[i]:
                return self.pointer(self.materialise(node.input[i]))
            zeros = self.p.constant(np.zeros(hidden, np.float32), "z")
            return zeros

        return x, hidden, w, r, b, state

    def recurrent_outputs(self, node: onnx.NodeProto, hidden: int, count: int) -> list[Value]:
        """``Y_h`` (and ``Y_c``) in fresh work space; ``Y`` a view of ``Y_h`` (one step)."""
        outs = []
        for i, name in enumerate(node.output[1 : 1 + count], start=1):
            outs.append(self.new(name or f"{node.output[0]}#{i}", (1, 1, hidden)))
        if node.output[0]:
            self.values[node.output[0]] = Value((1, 1, 1, hidden), outs[0].storage, outs[0].offset)
        return outs

    def op_GRU(self, node: onnx.NodeProto) -> None:
        x, H, w, r, b, state = self.recurrent_inputs(node, 3)
        h = state(5)
        gx = self.new(node.output[0] + "#gx", (3 * H,))
        gh = self.new(node.output[0] + "#gh", (3 * H,))
        (out,) = self.recurrent_outputs(node, H, 1)
        X, GX, GH, Y = self.pointer(x), self.pointer(gx), self.pointer(gh), self.pointer(out)
        self.p.use("sigmoid")
        self.p.use("tanh")
        body = self.p.body
        if self.attr(node, "linear_before_reset", 0):
            # the z and r gates' two biases are one sum; the n gate's recurrent bias stays apart
            merged = b[: 3 * H].copy()
            merged[: 2 * H] += b[3 * H : 5 * H]
            bw, bn = self.p.constant(merged, "b"), self.p.constant(b[5 * H :], "b")
            body.append(f"  {self.p.matrix(w)}{X}, {bw}, {GX}, {3 * H}, {w.shape[1]});")
            body.append(f"  {self.p.matrix(r)}{h}, 0, {GH}, {3 * H}, {H});")
            body.append(
                f"  {{ int j; for (j = 0; j < {H}; ++j) {{\n"
                f"    float z = rz_sigmoid({GX}[j] + {GH}[j]);\n"
                f"    float rr = rz_sigmoid({GX}[{H} + j] + {GH}[{H} + j]);\n"
                f"    float n = rz_tanh(\n"
                f"        fmaf(rr, {GH}[{2 * H} + j] + {bn}[j], {GX}[{2 * H} + j]));\n"
                f"    {Y}[j] = fmaf(z, {h}[j] - n, n);\n"
                "  } }"
            )
        else:  # the reset gate before the recurrent weights: r ⊙ h first
            bw, br = self.p.constant(b[: 3 * H], "b"), self.p.constant(b[3 * H :], "b")
            body.append(f"  {self.p.matrix(w)}{X}, {bw}, {GX}, {3 * H}, {w.shape[1]});")
            body.append(f"  {self.p.matrix(r[: 2 * H])}{h}, {br}, {GH}, {2 * H}, {H});")
            body.append(
                f"  {{ int j; for (j = 0; j < {H}; ++j) {{\n"
                f"    {GX}[j] = rz_sigmoid({GX}[j] + {GH}[j]);\n"
                f"    {GH}[{2 * H} + j] = rz_sigmoid({GX}[{H} + j] + {GH}[{H} + j]) * {h}[j];\n"
                "  } }"
            )
            bn = self.p.constant(b[5 * H :], "b")
            body.append(f"  {self.p.matrix(r[2 * H :])}{GH} + {2 * H}, {bn}, {GH}, {H}, {H});")
            body.append(
                f"  {{ int j; for (j = 0; j < {H}; ++j) {{\n"
                f"    float n = rz_tanh({GX}[{2 * H} + j] + {GH}[j]);\n"
                f"    {Y}[j] = (1.0f - {GX}[j]) * n + {GX}[j] * {h}[j];\n"
                "  } }"
            )

    def op_LSTM(self, node: onnx.NodeProto) -> None:
        x, H, w, r, b, state = self.recurrent_inputs(node, 4)
        if len(node.input) > 7 and node.input[7]:
            raise UserError("the C target takes LSTM without peepholes only")
        if self.attr(node, "input_forget", 0):
            raise UserError("the C target takes LSTM with input_forget=0 only")
        h, c = state(5), state(6)
        gx = self.new(node.output[0] + "#gx", (4 * H,))
        gh = self.new(node.output[0] + "#gh", (4 * H,))
        out_h, out_c = self.recurrent_outputs(node, H, 2)
        X, GX, GH = self.pointer(x), self.pointer(gx), self.pointer(gh)
        YH, YC = self.pointer(out_h), self.pointer(out_c)
        bias = self.p.constant(b[: 4 * H] + b[4 * H :], "b")
        self.p.use("sigmoid")
        self.p.use("tanh")
        self.p.body += [
            f"  {self.p.matrix(w)}{X}, {bias}, {GX}, {4 * H}, {w.shape[1]});",
            f"  {self.p.matrix(r)}{h}, 0, {GH}, {4 * H}, {H});",
            f"  {{ int j; for (j = 0; j < {H}; ++j) {{  /* gates i, o, f, c */\n"
            f"    float i = rz_sigmoid({GX}[j] + {GH}[j]);\n"
            f"    float o = rz_sigmoid({GX}[{H} + j] + {GH}[{H} + j]);\n"
            f"    float f = rz_sigmoid({GX}[{2 * H} + j] + {GH}[{2 * H} + j]);\n"
            f"    float g = rz_tanh({GX}[{3 * H} + j] + {GH}[{3 * H} + j]);\n"
            f"    {YC}[j] = f * {c}[j] + i * g;\n"
            f"    {YH}[j] = o * rz_tanh({YC}[j]);\n"
            "  } }",
        ]

    def op_RNN(self, node: onnx.NodeProto) -> None:
        x, H, w, r, b, state = self.recurrent_inputs(node, 1)
        h = state(5)
        gx = self.new(node.output[0] + "#gx", (H,))
        (out,) = self.recurrent_outputs(node, H, 1)
        X, GX, Y = self.pointer(x), self.pointer(gx), self.pointer(out)
        self.p.use("tanh")
        bias = self.p.constant(b[:H] + b[H:], "b")
        self.p.body += [
            f"  {self.p.matrix(w)}{X}, {bias}, {GX}, {H}, {w.shape[1]});",
            f"  {self.p.matrix(r)}{h}, {GX}, {Y}, {H}, {H});",
            f"  {{ int j; for (j = 0; j < {H}; ++j) {Y}[j] = rz_tanh({Y}[j]); }}",
        ]

    # ---- the work buffer -------------------------------------------------------------------
    def place(self) -> int:
        """Offsets in the work buffer by liveness (first fit); its size in floats."""
        placed: list[Storage] = []
        size = 0
        for storage in sorted(self.storages, key=lambda s: s.born):
            end = max(storage.last_use, storage.born)
            busy = sorted(
                (o.offset, o.offset + o.size)
                for o in placed
                if max(o.last_use, o.born) >= storage.born and o.born <= end
            )
            offset = 0
            for start, stop in busy:
                if offset + storage.size <= start:
                    break
                offset = max(offset, stop)
            storage.offset = offset
            placed.append(storage)
            size = max(size, offset + storage.size)
        return size


def contiguous_block(shape: tuple[int, ...], part: tuple[int, ...]) -> bool:
    """Whether a sub-block ``part`` of ``shape`` (same rank, starting anywhere) is one run of
    memory: every axis before the first that differs has size 1 in ``part``, every axis after
    it is whole."""
    differing = [a for a, (s, p) in enumerate(zip(shape, part)) if s != p]
    if not differing:
        return True
    first = differing[0]
    return all(part[a] == 1 for a in range(first)) and all(
        part[a] == shape[a] for a in range(first + 1, len(shape))
    )


@dataclass
class CModel:
    """The generated files and what a caller needs to know about them."""

    source: str
    header: str
    prefix: str
    input_size: int
    output_size: int
    states: list[tuple[str, int]]
    work_floats: int
    weight_bytes: int

    @property
    def state_floats(self) -> int:
        return sum(size for _, size in self.states)


def identifier(text: str) -> str:
    name = re.sub(r"[^0-9a-zA-Z_]", "_", text).strip("_").lower() or "model"
    return name if not name[0].isdigit() else f"m_{name}"


def generate(
    step: onnx.ModelProto,
    prefix: str,
    weights: str = "fp32",
    header_name: str = "model.step.h",
    about: str = "",
) -> CModel:
    """``step`` (a ``model.step.onnx`` graph) as C: its source, header and sizes."""
    prefix = identifier(prefix)
    folded = fixed_batch(step)
    program = Program(prefix, weights)
    emitter = Emitter(folded, program)
    emitter.run()
    work = emitter.place()
    program.body = [emitter.resolve(line) for line in program.body]
    states = [(name, emitter.values[name].size) for name in emitter.inputs if name != "input"]
    input_size = emitter.values["input"].size if "input" in emitter.values else 0
    output_size = emitter.values[emitter.outputs[0]].size
    upper = prefix.upper()
    # the results: the prediction to the caller, each new state into its slot
    prediction = emitter.resolve(emitter.pointer(emitter.values[emitter.outputs[0]]))
    finish = [program.copy("output", prediction, output_size)]
    late = []  # from work space: after every copy that reads a state slot
    for (name, size), out_name in zip(states, emitter.outputs[1:]):
        source = emitter.resolve(emitter.pointer(emitter.values[out_name]))
        if source != f"s->{name}":
            copy = program.copy(f"s->{name}", source, size)
            (late if "work" in source else finish).append(copy)
    finish += late
    kernels = [KERNELS[k] for k in KERNELS if k in program.kernels]
    fields = "\n".join(f"  float {name}[{size}];" for name, size in states) or "  float unused;"
    header = f"""/* {about or prefix}: one streaming step as plain C99; written by rnnzoo.
 * Usage: {prefix}_state s; {prefix}_init(&s); then for each sample
 *   {prefix}_step(&s, input, output);   and {prefix}_reset(&s) to start a new stream. */
#ifndef {upper}_STEP_H
#define {upper}_STEP_H

#ifdef __cplusplus
extern "C" {{
#endif

#define {upper}_INPUT_SIZE {input_size}   /* floats in one step's input */
#define {upper}_OUTPUT_SIZE {output_size}  /* floats in one step's prediction */
#define {upper}_STATE_FLOATS {sum(s for _, s in states)}  /* floats the state struct holds */
#define {upper}_WORK_FLOATS {work}  /* floats of work space {prefix}_step takes on the stack */

/* The state the caller owns, one per stream (a model has no global mutable state). */
typedef struct {{
{fields}
}} {prefix}_state;

void {prefix}_init({prefix}_state *s);   /* before the first step */
void {prefix}_reset({prefix}_state *s);  /* start a new stream (a new window, a new sequence) */
void {prefix}_step({prefix}_state *s, const float *input, float *output);

#ifdef __cplusplus
}}
#endif
#endif
"""
    source = f"""/* {about or prefix}: one streaming step as plain C99; written by rnnzoo. */
#include <math.h>
#include <string.h>

#if defined(__GNUC__) || defined(__clang__)
#define RZ_INLINE static inline __attribute__((always_inline))
#else
#define RZ_INLINE static inline
#endif

#include "{header_name}"

{chr(10).join(program.constants)}

{chr(10).join(kernels)}

void {prefix}_reset({prefix}_state *s) {{ memset(s, 0, sizeof(*s)); }}

void {prefix}_init({prefix}_state *s) {{ {prefix}_reset(s); }}

void {prefix}_step({prefix}_state *s, const float *input, float *output) {{
  float work[{max(work, 1)}];
{chr(10).join(program.body)}
{chr(10).join(finish)}
}}
"""
    if "input" not in emitter.values or emitter.values["input"].storage is None:
        source = source.replace(
            "const float *input, float *output) {",
            "const float *input, float *output) {\n  (void)input;",
        )
    return CModel(
        source, header, prefix, input_size, output_size, states, work, program.weight_bytes
    )
