"""The step model on the edge targets' own runtimes — LiteRT, TensorFlow Lite Micro's host
interpreter and ExecuTorch — each called like a function of batch-1 float32 arrays in the step
graph's order (``input``, ``state_i``…, the streaming states) returning its outputs in the same
order; the optional extras each needs (checked before any work, one line if missing); and
``verify``, which streams an export's example through every target file against onnxruntime's
``model.step.onnx``.

torch-free like the rest of the runtime, but for ExecuTorch: its Python runtime takes only torch
tensors (and installs torch itself), so ``ExecuTorchStep`` imports torch when it is used.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import io
import os
import re
import tempfile
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from rnnzoo.errors import UserError

LITERT = "pip install 'rnnzoo[litert]' (litert-torch)"
MICRO = "pip install 'rnnzoo[micro]' (tflite-micro)"
EXECUTORCH = "pip install 'rnnzoo[executorch]' (executorch)"
# what each --format needs installed: (module, how to install it)
NEEDS = {
    "tflite": [("litert_torch", LITERT), ("ai_edge_litert", LITERT)],
    "micro": [("litert_torch", LITERT), ("ai_edge_litert", LITERT), ("tflite_micro", MICRO)],
    "pte": [("executorch", EXECUTORCH)],
}
Step = Callable[[list[np.ndarray]], list[np.ndarray]]


def check_installed(formats: tuple[str, ...]) -> None:
    """Before any work: one line naming the extra a requested format needs."""
    for fmt in formats:
        for module, extra in NEEDS.get(fmt, []):
            if importlib.util.find_spec(module) is None:
                raise UserError(f"--format {fmt} needs {module}, which is not installed: {extra}")


def missing(modules: list[tuple[str, str]]) -> str | None:
    """Why a target cannot run here (the first module not installed), or None."""
    for module, extra in modules:
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed: {extra}"
    return None


def require(module: str, extra: str) -> Any:
    """Import an optional converter or runtime, or one line naming the extra to install."""
    try:
        with quiet():
            return importlib.import_module(module)
    except ImportError:
        raise UserError(f"this needs {module}, which is not installed: {extra}") from None


SINK: list[Any] = []  # one file that native logging goes to, opened on first use


@contextlib.contextmanager
def quiet(log: list[str] | None = None):
    """TensorFlow's and the converters' C++ logging goes to file descriptor 2 and their
    progress to stdout; neither belongs in rnnzoo's output (``log``, if given, receives the
    former: the reason a native call failed is often only there). Cheap enough to wrap every
    step (a few µs: one file for the whole process, read from where each use began)."""
    if not SINK:
        SINK.append(tempfile.TemporaryFile())  # noqa: SIM115 - open for the process's life
    sink = SINK[0]
    start = sink.seek(0, os.SEEK_END)
    saved = os.dup(2)
    os.dup2(sink.fileno(), 2)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        if log is not None:
            sink.seek(start)
            log.append(sink.read().decode(errors="replace"))


class LiteRTStep:
    """A ``.tflite`` step file on LiteRT's interpreter; float32 in and out (an integer file's
    inputs are quantised and its outputs dequantised here, as a device's caller does at its
    boundary)."""

    def __init__(self, path: Path):
        interpreter = require("ai_edge_litert.interpreter", LITERT)
        with quiet():
            self.interpreter = interpreter.Interpreter(model_path=str(path), num_threads=1)
            self.runner = self.interpreter.get_signature_runner()
        self.inputs = self.runner.get_input_details()
        self.outputs = self.runner.get_output_details()

    def __call__(self, feeds: list[np.ndarray]) -> list[np.ndarray]:
        given = {}
        for i, value in enumerate(feeds):
            detail = self.inputs[f"args_{i}"]
            given[f"args_{i}"] = to_integer(np.asarray(value, np.float32), detail)
        with quiet():
            out = self.runner(**given)
        return [
            from_integer(out[f"output_{i}"], self.outputs[f"output_{i}"]) for i in range(len(out))
        ]


def to_integer(value: np.ndarray, detail: dict) -> np.ndarray:
    dtype = np.dtype(detail["dtype"])
    if dtype.kind == "f":
        return np.ascontiguousarray(value, dtype)
    scale, zero = detail["quantization"]
    info = np.iinfo(dtype)
    return np.clip(np.round(value / scale) + zero, info.min, info.max).astype(dtype)


def from_integer(value: np.ndarray, detail: dict) -> np.ndarray:
    if value.dtype.kind == "f":
        return value.astype(np.float32)
    scale, zero = detail["quantization"]
    return ((value.astype(np.float32) - zero) * scale).astype(np.float32)


def signature_positions(path: Path) -> tuple[list[int], list[int]]:
    """Where each of the step's inputs and outputs (``args_i``, ``output_i``) sits among the
    graph's tensors, which is how TFLM addresses them."""
    interpreter = require("ai_edge_litert.interpreter", LITERT).Interpreter(model_path=str(path))
    signature = interpreter.get_signature_list()["serving_default"]
    runner = interpreter.get_signature_runner()
    inputs = {d["index"]: i for i, d in enumerate(interpreter.get_input_details())}
    outputs = {d["index"]: i for i, d in enumerate(interpreter.get_output_details())}
    given, returned = runner.get_input_details(), runner.get_output_details()
    return (
        [inputs[given[n]["index"]] for n in signature["inputs"]],
        [outputs[returned[n]["index"]] for n in signature["outputs"]],
    )


