"""On the chip: every shelf model that streams, as rnnzoo's plain-C target (fp32 and int8
weights) against TensorFlow Lite Micro (fp32, int8 with the reference kernels, int8 with
CMSIS-NN) on the same emulated core (QEMU's mps2-an386, a Cortex-M4F), in the same firmware
scaffold (``rnnzoo/targets/firmware``), side by side in one run: flash (the whole firmware's
text + data, and the model's share beside the scaffold's), RAM (data + bss + the stack the
streaming used), instructions per step (counted by QEMU between two markers around the
streaming) and the largest difference from onnxruntime's ``model.step.onnx`` over the export's
example streamed (prediction and states, |diff| / (1 + |value|)).

    RNNZOO_TFLM_DIR=../shared/third_party/tflite-micro .venv/bin/python benchmarks/mcu.py [NAME ...]

Needs Debian's gcc-arm-none-eabi, libnewlib-arm-none-eabi, libstdc++-arm-none-eabi-newlib and
qemu-system-arm (``bash scripts/setup.sh --chip``); without ``RNNZOO_TFLM_DIR`` only the C rows
are measured. TFLM is compiled once into ``benchmarks/results/.tflm-cache`` (about 2 minutes on
2 cores). Writes benchmarks/results/mcu.json with the machine and the commit, and prints a table.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.machine import machine  # noqa: E402
from rnnzoo.errors import UserError  # noqa: E402
from rnnzoo.targets import c as c_target  # noqa: E402
from rnnzoo.targets import chip  # noqa: E402
from rnnzoo.targets.csource import generate  # noqa: E402
from rnnzoo.targets.micro import ARENA_DECLARED, MODEL_HEADER, run_on_chip  # noqa: E402

CORE = "m4"
CACHE = ROOT / "benchmarks" / "results" / ".tflm-cache"


def shelf_models(names: list[str]) -> list[Path]:
    folders = sorted(p.parent for p in (ROOT / "exports").glob("*/model.step.onnx"))
    return [f for f in folders if not names or f.name in names]


def example_rows(folder: Path) -> list[np.ndarray]:
    """The export's example, each row's valid steps as ``(steps, input floats)``."""
    example = json.loads((folder / "example.json").read_text())
    x = np.asarray([[[np.nan if v is None else v for v in np.ravel(step)] for step in row]
                    for row in example["input"]], np.float32)  # fmt: skip
    lengths = example.get("lengths") or [x.shape[1]] * len(x)
    return [x[i, : int(n)] for i, n in enumerate(lengths)]


def c_rows(
    folder: Path, rows: list[np.ndarray], reference: list[np.ndarray], widths: list[int]
) -> dict:
    graph = onnx.load(str(folder / "model.step.onnx"))
    found = {}
    for weights in ("fp32", "int8"):
        work = Path(tempfile.mkdtemp(prefix="rnnzoo-mcu-"))
        try:
            model = generate(graph, folder.name, weights)
            (work / "model.step.c").write_text(model.source)
            (work / "model.step.h").write_text(model.header)
            sizes = c_target.sizes_of(model)
            figures, outputs = c_target.chip_figures(work, "model.step.c", sizes, CORE, rows)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        figures["max_diff"] = c_target.worst_difference(reference, outputs, widths)
        figures["weight_bytes"] = model.weight_bytes
        found[f"c {weights}"] = figures
    return found


def tflm_rows(
    folder: Path, rows: list[np.ndarray], reference: list[np.ndarray], widths: list[int]
) -> dict:
    """The export's own micro_step.cc with each model header (the arena its micro_model.h
    gives: measured on the M4 at export)."""
    if not (folder / MODEL_HEADER).is_file():
        return {}
    found = {}
    variants = [
        ("tflm fp32", "model_data.h", False, False),
        ("tflm int8", "model_data.int8.h", True, False),
        ("tflm int8 cmsis-nn", "model_data.int8.h", True, True),
    ]
    for label, header, int8, cmsis in variants:
        if not (folder / header).is_file():
            continue
        try:
            arena = None  # the header's, measured with the reference kernels at export
            if cmsis:  # CMSIS-NN's kernels ask for scratch buffers: their own smallest arena
                probe = run_on_chip(folder, rows[:1], CORE, int8=int8, cmsis_nn=True, cache=CACHE,
                                    arena=ARENA_DECLARED, count=False, search=True)  # fmt: skip
                arena = probe["arena_bytes"]
            figures = run_on_chip(folder, rows, CORE, int8=int8, cmsis_nn=cmsis, cache=CACHE,
                                  arena=arena)  # fmt: skip
        except UserError as error:  # a firmware that fails: said in the results, not fatal
            found[label] = {"fails": str(error)}
            continue
        figures["max_diff"] = c_target.worst_difference(reference, figures.pop("outputs"), widths)
        figures.pop("prediction_floats")
        found[label] = figures
    return found


def main() -> None:
    reason = chip.toolchain_missing(cxx=True, count=True)
    if reason:
        sys.exit(f"benchmarks/mcu.py needs the Arm toolchain and QEMU: {reason}")
    results = {}
    for folder in shelf_models(sys.argv[1:]):
        rows = example_rows(folder)
        step = onnx.load(str(folder / "model.step.onnx"))
        reference, widths = c_target.reference_rows(step, rows), c_target.step_widths(step)
        found = c_rows(folder, rows, reference, widths)
        if os.environ.get("RNNZOO_TFLM_DIR"):
            found.update(tflm_rows(folder, rows, reference, widths))
        results[folder.name] = found
        for label, f in found.items():
            if "fails" in f:
                print(f"{folder.name:10} {label:20} fails: {f['fails']}", flush=True)
                continue
            print(f"{folder.name:10} {label:20} flash {f['flash_bytes']:>8,} (model "
                  f"{f['model_flash_bytes']:>7,})  RAM {f['ram_bytes']:>7,}  "
                  f"{f['instructions_per_step']:>9,} instr/step  max diff {f['max_diff']:.1e}",
                  flush=True)  # fmt: skip
    out = ROOT / "benchmarks" / "results" / "mcu.json"
    out.write_text(json.dumps({"machine": machine(), "core": chip.CORES[CORE].board,
                               "results": results}, indent=1) + "\n")  # fmt: skip
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
