"""Plain C: the step model as one C99 ``.c`` and one ``.h`` (``rnnzoo.targets.csource``), no
interpreter, no heap, no global mutable state; checked on this machine's C compiler and, where
the Arm toolchain and QEMU are installed, built into a firmware and streamed on emulated
Cortex-M cores (``rnnzoo.targets.chip``) with the chip's own flash, RAM and instruction counts.

``--quantize int8`` adds ``model.step.int8.c``: int8 weights with one scale per output row,
activations in float (the int8 arithmetic TFLM uses is slower than float on a core with an
FPU, measured in TARGETS.md: 92,135 instructions a step against 43,075)."""

from __future__ import annotations

import ctypes
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from rnnzoo import closeness
from rnnzoo.errors import UserError
from rnnzoo.targets.base import StepJob, Target, size_text, valid_rows

FILES = {
    "fp32": ("model.step.c", "model.step.h"),
    "int8": ("model.step.int8.c", "model.step.int8.h"),
}
WARNINGS = ["-std=c99", "-Wall", "-Wextra", "-pedantic", "-Werror"]


def compiler() -> str | None:
    return next((c for c in ("cc", "gcc", "clang") if shutil.which(c)), None)


class HostStep:
    """A generated C file compiled here as a shared library, called through ctypes like the
    other targets' steps (the state kept between calls as a flat float array: the state
    struct holds float arrays only)."""

    def __init__(self, source: Path, sizes: dict[str, Any]):
        cc = compiler()
        if cc is None:
            raise UserError("the C target's check needs a C compiler (cc, gcc or clang)")
        self.folder = Path(tempfile.mkdtemp(prefix="rnnzoo-c-"))
        library = self.folder / "step.so"
        command = [cc, *WARNINGS, "-O2", "-shared", "-fPIC", "-I", str(source.parent),
                   "-o", str(library), str(source), "-lm"]  # fmt: skip
        built = subprocess.run(command, capture_output=True, text=True)
        if built.returncode != 0:
            said = " ".join(built.stderr.split())[:300]
            raise UserError(f"{source.name} does not compile with {cc}: {said}")
        self.library = ctypes.CDLL(str(library))
        self.step = getattr(self.library, f"{sizes['prefix']}_step")
        self.states = [int(n) for _, n in sizes["states"]]
        self.output_size = int(sizes["output_size"])

    def __call__(self, feeds: list[np.ndarray]) -> list[np.ndarray]:
        x, *states = feeds
        state = np.concatenate(
            [np.asarray(s, np.float32).reshape(-1) for s in states] or [np.zeros(0, np.float32)]
        )
        state = np.ascontiguousarray(state, np.float32)
        x = np.ascontiguousarray(x, np.float32).reshape(-1)
        out = np.zeros(self.output_size, np.float32)
        pointer = ctypes.c_void_p
        self.step(
            state.ctypes.data_as(pointer), x.ctypes.data_as(pointer), out.ctypes.data_as(pointer)
        )
        new, at = [], 0
        for given, size in zip(states, self.states):
            new.append(state[at : at + size].reshape(np.shape(given)))
            at += size
        return [out.reshape(1, -1), *new]

    def __del__(self):
        shutil.rmtree(getattr(self, "folder", ""), ignore_errors=True)


def sizes_of(model: Any) -> dict[str, Any]:
    return {
        "prefix": model.prefix,
        "input_size": model.input_size,
        "output_size": model.output_size,
        "states": [[name, size] for name, size in model.states],
        "state_bytes": 4 * model.state_floats,
        "work_bytes": 4 * model.work_floats,
        "weight_bytes": model.weight_bytes,
    }


