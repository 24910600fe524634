"""TensorFlow Lite Micro: the ``.tflite`` step run on TFLM's own interpreter (PyPI
``tflite-micro``, the reference kernels a microcontroller build compiles), the tensor arena it
allocated (its recording allocator's count), and the files a firmware needs: the model as an
aligned C array and one streaming step in C++ with the operator resolver it needs."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from rnnzoo.errors import UserError
from rnnzoo.export.litert import FILE, checked, operators, rows, stream_split
from rnnzoo.export.verification import Case
from rnnzoo.runtime.edge import MicroStep, signature_positions

HEADER, EXAMPLE = "model_data.h", "micro_step.cc"
# TFLM resolver methods whose names are not the operator's name in CamelCase
RESOLVER_NAMES = {"BATCH_MATMUL": "BatchMatMul", "SPLIT_V": "SplitV", "CONV_2D": "Conv2D"}


def arena_bytes(path: Path, feeds: list[np.ndarray]) -> int:
    """The tensor arena TFLM allocates for the step, measured by its recording allocator after
    one step (trying ever smaller arenas instead crashed TFLM on integer files)."""
    step = MicroStep(path)
    step(feeds)
    return step.arena_bytes()


def c_array(data: bytes) -> str:
    lines = [", ".join(f"0x{b:02x}" for b in data[i : i + 12]) for i in range(0, len(data), 12)]
    return (
        "// The step model (model.step.tflite) for TensorFlow Lite Micro; written by rnnzoo.\n"
        "#pragma once\n\n"
        "alignas(16) const unsigned char g_model[] = {\n  " + ",\n  ".join(lines) + "\n};\n"
        f"const unsigned int g_model_len = {len(data)};\n"
    )


def example_source(
    ops: list[str], arena: int, names: list[str], positions: tuple[list[int], list[int]]
) -> str:
    """One streaming step in C++: the resolver with exactly the file's operators, the arena
    measured here (plus 1 kB), and each new state copied back into its input — addressed by
    the tensors' positions in the graph, which need not follow the signature's order."""
    add = "\n".join(
        f"  resolver.Add{RESOLVER_NAMES.get(op, op.title().replace('_', ''))}();" for op in ops
    )
    inputs, outputs = positions
    where = "\n".join(
        f"//   {name}: input {i}" + (f", new value at output {o}" if j else "")
        for j, (name, i, o) in enumerate(zip(names, inputs, outputs))
    )
    states = len(names) - 1
    return f"""// One streaming step of the model on TensorFlow Lite Micro; written by rnnzoo.
// float32, batch 1; where each tensor sits among the interpreter's inputs and outputs:
{where}
//   the prediction: output {outputs[0]}
#include <cstring>

#include "model_data.h"
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
#include "tensorflow/lite/schema/schema_generated.h"

constexpr int kArenaSize = {arena + 1024};  // measured: {arena} bytes on the host interpreter
alignas(16) static uint8_t tensor_arena[kArenaSize];
constexpr int kInput = {inputs[0]}, kPrediction = {outputs[0]}, kStates = {states};
constexpr int kStateIn[kStates] = {{{", ".join(map(str, inputs[1:]))}}};
constexpr int kStateOut[kStates] = {{{", ".join(map(str, outputs[1:]))}}};

int main() {{
  const tflite::Model* model = tflite::GetModel(g_model);
  tflite::MicroMutableOpResolver<{len(ops)}> resolver;
{add}
  tflite::MicroInterpreter interpreter(model, resolver, tensor_arena, kArenaSize);
  if (interpreter.AllocateTensors() != kTfLiteOk) return 1;
  for (int s = 0; s < kStates; ++s) {{  // a stream starts from zero states
    TfLiteTensor* state = interpreter.input(kStateIn[s]);
    std::memset(state->data.raw, 0, state->bytes);
  }}
  for (int t = 0; t < 10; ++t) {{
    float* x = interpreter.input(kInput)->data.f;  // write the sample of step t here
    (void)x;
    if (interpreter.Invoke() != kTfLiteOk) return 1;
    float prediction = interpreter.output(kPrediction)->data.f[0];
    (void)prediction;
    for (int s = 0; s < kStates; ++s) {{  // new state -> next step's state
      const TfLiteTensor* now = interpreter.output(kStateOut[s]);
      std::memcpy(interpreter.input(kStateIn[s])->data.raw, now->data.raw, now->bytes);
    }}
  }}
  return 0;
}}
"""


def write_micro(
    model: nn.Module,
    folder: Path,
    cases: list[Case],
    names: list[str],
    test_x,
    integer: dict[str, Any] | None = None,
    test: Any = None,
    evaluate: Any = None,
) -> dict[str, Any]:
    """Run ``model.step.tflite`` (already in ``folder``) on TFLM, checked as on LiteRT;
    write the C header and example; the card's entry for the target. The ``integer`` variants
    (``litert.integer_variants``' report), where given, run on TFLM too: each one's arena and
    its test metrics over the same test sequences (``test``, scored by ``evaluate``)."""
    path = folder / FILE
    data = path.read_bytes()
    positions = signature_positions(path)
    report = checked(MicroStep(path), cases, names, model, test_x)
    first_row = rows(cases[0], names)[0][0]
    arena = arena_bytes(path, first_row)
    ops = operators(path)
    (folder / HEADER).write_text(c_array(data))
    (folder / EXAMPLE).write_text(example_source(ops, arena, names, positions))
    entry = {
        "status": report.pop("status"),
        "files": [FILE, HEADER, EXAMPLE],
        "runtime": f"tflite-micro {metadata.version('tflite-micro')} (host interpreter)",
        "flash_bytes": len(data),
        "arena_bytes": arena,
        "operators": ops,
        **report,
    }
    if integer and "test_examples" in integer:
        n = integer["test_examples"]
        entry["integer"] = {}
        for suffix in ("int8", "int16x8"):
            file = folder / integer[suffix]["file"]
            found = {"file": file.name, "operators": operators(file)}
            try:  # TFLM's integer kernels do not take every type of every operator
                prediction = stream_split(MicroStep(file), model, test, n)
            except UserError as error:
                entry["integer"][suffix] = {**found, "skipped": str(error)}
                continue
            entry["integer"][suffix] = {
                **found,
                "flash_bytes": file.stat().st_size,
                "arena_bytes": arena_bytes(file, first_row),
                "test_metrics": evaluate(prediction, test.y[:n]),
            }
    return entry
