"""TensorFlow Lite Micro: LiteRT's ``.tflite`` step run on TFLM's own interpreter (PyPI
``tflite-micro``, the reference kernels a microcontroller build compiles), the tensor arena it
allocated (its recording allocator's count), and the files a firmware needs: the model as an
aligned C array and one streaming step in C++ with the operator resolver it needs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from rnnzoo.errors import UserError
from rnnzoo.targets.base import StepJob, Target, from_integer, quiet, require, size_text, to_integer
from rnnzoo.targets.litert import EXTRA as LITERT_EXTRA
from rnnzoo.targets.litert import FILE, LiteRT, LiteRTStep, operators, signature_positions

EXTRA = "pip install 'rnnzoo[micro]' (tflite-micro)"
HEADER, EXAMPLE = "model_data.h", "micro_step.cc"
# TFLM resolver methods whose names are not the operator's name in CamelCase
RESOLVER_NAMES = {"BATCH_MATMUL": "BatchMatMul", "SPLIT_V": "SplitV", "CONV_2D": "Conv2D"}


class MicroStep:
    """The step on TFLM's interpreter (the reference kernels a microcontroller build
    compiles), called like ``LiteRTStep``; integer files quantised at the boundary too."""

    def __init__(self, path: Path, arena: int | None = None):
        runtime = require("tflite_micro.python.tflite_micro.runtime", EXTRA)
        self.inputs, self.outputs = signature_positions(path)
        self.details = LiteRTStep(path)  # the boundary's types and scales, by signature
        log: list[str] = []
        try:
            with quiet(log):
                self.interpreter = runtime.Interpreter.from_bytes(
                    path.read_bytes(), arena_size=arena
                )
        except RuntimeError:
            lacking = sorted(set(re.findall(r"Didn't find op for builtin opcode '(\w+)'", *log)))
            if lacking:
                raise UserError(
                    f"TensorFlow Lite Micro has no kernel for {', '.join(lacking)}, which this "
                    "model's step uses; export it with --format litert, executorch or c instead"
                ) from None
            raise

    def __call__(self, feeds: list[np.ndarray]) -> list[np.ndarray]:
        given, log = self.details.inputs, []
        try:
            with quiet(log):
                for i, (value, position) in enumerate(zip(feeds, self.inputs)):
                    value = to_integer(np.asarray(value, np.float32), given[f"args_{i}"])
                    self.interpreter.set_input(np.ascontiguousarray(value), position)
                self.interpreter.invoke()
        except RuntimeError:  # its reason is in the log: "Type INT16 (7) not supported. ..."
            said = " ".join(" ".join(log).split()) or "no reason given"
            raise UserError(f"TensorFlow Lite Micro could not run the step: {said}") from None
        with quiet():
            return [
                from_integer(
                    self.interpreter.get_output(p).copy(), self.details.outputs[f"output_{i}"]
                )
                for i, p in enumerate(self.outputs)
            ]

    def arena_bytes(self) -> int:
        """The tensor arena the interpreter allocated, as TFLM's recording allocator counts
        it (after a step has run)."""
        log: list[str] = []
        with quiet(log):
            self.interpreter.print_allocations()
        found = re.search(r"Arena allocation total (\d+) bytes", "".join(log))
        if found is None:
            raise UserError("TensorFlow Lite Micro did not report its arena allocation")
        return int(found.group(1))


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


def resolver_calls(ops: list[str]) -> list[str]:
    return [f"Add{RESOLVER_NAMES.get(op, op.title().replace('_', ''))}()" for op in ops]


def example_source(
    ops: list[str], arena: int, names: list[str], positions: tuple[list[int], list[int]]
) -> str:
    """One streaming step in C++: the resolver with exactly the file's operators, the arena
    measured here (plus 1 kB), and each new state copied back into its input — addressed by
    the tensors' positions in the graph, which need not follow the signature's order."""
    add = "\n".join(f"  resolver.{call};" for call in resolver_calls(ops))
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


class Micro(Target):
    name = "micro"
    aliases = ("tflite-micro",)
    description = "LiteRT's step file on TensorFlow Lite Micro, as a C header and C++ example"
    builds_on = (LiteRT.name,)
    needs = (
        ("litert_torch", LITERT_EXTRA),
        ("ai_edge_litert", LITERT_EXTRA),
        ("tflite_micro", EXTRA),
    )
    run_needs = (("ai_edge_litert", LITERT_EXTRA), ("tflite_micro", EXTRA))
    package = "tflite-micro"
    files_meaning = {
        HEADER: "model.step.tflite as an aligned C array",
        EXAMPLE: "one streaming step on TensorFlow Lite Micro, in C++",
    }

    def write(self, job: StepJob) -> dict[str, Any]:
        """Run ``model.step.tflite`` (LiteRT's, already written) on TFLM, checked as on
        LiteRT; write the C header and example; each integer variant's arena and test
        metrics on TFLM."""
        from importlib import metadata

        path = job.folder / FILE
        data = path.read_bytes()
        positions = signature_positions(path)
        report = job.checked(MicroStep(path))
        first_row = [np.asarray(v.numpy()) for v in job.example()]
        arena = arena_bytes(path, first_row)
        ops = operators(path)
        (job.folder / HEADER).write_text(c_array(data))
        (job.folder / EXAMPLE).write_text(example_source(ops, arena, job.names, positions))
        entry = {
            "status": report.pop("status"),
            "files": [FILE, HEADER, EXAMPLE],
            "runtime": f"tflite-micro {metadata.version('tflite-micro')} (host interpreter)",
            "flash_bytes": len(data),
            "arena_bytes": arena,
            "operators": ops,
            **report,
        }
        integer = job.card["targets"][LiteRT.name].get("integer") or {}
        if "test_examples" in integer:
            n = integer["test_examples"]
            entry["integer"] = {}
            for suffix in ("int8", "int16x8"):
                file = job.folder / integer[suffix]["file"]
                found = {"file": file.name, "operators": operators(file)}
                try:  # TFLM's integer kernels do not take every type of every operator
                    prediction = job.stream_test(MicroStep(file), n)
                except UserError as error:
                    entry["integer"][suffix] = {**found, "skipped": str(error)}
                    continue
                entry["integer"][suffix] = {
                    **found,
                    "flash_bytes": file.stat().st_size,
                    "arena_bytes": arena_bytes(file, first_row),
                    "test_metrics": job.evaluate(prediction, n),
                }
        return entry

    def open(self, folder: Path, file: str, entry: dict[str, Any]) -> MicroStep:
        return MicroStep(folder / file)

    def describe(self, entry: dict[str, Any]) -> str:
        text = f"micro arena {size_text(entry['arena_bytes'])}"
        return text if entry.get("status") == "ok" else f"{text} ({entry.get('status')})"

    def summary(self, entry: dict[str, Any]) -> list[str]:
        lines = [f"micro: {HEADER} and {EXAMPLE}, arena {entry['arena_bytes']:,} B on the host "
                 f"interpreter, {entry['status']} against PyTorch"]  # fmt: skip
        for found in (entry.get("integer") or {}).values():
            if "skipped" in found:
                lines.append(f"micro: {found['file']} does not run on TFLM: {found['skipped']}")
        return lines


def example_positions(example: str) -> tuple[list[int], list[int]]:
    """Where the input and states (then the prediction and new states) sit among the
    interpreter's inputs (outputs), as an export's ``micro_step.cc`` declares them."""

    def one(name: str) -> int:
        return int(re.search(rf"\b{name} = (\d+)", example).group(1))

    def many(name: str) -> list[int]:
        listed = re.search(rf"{name}\[kStates\] = \{{([\d, ]*)\}}", example).group(1)
        return [int(v) for v in listed.split(",") if v.strip()]

    return [one("kInput"), *many("kStateIn")], [one("kPrediction"), *many("kStateOut")]


ARENA_DECLARED = 64 * 1024  # the firmware's arena; what the interpreter used is reported


def run_on_chip(
    tflite: Path,
    ops: list[str],
    positions: tuple[list[int], list[int]],
    rows: list[np.ndarray],
    out_floats: int,
    core: str = "m4",
    cmsis_nn: bool = False,
    cache: Path | None = None,
) -> dict[str, Any]:
    """A ``.tflite`` step built with TensorFlow Lite Micro (the sources ``RNNZOO_TFLM_DIR``
    names, compiled once into ``cache``) into the same firmware scaffold as the C target,
    ``rows`` streamed on ``core`` under QEMU: its outputs (prediction then states, every
    step), flash, RAM (with the arena the interpreter used, not the one declared),
    instructions per step."""
    import shutil
    import tempfile

    from rnnzoo.targets import chip, tflm_library

    tflm = tflm_library.tflm_dir_from_env(cmsis_nn=cmsis_nn)
    cache = cache or Path.home() / ".cache" / "rnnzoo" / "tflm"
    library = tflm_library.build_library(tflm, ops, list(chip.CORES[core].flags), cache,
                                         cmsis_nn=cmsis_nn)  # fmt: skip
    inputs, outputs = positions
    in_floats = rows[0].shape[1]
    work = Path(tempfile.mkdtemp(prefix="rnnzoo-tflm-"))
    try:
        (work / "model_data.h").write_text(tflm_library.model_data_header(tflite.read_bytes()))
        header = tflm_library.model_header(tflm, ops, ARENA_DECLARED, inputs[0], inputs[1:],
                                           outputs[0], outputs[1:])  # fmt: skip
        (work / "rz_tflm_model.h").write_text(header)
        built = chip.build([chip.FIRMWARE_DIR / "tflm_adapter.cc"], work, core,
                           in_floats=in_floats, out_floats=out_floats,
                           max_steps_total=sum(len(r) for r in rows), max_rows=len(rows),
                           include_dirs=[work], libraries=[library.archive],
                           extra_flags=library.preprocessor_args())  # fmt: skip
        result = chip.run(built.elf, core, rows, in_floats, out_floats, count=True)
        sizes, scaffold = chip.sizes(built.elf), chip.scaffold_sizes(core, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    steps = sum(len(r) for r in rows)
    return {
        "outputs": result.outputs,
        "flash_bytes": sizes["flash"],
        "model_flash_bytes": sizes["flash"] - scaffold["flash"],
        "ram_bytes": sizes["ram"] - ARENA_DECLARED + result.arena_bytes + result.stack_bytes,
        "arena_bytes": result.arena_bytes,
        "stack_bytes": result.stack_bytes,
        "instructions_per_step": round(result.stream_instructions / steps),
    }