class CTarget(Target):
    name = "c"
    description = "the step model as plain C99 (one .c, one .h), built and run on Cortex-M cores"
    package = ""

    @property
    def files_meaning(self) -> dict[str, str]:  # type: ignore[override]
        return {
            "model.step.c": "the step model as plain C99: weights in flash, state in a struct",
            "model.step.h": "its API: init, step, reset; sizes as #defines",
        }

    def missing(self, writing: bool = True) -> str | None:
        if compiler() is None:
            return "no C compiler (cc, gcc or clang) is installed: apt-get install gcc"
        return None

    def write(self, job: StepJob) -> dict[str, Any]:
        from rnnzoo.targets.csource import generate

        variants = ["fp32", "int8"] if job.quantize else ["fp32"]
        entry: dict[str, Any] = {}
        for variant in variants:
            source, header = FILES[variant]
            prefix = job.prefix + ("_int8" if variant == "int8" else "")
            model = generate(job.step_graph(), prefix, variant, header_name=header)
            (job.folder / source).write_text(model.source)
            (job.folder / header).write_text(model.header)
            sizes = sizes_of(model)
            step = HostStep(job.folder / source, sizes)
            if variant == "fp32":
                report = job.checked(step)
                entry = {
                    "status": report.pop("status"),
                    "files": [source, header],
                    **sizes,
                    **report,
                }
                if job.quantize:
                    n = job.test_examples()
                    entry["test_metrics"] = job.evaluate(job.stream_test(step, n), n)
                    entry["test_examples"] = n
            else:
                n = entry["test_examples"]
                entry["integer"] = {"int8": {
                    "file": source, "header": header, **sizes,
                    "test_metrics": job.evaluate(job.stream_test(step, n), n),
                }}  # fmt: skip
                job.card["files"][source] = "model.step.c with int8 weights (one scale per row)"
                job.card["files"][header] = "its API"
        entry["chip"] = chip_report(job, entry)
        return entry

    def step_files(self, entry: dict[str, Any]) -> list[str]:
        """The C files compiled here, then the fp32 file on each emulated core the export ran
        it on (where the Arm toolchain and QEMU are installed here too)."""
        from rnnzoo.targets.chip import toolchain_missing

        files = super().step_files(entry)
        cores = (entry.get("chip") or {}).get("cores") or {}
        if cores and toolchain_missing(count=True) is None:
            files += [f"{entry['files'][0]} on {core}" for core in cores]
        return files

    def sizes(self, entry: dict[str, Any], file: str) -> dict[str, Any]:
        return entry if file == entry["files"][0] else entry["integer"]["int8"]

    def open(self, folder: Path, file: str, entry: dict[str, Any]) -> HostStep:
        return HostStep(folder / file, self.sizes(entry, file))

    def stream(
        self,
        folder: Path,
        file: str,
        entry: dict[str, Any],
        x: np.ndarray,
        lengths: np.ndarray,
        starts: list[np.ndarray],
    ) -> list[np.ndarray]:
        """A host file step by step; a file on a core (``model.step.c on m4``) as one
        firmware run of every row under QEMU."""
        if " on " not in file:
            return super().stream(folder, file, entry, x, lengths, starts)
        source, core = file.split(" on ")
        sizes = self.sizes(entry, source)
        rows = valid_rows(x, lengths)
        result, _, build_dir = run_on_chip(folder / source, sizes, core, rows)
        shutil.rmtree(build_dir, ignore_errors=True)
        return [out[:, : sizes["output_size"]] for out in result.outputs]

    def describe(self, entry: dict[str, Any]) -> str:
        chip = (entry.get("chip") or {}).get("cores") or {}
        m4 = chip.get("m4")
        text = f"c {size_text(entry['weight_bytes'])} weights"
        if m4:
            text += (
                f", M4 {m4['instructions_per_step']:,} instr/step, RAM {size_text(m4['ram_bytes'])}"
            )
        return text if entry.get("status") == "ok" else f"{text} ({entry.get('status')})"

    def summary(self, entry: dict[str, Any]) -> list[str]:
        lines = [
            f"c: model.step.c + model.step.h, weights {entry['weight_bytes']:,} B, state "
            f"{entry['state_bytes']:,} B, work {entry['work_bytes']:,} B on the stack; "
            f"{entry['status']} against PyTorch (compiled here)"
        ]
        int8 = (entry.get("integer") or {}).get("int8")
        if int8:
            metrics = ", ".join(f"{k} {v:.4g}" for k, v in int8["test_metrics"].items())
            fp32 = ", ".join(f"{k} {v:.4g}" for k, v in entry["test_metrics"].items())
            lines.append(
                f"c: model.step.int8.c weights {int8['weight_bytes']:,} B, test {metrics} "
                f"(fp32 {fp32})"
            )
        chip = entry.get("chip") or {}
        if "skipped" in chip:
            lines.append(f"c: not run on a Cortex-M: {chip['skipped']}")
        for core, found in (chip.get("cores") or {}).items():
            lines.append(
                f"c: {found['board']} ({core}): flash {found['flash_bytes']:,} B (model "
                f"{found['model_flash_bytes']:,} B), RAM {found['ram_bytes']:,} B, "
                f"{found['instructions_per_step']:,} instructions/step, {found['status']}"
            )
        return lines


