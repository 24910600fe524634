"""TensorFlow Lite Micro: LiteRT's ``.tflite`` step run on TFLM's own interpreter (PyPI
``tflite-micro``, the reference kernels a microcontroller build compiles), the tensor arena it
allocated (its recording allocator's count), and the files a firmware needs: the model as an
aligned C array and one streaming step in C++ with the operator resolver it needs."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rnnzoo.errors import UserError
from rnnzoo.targets.base import (
    StepJob,
    Target,
    from_integer,
    quiet,
    require,
    size_text,
    to_integer,
    valid_rows,
)
from rnnzoo.targets.litert import EXTRA as LITERT_EXTRA
from rnnzoo.targets.litert import FILE, LiteRT, LiteRTStep, operators, signature_positions

EXTRA = "pip install 'rnnzoo[micro]' (tflite-micro)"
HEADER, INT8_HEADER = "model_data.h", "model_data.int8.h"
MODEL_HEADER, EXAMPLE = "micro_model.h", "micro_step.cc"
FIRMWARE = Path(__file__).parent / "firmware"
# TFLM resolver methods whose names are not the operator's name in CamelCase
RESOLVER_NAMES = {"BATCH_MATMUL": "BatchMatMul", "SPLIT_V": "SplitV", "CONV_2D": "Conv2D"}


class MicroStep:
    """The step on TFLM's interpreter (the reference kernels a microcontroller build
    compiles), called like ``LiteRTStep``; integer files quantised at the boundary too."""

    def __init__(self, path: Path, names: list[str] | None, arena: int | None = None):
        runtime = require("tflite_micro.python.tflite_micro.runtime", EXTRA)
        self.inputs, self.outputs = signature_positions(path, names)
        self.details = LiteRTStep(path, names)  # the boundary's types and scales, by signature
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
        details, log = self.details, []
        try:
            with quiet(log):
                for value, name, position in zip(feeds, details.input_names, self.inputs):
                    value = to_integer(np.asarray(value, np.float32), details.inputs[name])
                    self.interpreter.set_input(np.ascontiguousarray(value), position)
                self.interpreter.invoke()
        except RuntimeError:  # its reason is in the log: "Type INT16 (7) not supported. ..."
            said = " ".join(" ".join(log).split()) or "no reason given"
            raise UserError(f"TensorFlow Lite Micro could not run the step: {said}") from None
        with quiet():
            return [
                from_integer(self.interpreter.get_output(p).copy(), details.outputs[name])
                for name, p in zip(details.output_names, self.outputs)
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


def arena_bytes(path: Path, names: list[str], feeds: list[np.ndarray]) -> int:
    """The tensor arena TFLM allocates for the step, measured by its recording allocator after
    one step (trying ever smaller arenas instead crashed TFLM on integer files)."""
    step = MicroStep(path, names)
    step(feeds)
    return step.arena_bytes()


def c_string(text: str) -> str:
    """``text`` as a C string literal: quotes, backslashes, question marks (trigraphs) and
    everything outside printable ASCII as octal escapes, so a label from a user's file is only
    ever data."""
    out = []
    for byte in text.encode():
        char = chr(byte)
        safe = 32 <= byte < 127 and char not in '"\\?'
        out.append(char if safe else f"\\{byte:03o}")
    return '"' + "".join(out) + '"'


def floats_text(values: np.ndarray, per_line: int = 8) -> str:
    from rnnzoo.targets.csource import c_float  # the C target's literals: onnx, at export only

    flat = [c_float(float(v)) for v in np.asarray(values, np.float32).reshape(-1)]
    return ",\n  ".join(", ".join(flat[i : i + per_line]) for i in range(0, len(flat), per_line))


@dataclass
class Layout:
    """Where a step file's tensors sit among TFLM's inputs and outputs, and their sizes."""

    inputs: list[int]  # the input, then each state
    outputs: list[int]  # the prediction, then each new state
    floats: list[int]  # floats in the input, then in each state
    prediction_floats: int

    @classmethod
    def of(cls, path: Path, names: list[str]) -> Layout:
        step = LiteRTStep(path, names)
        inputs, outputs = signature_positions(path, names)
        floats = [int(np.prod(step.inputs[n]["shape"])) for n in step.input_names]
        prediction = int(np.prod(step.outputs[step.output_names[0]]["shape"]))
        return cls(inputs, outputs, floats, prediction)

    def constants(self) -> str:
        ins = ", ".join(str(i) for i in [*self.inputs[1:], -1])
        outs = ", ".join(str(i) for i in [*self.outputs[1:], -1])
        return (
            f"constexpr int kInput = {self.inputs[0]}, kPrediction = {self.outputs[0]};\n"
            f"constexpr int kStates = {len(self.inputs) - 1};\n"
            f"constexpr int kStateIn[kStates + 1] = {{{ins}}};  // -1: end\n"
            f"constexpr int kStateOut[kStates + 1] = {{{outs}}};\n"
        )


def model_header(
    ops: list[str],
    names: list[str],
    outputs: list[str],
    layouts: dict[str, Layout],
    arenas: dict[str, tuple[int, str]],
    rows: list[np.ndarray],
    window_steps: int,
    per_step: bool,
    labels: list[str] | None,
    meaning: str,
) -> str:
    """``micro_model.h``: what ``micro_step.cc`` needs to know about this model — the resolver's
    operators, the arena (``arenas``: bytes and where they were measured, per variant), where
    each tensor sits (per variant: the quantiser may order them differently), the window length,
    example windows from the test data and the class names."""
    fp32 = layouts["fp32"]
    state_floats = sum(fp32.floats[1:])
    where = [f"//   {names[0]} ({fp32.floats[0]} floats, one sample): input {fp32.inputs[0]}"]
    for name, new, i, o, n in zip(names[1:], outputs[1:], fp32.inputs[1:], fp32.outputs[1:],
                                  fp32.floats[1:]):  # fmt: skip
        where.append(f"//   {name} ({n} floats): input {i}; {new}, its new value: output {o}")
    where.append(f"//   {outputs[0]} ({fp32.prediction_floats} floats, {meaning}): output "
                 f"{fp32.outputs[0]}")  # fmt: skip
    calls = " ".join(f"(r).{call};" for call in resolver_calls(ops))

    def variants(text: Callable[[str], str]) -> str:
        if "int8" not in layouts:
            return text("fp32")
        return f"#ifdef RZ_INT8\n{text('int8')}#else\n{text('fp32')}#endif\n"

    def arena(variant: str) -> str:
        size, measured = arenas[variant]
        return f"constexpr int kArenaSize = {(size + 15) // 16 * 16};  // measured {measured}\n"

    steps = [len(r) for r in rows]
    lines = [
        "// This model's facts for micro_step.cc on TensorFlow Lite Micro; written by rnnzoo.",
        "// model.step.tflite's tensors, by position among the interpreter's inputs and outputs:",
        *where,
        "#pragma once\n",
        f"#define RZ_TFLM_N_OPS {max(1, len(ops))}",
        f"#define RZ_TFLM_ADD_OPS(r) {calls}",
        "#ifndef RZ_IN_FLOATS",
        f"#define RZ_IN_FLOATS {fp32.floats[0]}",
        "#endif",
        "#ifndef RZ_OUT_FLOATS",
        f"#define RZ_OUT_FLOATS {fp32.prediction_floats + state_floats}  // prediction + states",
        "#endif",
        f"#define RZ_PREDICTION_FLOATS {fp32.prediction_floats}",
        f"#define RZ_PER_STEP {int(per_step)}  // 1: an answer every step, 0: at a window's end",
        *([f"#define RZ_CLASSES {len(labels)}"] if labels else []),
        "#ifdef RZ_ARENA_SIZE",
        "constexpr int kArenaSize = RZ_ARENA_SIZE;",
        "#else",
        variants(arena).rstrip("\n"),
        "#endif",
        variants(lambda v: layouts[v].constants()).rstrip("\n"),
        f"// The model was trained on windows of {window_steps} samples, each from the start",
        "// state: call rz_reset() at the start of every window.",
        f"constexpr int kWindowSteps = {window_steps};",
        "// The first test windows, one sample per row (what main() streams).",
        f"constexpr int kExampleWindows = {len(rows)};",
        f"constexpr int kExampleSteps[kExampleWindows] = {{{', '.join(map(str, steps))}}};",
        f"const float kExample[{sum(steps)} * RZ_IN_FLOATS] = {{",
        "  " + floats_text(np.concatenate(rows)),
        "};",
    ]
    if labels:
        names_text = ", ".join(c_string(label) for label in labels)
        lines.append(f"const char* const kLabels[RZ_CLASSES] = {{{names_text}}};")
    return "\n".join(lines) + "\n"


def resolver_calls(ops: list[str]) -> list[str]:
    return [f"Add{RESOLVER_NAMES.get(op, op.title().replace('_', ''))}()" for op in ops]


class Micro(Target):
    name = "micro"
    aliases = ("tflite-micro",)
    description = "LiteRT's step file on TensorFlow Lite Micro: C headers and a C++ stream"
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
        MODEL_HEADER: "the model's operators, arena, tensor positions and example windows",
        EXAMPLE: "the model streamed on TensorFlow Lite Micro in C++: rz_init, rz_reset, rz_step",
    }

    def write(self, job: StepJob) -> dict[str, Any]:
        """Run ``model.step.tflite`` (LiteRT's, already written) on TFLM, checked as on
        LiteRT; each integer variant's arena and test metrics on TFLM; write the C headers and
        the stream; where the Arm toolchain, QEMU and TFLM's sources are here, build them into
        a firmware for the emulated Cortex-M4 (the arena in ``micro_model.h`` is then the
        32-bit core's own, and the card has the chip's figures)."""
        from importlib import metadata

        from rnnzoo.targets.chip import test_steps
        from rnnzoo.targets.tflm_library import model_data_header

        path = job.folder / FILE
        report = job.checked(MicroStep(path, job.names))
        first_row = [np.asarray(v.numpy()) for v in job.example()]
        arena = arena_bytes(path, job.names, first_row)
        ops = operators(path)
        entry = {
            "status": report.pop("status"),
            "files": [FILE, HEADER, MODEL_HEADER, EXAMPLE],
            "runtime": f"tflite-micro {metadata.version('tflite-micro')} (host interpreter)",
            "flash_bytes": path.stat().st_size,
            "arena_bytes": arena,
            "operators": ops,
            "window_steps": job.window_steps(),
            "inputs": job.names,  # the signature's tensors, named as the step graph's
            **report,
        }
        layouts, arenas = (
            {"fp32": Layout.of(path, job.names)},
            {"fp32": (arena, "on the 64-bit host")},
        )
        (job.folder / HEADER).write_text(model_data_header(path.read_bytes()))
        integer = job.card["targets"][LiteRT.name].get("integer") or {}
        if "test_examples" in integer:
            entry["integer"] = self.integer(job, integer, first_row)
            int8 = entry["integer"].get("int8", {})
            if "skipped" not in int8:
                file = job.folder / int8["file"]
                (job.folder / INT8_HEADER).write_text(model_data_header(file.read_bytes()))
                entry["files"].append(INT8_HEADER)
                job.card["files"][INT8_HEADER] = f"{file.name} as an aligned C array"
                layouts["int8"] = Layout.of(file, job.names)
                arenas["int8"] = (int8["arena_bytes"], "on the 64-bit host")
        fp32 = layouts["fp32"]
        rows = job.test_rows(
            test_steps(fp32.floats[0], fp32.prediction_floats + sum(fp32.floats[1:]))
        )

        def header() -> str:
            return model_header(ops, job.names, job.output_names, layouts, arenas,
                                rows[:EXAMPLE_WINDOWS], job.window_steps(), job.per_step,
                                job.labels, job.card["outputs"][0]["meaning"])  # fmt: skip

        (job.folder / MODEL_HEADER).write_text(header())
        shutil.copyfile(FIRMWARE / EXAMPLE, job.folder / EXAMPLE)
        entry["chip"] = chip_report(job, entry, layouts, rows)
        for variant, found in entry["chip"].get("cores", {}).get("m4", {}).items():
            if "fails" in found:  # TFLM allocates it on the host but not on the core
                del layouts[variant], arenas[variant]
                (job.folder / INT8_HEADER).unlink()
                entry["files"].remove(INT8_HEADER)
                del job.card["files"][INT8_HEADER]
                continue
            arenas[variant] = (found["arena_bytes"], f"on the {found['cpu']} ({found['board']})")
        (job.folder / MODEL_HEADER).write_text(header())
        return entry

    def integer(self, job: StepJob, integer: dict[str, Any], first_row: list) -> dict[str, Any]:
        """Each integer ``.tflite`` on TFLM: its arena and test metrics, or why it does not run
        (TFLM's integer kernels do not take every type of every operator)."""
        found: dict[str, Any] = {}
        n = integer["test_examples"]
        for suffix in ("int8", "int16x8"):
            file = job.folder / integer[suffix]["file"]
            about = {"file": file.name, "operators": operators(file)}
            try:
                prediction = job.stream_test(MicroStep(file, job.names), n)
            except UserError as error:
                found[suffix] = {**about, "skipped": str(error)}
                continue
            found[suffix] = {
                **about,
                "flash_bytes": file.stat().st_size,
                "arena_bytes": arena_bytes(file, job.names, first_row),
                "test_metrics": job.evaluate(prediction, n),
            }
        return found

    def step_files(self, entry: dict[str, Any]) -> list[str]:
        """The step files on the host interpreter, then each variant of ``micro_step.cc`` the
        export ran on an emulated core (where the toolchain and TFLM's sources are here too)."""
        files = super().step_files(entry)[:1] + [
            found["file"]
            for found in (entry.get("integer") or {}).values()
            if "skipped" not in found
        ]
        cores = (entry.get("chip") or {}).get("cores") or {}
        if cores and chip_missing() is None:
            headers = {"fp32": HEADER, "int8": INT8_HEADER}
            files += [f"{EXAMPLE} + {headers[variant]} on {core}"
                      for core, variants in cores.items()
                      for variant, found in variants.items() if "fails" not in found]  # fmt: skip
        return files

    def open(self, folder: Path, file: str, entry: dict[str, Any]) -> MicroStep:
        return MicroStep(folder / file, entry.get("inputs"))

    def stream(
        self,
        folder: Path,
        file: str,
        entry: dict[str, Any],
        x: np.ndarray,
        lengths: np.ndarray,
        starts: list[np.ndarray],
    ) -> list[np.ndarray]:
        """A step file on the host interpreter step by step; ``micro_step.cc + model_data.h on
        m4`` as one firmware run of every row under QEMU."""
        if " on " not in file:
            return super().stream(folder, file, entry, x, lengths, starts)
        what, core = file.split(" on ")
        rows = valid_rows(x, lengths)
        result = run_on_chip(folder, rows, core, int8=what.endswith(INT8_HEADER), count=False,
                             ops=entry["operators"])  # fmt: skip
        return [out[:, : result["prediction_floats"]] for out in result["outputs"]]

    def describe(self, entry: dict[str, Any]) -> str:
        m4 = ((entry.get("chip") or {}).get("cores") or {}).get("m4", {}).get("fp32")
        if m4:
            text = (
                f"micro M4 arena {size_text(m4['arena_bytes'])}, RAM "
                f"{size_text(m4['ram_bytes'])}, {m4['instructions_per_step']:,} instr/step"
            )
        else:
            text = f"micro arena {size_text(entry['arena_bytes'])} (host)"
        return text if entry.get("status") == "ok" else f"{text} ({entry.get('status')})"

    def summary(self, entry: dict[str, Any]) -> list[str]:
        lines = [
            f"micro: {HEADER}, {MODEL_HEADER} and {EXAMPLE}, arena {entry['arena_bytes']:,} B "
            f"on the host interpreter, {entry['status']} against PyTorch; call rz_reset() at "
            f"the start of every window ({entry.get('window_steps', '?')} samples in training):"
            " it also starts an integer file's states at their zero point"
        ]
        for found in (entry.get("integer") or {}).values():
            if "skipped" in found:
                lines.append(f"micro: {found['file']} does not run on TFLM: {found['skipped']}")
        chip = entry.get("chip") or {}
        if "skipped" in chip:
            lines.append(f"micro: not run on a Cortex-M: {chip['skipped']}")
        for core, variants in (chip.get("cores") or {}).items():
            for variant, f in variants.items():
                if "fails" in f:
                    lines.append(f"micro: {variant} does not run on the {core}, so "
                                 f"{INT8_HEADER} is not written: {f['fails']}")  # fmt: skip
                    continue
                lines.append(
                    f"micro: {f['board']} ({core}, {variant}): flash {f['flash_bytes']:,} B "
                    f"(model {f['model_flash_bytes']:,} B), RAM {f['ram_bytes']:,} B (arena "
                    f"{f['arena_bytes']:,} B), {f['instructions_per_step']:,} instructions/step, "
                    f"{f['status']}; on its first {chip['test_examples']} test windows "
                    + ", ".join(f"{k} {v:.4g}" for k, v in f["test_metrics"].items())
                )
        return lines


def chip_missing() -> str | None:
    """Why ``micro_step.cc`` cannot be built and run on an emulated core here, or None."""
    from rnnzoo.targets import chip, tflm_library

    reason = chip.toolchain_missing(cxx=True, count=True)
    if reason:
        return reason
    if not os.environ.get(tflm_library.ENV_VAR):
        return f"{tflm_library.ENV_VAR} does not name TensorFlow Lite Micro's sources"
    try:
        tflm_library.tflm_dir_from_env()
    except UserError as error:
        return str(error)
    return None


def card_operators(folder: Path) -> list[str]:
    """The operators an export's card lists for this target."""
    import json

    targets = json.loads((folder / "card.json").read_text()).get("targets", {})
    return next(targets[n]["operators"] for n in (Micro.name, *Micro.aliases) if n in targets)


def tflm_for(
    folder: Path, core: str, ops: list[str] | None, cmsis_nn: bool, cache: Path | None
) -> Any:
    """TFLM (the sources ``RNNZOO_TFLM_DIR`` names) compiled for ``core`` with ``ops`` (by
    default the export card's), once into ``cache`` (``~/.cache/rnnzoo/tflm``)."""
    from rnnzoo.targets import chip, tflm_library

    tflm = tflm_library.tflm_dir_from_env(cmsis_nn=cmsis_nn)
    cache = cache or Path.home() / ".cache" / "rnnzoo" / "tflm"
    flags = list(chip.CORES[core].flags)
    return tflm_library.build_library(
        tflm, ops or card_operators(folder), flags, cache, cmsis_nn=cmsis_nn
    )


def defined(folder: Path, name: str) -> int:
    """A ``#define`` of the export's ``micro_model.h``."""
    text = (folder / MODEL_HEADER).read_text()
    return int(re.search(rf"#define {name} (\d+)", text).group(1))


def run_on_chip(
    folder: Path,
    rows: list[np.ndarray],
    core: str = "m4",
    int8: bool = False,
    cmsis_nn: bool = False,
    arena: int | None = None,
    count: bool = True,
    cache: Path | None = None,
    search: bool = False,
    ops: list[str] | None = None,
) -> dict[str, Any]:
    """An export's ``micro_step.cc`` (its fp32 model, or with ``int8`` its int8 one) built with
    TensorFlow Lite Micro (the sources ``RNNZOO_TFLM_DIR`` names, compiled once into ``cache``)
    into the same firmware scaffold as the C target, ``rows`` streamed on ``core`` under QEMU:
    its outputs (prediction then states, every step), flash, RAM (stack high-water included),
    the arena the interpreter used, instructions per step. ``ops``: the operators TFLM is
    compiled with (by default the card's). ``arena`` overrides the header's;
    with ``search`` the arena reported is the smallest that allocates (by bisection below
    ``arena``)."""
    from rnnzoo.targets import chip

    library = tflm_for(folder, core, ops, cmsis_nn, cache)
    in_floats, out_floats = defined(folder, "RZ_IN_FLOATS"), defined(folder, "RZ_OUT_FLOATS")
    defines: dict[str, object] = {"RZ_NO_MAIN": None}
    if int8:
        defines["RZ_INT8"] = None
    if arena is not None:
        defines["RZ_ARENA_SIZE"] = arena
    if search:
        defines["RZ_ARENA_SEARCH"] = None
    work = Path(tempfile.mkdtemp(prefix="rnnzoo-tflm-"))
    try:
        built = chip.build([folder / EXAMPLE], work, core, in_floats=in_floats,
                           out_floats=out_floats, max_steps_total=sum(len(r) for r in rows),
                           max_rows=len(rows), include_dirs=[folder], defines=defines,
                           libraries=[library.archive],
                           extra_flags=library.preprocessor_args())  # fmt: skip
        result = chip.run(built.elf, core, rows, in_floats, out_floats, count=count)
        sizes, scaffold = chip.sizes(built.elf), chip.scaffold_sizes(core, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    steps = sum(len(r) for r in rows)
    return {
        "outputs": result.outputs,
        "prediction_floats": defined(folder, "RZ_PREDICTION_FLOATS"),
        "board": chip.CORES[core].board,
        "cpu": chip.CORES[core].cpu,
        "flash_bytes": sizes["flash"],
        "model_flash_bytes": sizes["flash"] - scaffold["flash"],
        "ram_bytes": sizes["ram"] + result.stack_bytes,
        "arena_bytes": result.arena_bytes,
        "stack_bytes": result.stack_bytes,
        **({"instructions_per_step": round(result.stream_instructions / steps)} if count else {}),
        "steps": steps,
    }


def chip_report(
    job: StepJob, entry: dict[str, Any], layouts: dict[str, Layout], rows: list[np.ndarray]
) -> dict[str, Any]:
    """``micro_step.cc`` built into a firmware for the emulated Cortex-M4, fp32 and int8: the
    smallest arena that allocates there found first (bisection below a large one), then the test
    rows streamed with the header's arena — flash, RAM, instructions per step, every step
    against onnxruntime's step graph (fp32 within ``closeness.tolerance``), the test metric
    streamed on the core."""
    from rnnzoo import closeness
    from rnnzoo.targets.c import reference_rows, step_widths, worst_difference

    reason = chip_missing()
    if reason:
        return {"skipped": reason}
    step = job.step_graph()
    expected, widths = reference_rows(step, rows), step_widths(step)
    out = layouts["fp32"].prediction_floats
    found: dict[str, Any] = {}
    for variant in layouts:
        int8 = variant == "int8"
        ops = entry["operators"]
        try:
            used = run_on_chip(job.folder, rows[:1], int8=int8, arena=ARENA_DECLARED,
                               count=False, search=True, ops=ops)  # fmt: skip
            figures = run_on_chip(job.folder, rows, int8=int8, arena=used["arena_bytes"], ops=ops)
        except UserError as error:
            if not int8:
                raise
            found[variant] = {"fails": str(error)}  # written, checked on the host, not kept
            continue
        figures["arena_used_bytes"] = figures["arena_bytes"]  # the interpreter's own count
        figures["arena_bytes"] = used["arena_bytes"]  # what it needs: kArenaSize
        outputs = figures.pop("outputs")
        del figures["prediction_floats"]
        worst = worst_difference(expected, outputs, widths)
        figures["max_diff"] = worst
        figures["test_metrics"] = job.evaluate_rows([o[:, :out] for o in outputs])
        steps = max(len(r) for r in rows)  # integer files: judged by their metrics, as on LiteRT
        figures["status"] = "ok" if int8 else closeness.status(worst, steps)
        found[variant] = figures
    return {"test_examples": len(rows), "cores": {"m4": found}}


ARENA_DECLARED = 256 * 1024  # the arena a first build declares to measure what is used
EXAMPLE_WINDOWS = 2  # test windows in micro_model.h for main() to stream


def build_example(folder: Path, core: str = "m4", int8: bool = False,
                  cache: Path | None = None) -> list[str]:  # fmt: skip
    """An export's ``micro_step.cc`` as a program of its own (its ``main()`` streams the
    example windows) built for ``core`` and run under QEMU: the lines it printed."""
    from rnnzoo.targets import chip

    library = tflm_for(folder, core, None, False, cache)
    work = Path(tempfile.mkdtemp(prefix="rnnzoo-example-"))
    try:
        in_floats, out_floats = defined(folder, "RZ_IN_FLOATS"), defined(folder, "RZ_OUT_FLOATS")
        built = chip.build([folder / EXAMPLE], work, core, in_floats=in_floats,
                           out_floats=out_floats, max_steps_total=1,
                           include_dirs=[folder], defines={"RZ_INT8": None} if int8 else {},
                           libraries=[library.archive], extra_flags=library.preprocessor_args(),
                           harness=False)  # fmt: skip
        return chip.run_program(built.elf, core).splitlines()
    finally:
        shutil.rmtree(work, ignore_errors=True)