class MicroStep:
    """The step on TFLM's interpreter (the reference kernels a microcontroller build
    compiles), called like ``LiteRTStep``; integer files quantised at the boundary too."""

    def __init__(self, path: Path, arena: int | None = None):
        runtime = require("tflite_micro.python.tflite_micro.runtime", MICRO)
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
                    "model's step uses; export it with --format tflite or --format pte instead"
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


class ExecuTorchStep:
    """A ``.pte`` step on ExecuTorch's runtime, called like ``LiteRTStep``."""

    def __init__(self, path: Path):
        require("executorch", EXECUTORCH)
        self.torch = importlib.import_module("torch")  # ExecuTorch takes only torch tensors
        with quiet():
            from executorch.runtime import Runtime

            self.method = Runtime.get().load_program(str(path)).load_method("forward")

    def __call__(self, feeds: list[np.ndarray]) -> list[np.ndarray]:
        inputs = [self.torch.from_numpy(np.ascontiguousarray(v, np.float32)) for v in feeds]
        with quiet():
            return [o.numpy().copy() for o in self.method.execute(inputs)]


# the card's name of each target: the runtime that runs its files, and what it needs
RUNNERS: dict[str, tuple[Callable[[Path], Step], list[tuple[str, str]], str]] = {
    "litert": (LiteRTStep, NEEDS["tflite"][1:], "ai-edge-litert"),
    "tflite-micro": (MicroStep, NEEDS["micro"][1:], "tflite-micro"),
    "executorch": (ExecuTorchStep, NEEDS["pte"], "executorch"),
}


def target_files(target: dict[str, Any]) -> list[str]:
    """The step files of a card's target entry: the fp32 file, then its integer variants
    (those the target ran at export: TFLM's kernels do not take every integer type)."""
    files = [target["file"]] if "file" in target else target.get("files", [])[:1]
    integer = target.get("integer", {})
    ran = [k for k in ("int8", "int16x8") if k in integer and "skipped" not in integer[k]]
    return files + [integer[k]["file"] for k in ran]


def stream(step: Step, x: np.ndarray, lengths: np.ndarray, starts: list[np.ndarray]) -> list:
    """Every row of ``x`` streamed from ``starts`` (zero states of batch 1): each row's
    outputs of every step, ``(steps, …)``."""
    rows = []
    for row, steps in zip(x, lengths):
        feeds, outputs = [np.zeros_like(s) for s in starts], []
        for t in range(int(steps)):
            y, *feeds = step([row[None, t].astype(np.float32), *feeds])
            outputs.append(y[0])
        rows.append(np.stack(outputs))
    return rows


def drift(expected: list[np.ndarray], got: list[np.ndarray], classes: bool) -> tuple[str, float]:
    """An integer file against fp32 over streamed rows' answers, by what the metric sees: the
    share of answers whose top class changes (classifiers), else the mean |difference| as a
    share of the mean |fp32 value| — status ok within the integer goals (2 points, 5 %)."""
    want, have = np.concatenate(expected), np.concatenate(got)
    if classes:
        value = float((want.argmax(-1) != have.argmax(-1)).mean())
        return ("ok" if value <= 0.02 else f"top class changes on {value:.1%} of steps"), value
    value = float(np.abs(want - have).mean() / max(np.abs(want).mean(), 1e-12))
    return ("ok" if value <= 0.05 else f"drifts by {value:.1%} of fp32's values"), value


def verify(
    folder: Path,
    card: dict[str, Any],
    reference: Step,
    starts: list[np.ndarray],
    x: np.ndarray,
    lengths: np.ndarray,
    names: list[str] | None = None,
) -> dict[str, Any]:
    """Each edge target of the card, where its runtime is installed: every row of ``x``
    streamed through its files and through ``reference`` (onnxruntime on the step graph).
    fp32 files must match to 1e-5 (|diff| / (1 + |value|)); integer files are judged by
    ``drift``. ``names`` picks targets (default: all). The same report shape as
    ``rnnzoo.runtime.engines.compare``."""
    from rnnzoo.runtime.engines import difference

    expected = stream(reference, x, lengths, starts)
    classes = bool(card.get("labels"))
    report: dict[str, Any] = {}
    for name, target in card.get("targets", {}).items():
        if names and name not in names:
            continue
        make, needs, package = RUNNERS[name]
        reason = missing(needs)
        if reason:
            report[name] = {"version": "", "skipped": reason, "files": {}}
            continue
        results, worst = {}, 0.0
        for file in target_files(target):
            try:
                got = stream(make(folder / file), x, lengths, starts)
            except Exception as error:  # each runtime fails in its own words
                results[file] = "fails: " + (" ".join(str(error).split()) or "error")[:200]
                continue
            if ".int" in file:  # a sequence's one answer is its last step's, unless per step
                last = slice(None) if card.get("per_step") else slice(-1, None)
                results[file], _ = drift(
                    [e[last] for e in expected], [g[last] for g in got], classes
                )
                continue
            value = max(difference(e, g) for e, g in zip(expected, got))
            worst = max(worst, value)
            results[file] = "ok" if value <= 1e-5 else f"differs by {value:.1e}"
        report[name] = {"version": metadata.version(package), "files": results, "max_diff": worst}
    return report
