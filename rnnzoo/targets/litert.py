"""LiteRT (TensorFlow Lite): the step model as a batch-1 ``.tflite`` for phones and
microcontrollers, and its full-integer copies.

Converted from the PyTorch step module by litert-torch, not from the ONNX graph: measured for
issue 22, onnx2tf converted reber's step graph only with hand-picked flags and failed on sine's
and on every whole-sequence graph, while litert-torch converted every cell tried straight from
PyTorch (plain FULLY_CONNECTED, LOGISTIC, TANH, … operators that TensorFlow Lite Micro runs).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from rnnzoo.errors import UserError
from rnnzoo.targets.base import StepJob, Target, from_integer, quiet, require, size_text, to_integer

EXTRA = "pip install 'rnnzoo[litert]' (litert-torch)"
FILE = "model.step.tflite"
INTEGER = {  # file suffix: ai-edge-quantizer's recipe
    "int8": "static_wi8_ai8",  # int8 weights and activations
    "int16x8": "static_wi8_ai16",  # int8 weights, int16 activations
}


def step_order(found: list[str], names: list[str] | None) -> list[str]:
    """A signature's inputs (outputs) in the step graph's order. ``names`` are the step graph's
    inputs (``input``, ``state_0``, …) as the card lists them — its outputs are ``output`` and
    each state's name with ``_out`` — and the signature's tensors are named after them; files
    written by rnnzoo before they were named (``args_0``…, ``output_0``…) go by their numbers."""
    if names:
        wanted = names if "input" in found else ["output", *(f"{n}_out" for n in names[1:])]
        if sorted(wanted) == sorted(found):
            return list(wanted)
    return sorted(found, key=lambda name: int(name.rsplit("_", 1)[-1]))


class LiteRTStep:
    """A ``.tflite`` step file on LiteRT's interpreter; float32 in and out (an integer file's
    inputs are quantised and its outputs dequantised here, as a device's caller does at its
    boundary)."""

    def __init__(self, path: Path, names: list[str] | None = None):
        interpreter = require("ai_edge_litert.interpreter", EXTRA)
        with quiet():
            self.interpreter = interpreter.Interpreter(model_path=str(path), num_threads=1)
            self.runner = self.interpreter.get_signature_runner()
        self.inputs = self.runner.get_input_details()
        self.outputs = self.runner.get_output_details()
        self.input_names = step_order(list(self.inputs), names)
        self.output_names = step_order(list(self.outputs), names)

    def __call__(self, feeds: list[np.ndarray]) -> list[np.ndarray]:
        given = {
            name: to_integer(np.asarray(value, np.float32), self.inputs[name])
            for name, value in zip(self.input_names, feeds)
        }
        with quiet():
            out = self.runner(**given)
        return [from_integer(out[name], self.outputs[name]) for name in self.output_names]


def signature_positions(path: Path, names: list[str] | None) -> tuple[list[int], list[int]]:
    """Where each of the step's inputs and outputs (in the step graph's order, ``names``: its
    inputs) sits among the graph's tensors, which is how TFLM addresses them."""
    interpreter = require("ai_edge_litert.interpreter", EXTRA).Interpreter(model_path=str(path))
    runner = interpreter.get_signature_runner()
    inputs = {d["index"]: i for i, d in enumerate(interpreter.get_input_details())}
    outputs = {d["index"]: i for i, d in enumerate(interpreter.get_output_details())}
    given, returned = runner.get_input_details(), runner.get_output_details()
    return (
        [inputs[given[n]["index"]] for n in step_order(list(given), names)],
        [outputs[returned[n]["index"]] for n in step_order(list(returned), names)],
    )


def operators(path: Path) -> list[str]:
    """The builtin operators a ``.tflite`` file uses (what a micro op resolver must add)."""
    schema = require("ai_edge_litert.schema_py_generated", EXTRA)
    model = schema.ModelT.InitFromPackedBuf(path.read_bytes(), 0)
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    codes = [max(c.builtinCode, c.deprecatedBuiltinCode) for c in model.operatorCodes]
    used = {op.opcodeIndex for g in model.subgraphs for op in g.operators}
    return sorted(names[codes[i]] for i in used)


def convert(job: StepJob, path: Path) -> None:
    """The job's step module to a batch-1 ``.tflite`` at ``path``."""
    litert_torch = require("litert_torch", EXTRA)
    try:
        with quiet(), job.no_grad():
            named = dict(zip(job.names, job.example()))
            litert_torch.convert(job.named_step_module(), (), sample_kwargs=named).export(str(path))
    except Exception as error:  # the converter's own words: an operator it cannot take
        text = " ".join(str(error).split())[:300]
        raise UserError(f"litert-torch cannot convert this model's step: {text}") from None