CHIP_CORES = ("m4", "m7")  # a Cortex-M4F (mps2-an386) and a Cortex-M7 (mps2-an500)
OPT = "-O2"  # the model's C and the scaffold; the figures are for this level


def adapter_source(sizes: dict[str, Any], header: str) -> str:
    """The firmware harness's model interface (``firmware/rz_model.h``) over a generated
    step: the state in one static struct (the firmware's, not the model's), each step's
    prediction then its new states written out."""
    prefix = sizes["prefix"]
    return f"""/* The harness's model interface over {header}; written by rnnzoo. */
#include "rz_model.h"
#include "{header}"

static {prefix}_state state;

int rz_init(void) {{ {prefix}_init(&state); return 0; }}
void rz_reset(void) {{ {prefix}_reset(&state); }}
int rz_step(const float *in, float *out) {{
  {prefix}_step(&state, in, out);
  const float *from = (const float *)&state;  /* the struct holds float arrays only */
  unsigned i;
  for (i = 0; i < sizeof(state) / sizeof(float); ++i) out[{sizes["output_size"]} + i] = from[i];
  return 0;
}}
unsigned rz_arena_used(void) {{ return 0u; }}
"""


def run_on_chip(
    source: Path, sizes: dict[str, Any], core: str, rows: list[np.ndarray], count: bool = False
) -> tuple[Any, dict[str, int], Path]:
    """``source`` built into a firmware for ``core`` and ``rows`` streamed on it under QEMU:
    the run's result, the firmware's sizes and the scaffold's alone (for the model's share)."""
    from rnnzoo.targets import chip

    header = source.name.removesuffix(".c") + ".h"
    build_dir = Path(tempfile.mkdtemp(prefix="rnnzoo-chip-"))
    try:
        adapter = build_dir / "adapter.c"
        adapter.write_text(adapter_source(sizes, header))
        out_floats = sizes["output_size"] + sum(n for _, n in sizes["states"])
        total = max(1, sum(len(r) for r in rows))
        built = chip.build(
            [adapter, source], build_dir, core, in_floats=sizes["input_size"],
            out_floats=out_floats, max_steps_total=total, max_rows=max(1, len(rows)),
            include_dirs=[source.parent], opt=OPT, extra_flags=["-Werror", "-pedantic"],
        )  # fmt: skip
        result = chip.run(built.elf, core, rows, sizes["input_size"], out_floats, count=count)
        return result, chip.sizes(built.elf), build_dir
    except BaseException:
        shutil.rmtree(build_dir, ignore_errors=True)
        raise