def quantize(fp32: Path, samples: list[dict[str, np.ndarray]], recipe_name: str, out: Path) -> None:
    """A full-integer copy of ``fp32``, calibrated on ``samples`` with each tensor's true
    minimum and maximum (the quantizer's default, a moving average of each sample's range,
    shrinks the ranges of a one-step model and clipped the states badly when measured)."""
    require("ai_edge_quantizer", EXTRA)
    from ai_edge_quantizer import calibrator, quantizer, recipe
    from ai_edge_quantizer.utils import qsv_utils

    with quiet():
        q = quantizer.Quantizer(str(fp32), getattr(recipe, recipe_name)())
        c = calibrator.Calibrator(
            fp32.read_bytes(), num_threads=1, qsv_update_func=qsv_utils.min_max_update
        )
        c.calibrate({"serving_default": samples}, q._recipe_manager)  # noqa: SLF001
        q.quantize(c.get_model_qsvs()).export_model(str(out))


def integer_variants(job: StepJob) -> dict[str, Any]:
    """``model.step.int8.tflite`` and ``model.step.int16x8.tflite``, each with its test
    metrics (the first 200 test sequences streamed) beside fp32's; none for a model that takes
    missing values (the report says why)."""
    if job.missing_values:
        return {"skipped": "integer inputs cannot carry the missing values (NaN) this model takes"}
    n, fp32 = job.test_examples(), job.folder / FILE
    samples = [dict(zip(job.names, f)) for f in job.calibration()]
    report: dict[str, Any] = {
        "calibration": f"{len(samples)} steps of training sequences, min/max per tensor",
        "test_examples": n,
        "fp32": {
            "test_metrics": job.evaluate(job.stream_test(LiteRTStep(fp32, job.names), n), n),
            "size_bytes": fp32.stat().st_size,
        },
    }
    for suffix, recipe_name in INTEGER.items():
        path = job.folder / FILE.replace(".tflite", f".{suffix}.tflite")
        quantize(fp32, samples, recipe_name, path)
        report[suffix] = {
            "file": path.name,
            "size_bytes": path.stat().st_size,
            "test_metrics": job.evaluate(job.stream_test(LiteRTStep(path, job.names), n), n),
        }
    return report


class LiteRT(Target):
    name = "litert"
    aliases = ("tflite",)
    description = "the step model as a batch-1 .tflite for LiteRT (phones, embedded Linux)"
    needs = (("litert_torch", EXTRA), ("ai_edge_litert", EXTRA))
    run_needs = (("ai_edge_litert", EXTRA),)
    package = "ai-edge-litert"
    files_meaning = {FILE: "the step model for LiteRT and TensorFlow Lite Micro (batch 1)"}

    def write(self, job: StepJob) -> dict[str, Any]:
        from importlib import metadata

        path = job.folder / FILE
        convert(job, path)
        report = job.checked(LiteRTStep(path, job.names))
        entry = {
            "status": report.pop("status"),
            "file": FILE,
            "converter": f"litert-torch {metadata.version('litert-torch')}",
            "runtime": f"ai-edge-litert {metadata.version('ai-edge-litert')}",
            "size_bytes": path.stat().st_size,
            "operators": operators(path),
            "inputs": job.names,  # the signature's tensors, named as the step graph's
            **report,
        }
        if job.quantize:
            entry["integer"] = integer_variants(job)
            for suffix in INTEGER:
                if suffix in entry["integer"]:
                    file = entry["integer"][suffix]["file"]
                    job.card["files"][file] = f"{FILE}, full-integer {suffix}"
        return entry

    def open(self, folder: Path, file: str, entry: dict[str, Any]) -> LiteRTStep:
        return LiteRTStep(folder / file, entry.get("inputs"))

    def describe(self, entry: dict[str, Any]) -> str:
        integer = entry.get("integer") or {}
        sizes = [f"{k} {size_text(integer[k]['size_bytes'])}" for k in INTEGER if k in integer]
        extra = f" ({', '.join(sizes)})" if sizes else ""
        text = f"tflite {size_text(entry['size_bytes'])}{extra}"
        return text if entry.get("status") == "ok" else f"{text} ({entry.get('status')})"

    def summary(self, entry: dict[str, Any]) -> list[str]:
        lines = [
            f"litert: {FILE} {size_text(entry['size_bytes'])}, {entry['status']} against "
            "PyTorch; its signature's tensors are named as model.step.onnx's (input, "
            "state_0, … → output, state_0_out, …)"
        ]
        integer = entry.get("integer") or {}
        if "skipped" in integer:
            lines.append(f"litert: no integer files: {integer['skipped']}")
        for suffix in INTEGER:
            if suffix in integer:
                metrics = ", ".join(
                    f"{k} {v:.4g}" for k, v in integer[suffix]["test_metrics"].items()
                )
                fp32 = ", ".join(f"{k} {v:.4g}" for k, v in integer["fp32"]["test_metrics"].items())
                found = integer[suffix]
                lines.append(
                    f"litert: {found['file']} {size_text(found['size_bytes'])}, test {metrics} "
                    f"(fp32 {fp32}); its states start at the zero point, not 0"
                )
        return lines