def reference_rows(graph: Any, rows: list[np.ndarray]) -> list[np.ndarray]:
    """The rows streamed through onnxruntime's step graph from zero states: each step's
    prediction then new states, flattened as the firmware writes them."""
    import onnxruntime

    session = onnxruntime.InferenceSession(
        graph.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    inputs = session.get_inputs()
    shape = [d if isinstance(d, int) else 1 for d in inputs[0].shape]
    found = []
    for row in rows:
        feeds = {i.name: np.zeros([d if isinstance(d, int) else 1 for d in i.shape], np.float32)
                 for i in inputs[1:]}  # fmt: skip
        steps = []
        for x in row:
            y, *new = session.run(None, {inputs[0].name: x.reshape(shape), **feeds})
            feeds = dict(zip(feeds, new))
            steps.append(np.concatenate([y.reshape(-1), *(n.reshape(-1) for n in new)]))
        found.append(np.stack(steps))
    return found


def step_widths(graph: Any) -> list[int]:
    """Floats in each of the step graph's outputs (the prediction, then each new state) — the
    pieces of a line ``reference_rows`` and the firmware write; an unnamed size counts 1."""
    return [
        int(np.prod([d.dim_value or 1 for d in out.type.tensor_type.shape.dim]))
        for out in graph.graph.output
    ]


def worst_difference(expected: list[np.ndarray], got: list[np.ndarray], widths: list[int]) -> float:
    """``closeness.difference`` over every row's steps, each of the firmware's outputs (the
    prediction, each state: ``widths`` floats of a step's line) measured on its own."""
    cuts = np.cumsum(widths)[:-1]
    return closeness.worst(
        (e, g)
        for want, have in zip(expected, got)
        for e, g in zip(np.split(want, cuts, axis=1), np.split(have, cuts, axis=1))
    )


def chip_figures(
    folder: Path, file: str, sizes: dict[str, Any], core: str, rows: list[np.ndarray]
) -> tuple[dict[str, Any], list[np.ndarray]]:
    """One file on one core: its flash, RAM and instructions per step, and each row's outputs."""
    from rnnzoo.targets import chip

    result, found, build_dir = run_on_chip(folder / file, sizes, core, rows, count=True)
    try:
        scaffold = chip.scaffold_sizes(core, build_dir)
    finally:
        shutil.rmtree(build_dir, ignore_errors=True)
    steps = sum(len(r) for r in rows)
    figures = {
        "board": chip.CORES[core].board,
        "cpu": chip.CORES[core].cpu,
        "compiled": f"arm-none-eabi-gcc {OPT}",
        "flash_bytes": found["flash"],
        "model_flash_bytes": found["flash"] - scaffold["flash"],
        "ram_bytes": found["ram"] + result.stack_bytes,
        "model_ram_bytes": found["ram"] - scaffold["ram"] + result.stack_bytes,
        "stack_bytes": result.stack_bytes,
        "instructions_per_step": round(result.stream_instructions / max(steps, 1)),
        "steps": steps,
    }
    return figures, result.outputs


def chip_report(job: StepJob, entry: dict[str, Any]) -> dict[str, Any]:
    """The C files built into a firmware and streamed on each emulated core: the figures a
    firmware engineer needs, measured on the 32-bit target, every step compared with
    onnxruntime's step graph (fp32 within ``closeness.tolerance``) and the test metric streamed
    on the core. Skipped (with the reason) where the Arm toolchain or QEMU is not installed."""
    from rnnzoo.targets import chip

    reason = chip.toolchain_missing(count=True)
    if reason:
        return {"skipped": reason}
    out_floats = entry["output_size"] + sum(n for _, n in entry["states"])
    rows = job.test_rows(chip.test_steps(entry["input_size"], out_floats))
    step = job.step_graph()
    expected, widths = reference_rows(step, rows), step_widths(step)
    out = entry["output_size"]
    report: dict[str, Any] = {"test_examples": len(rows), "cores": {}}
    for core in CHIP_CORES:
        figures, outputs = chip_figures(job.folder, entry["files"][0], entry, core, rows)
        worst = worst_difference(expected, outputs, widths)
        figures["max_diff"] = worst
        figures["status"] = closeness.status(worst, max(len(r) for r in rows))
        figures["test_metrics"] = job.evaluate_rows([o[:, :out] for o in outputs])
        report["cores"][core] = figures
    int8 = (entry.get("integer") or {}).get("int8")
    if int8:
        figures, outputs = chip_figures(job.folder, int8["file"], int8, "m4", rows)
        figures["test_metrics"] = job.evaluate_rows([o[:, :out] for o in outputs])
        report["int8"] = {"m4": figures}
    return report
