"""The edge-target contract: what a target is called, what it needs, what it takes, how it
writes its files, how they are run and checked, and how the card and the zoo describe it.

A target is one module (``rnnzoo.targets.litert``, ``…micro``, ``…executorch``, ``…c``,
``…ort`` and any plugin's) holding one ``Target`` subclass, registered through the
``register_targets`` hook. Its ``name`` is the one word for ``rnnzoo export --format``,
``rnnzoo verify --runtime``, the card's ``targets`` and the zoo; nothing outside the module
spells it. Target modules are torch-free — the runtime runs their files — so everything the
torch side knows reaches ``write`` through a ``StepJob`` that the exporter builds.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import io
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from rnnzoo.errors import UserError

Step = Callable[[list[np.ndarray]], list[np.ndarray]]
"""A step file as a function: batch-1 float32 arrays in the step graph's order (``input``,
``state_i``…, the streaming states) to its outputs in the same order."""


class StepJob(Protocol):
    """What a target's ``write`` is given (built by ``rnnzoo.export.step``)."""

    folder: Path  # where the export's files are being written (the staging folder)
    prefix: str  # the export's name, for C identifiers
    names: list[str]  # the step graph's inputs in order
    output_names: list[str]  # its outputs in order (``output``, ``state_0_out``, …)
    quantize: str | None  # "int8" when integer variants were asked for
    card: dict[str, Any]  # the card so far (earlier targets' entries in card["targets"])
    missing_values: bool  # whether inputs may be NaN (integer inputs cannot carry it)
    per_step: bool  # whether the model answers every step (else once per sequence)
    labels: list[str] | None  # class names of a classifier

    def step_module(self) -> Any: ...  # the PyTorch step module, eval mode
    def named_step_module(self) -> Any: ...  # the same, inputs as keywords, outputs as a dict
    def example(self) -> tuple: ...  # batch-1 example inputs (torch tensors) to trace with
    def step_graph(self) -> Any: ...  # the verified ``model.step.onnx`` (onnx.ModelProto)
    def no_grad(self) -> contextlib.AbstractContextManager: ...
    def exported_program(self) -> Any: ...  # ``torch.export.export`` of the step module
    def checked(self, step: Step) -> dict[str, Any]: ...  # status and max diffs vs PyTorch
    def stream_test(self, step: Step, n: int) -> Any: ...  # first n test rows streamed
    def calibration(self, samples: int = 1000) -> list[list[np.ndarray]]: ...
    def evaluate(self, prediction: Any, n: int) -> dict[str, float]: ...
    def test_examples(self, n: int = 200) -> int: ...
    def window_steps(self) -> int: ...  # steps of one window of the training data
    def test_rows(self, max_steps: int) -> list[np.ndarray]: ...  # first test rows, (steps, in)
    def evaluate_rows(self, outputs: list[np.ndarray]) -> dict[str, float]: ...


class Target:
    """One edge target. Subclasses set the class attributes and override what applies."""

    name: str = ""
    description: str = ""
    aliases: tuple[str, ...] = ()  # earlier names, still understood in old cards and commands
    families: tuple[str, ...] = ("sequence",)  # model families whose files it converts
    builds_on: tuple[str, ...] = ()  # targets whose files it needs written first
    after_files: bool = False  # converts the written ONNX files instead of the step model
    needs: tuple[tuple[str, str], ...] = ()  # (module, how to install) to write its files
    run_needs: tuple[tuple[str, str], ...] = ()  # (module, how to install) to run them
    package: str = ""  # the distribution whose version the verify report gives
    files_meaning: dict[str, str] = {}

    def missing(self, writing: bool = True) -> str | None:
        """Why this target's files cannot be written (or run) here, or None."""
        return missing(self.needs if writing else self.run_needs)

    def refuse(self, job: StepJob) -> None:
        """Raise ``UserError`` (one line) for a model this target cannot take, before work."""

    def write(self, job: StepJob) -> dict[str, Any]:
        """Write the target's files into ``job.folder``, check them; the card's entry."""
        raise NotImplementedError

    def step_files(self, entry: dict[str, Any]) -> list[str]:
        """The files ``verify`` streams: the fp32 file first, then the integer ones the
        target ran at export."""
        files = [entry["file"]] if "file" in entry else list(entry.get("files", []))[:1]
        integer = entry.get("integer", {})
        ran = [k for k in ("int8", "int16x8") if k in integer and "skipped" not in integer[k]]
        return files + [integer[k]["file"] for k in ran]

    def open(self, folder: Path, file: str, entry: dict[str, Any]) -> Step:
        """One of its files as a ``Step``."""
        raise NotImplementedError

    def stream(
        self,
        folder: Path,
        file: str,
        entry: dict[str, Any],
        x: np.ndarray,
        lengths: np.ndarray,
        starts: list[np.ndarray],
    ) -> list[np.ndarray]:
        """Every row of ``x`` streamed through one of its files from ``starts``: each row's
        predictions, ``(steps, …)``. A target whose files run a whole stream at once (a
        firmware under an emulator) overrides this."""
        return stream_rows(self.open(folder, file, entry), x, lengths, starts)

    def version(self) -> str:
        from importlib import metadata

        return metadata.version(self.package) if self.package else ""

    def describe(self, entry: dict[str, Any]) -> str:
        """A few words for the zoo's edge column: sizes, arena, and a check that was not ok."""
        status = entry.get("status", "ok")
        size = entry.get("size_bytes")
        text = self.name + (f" {size_text(size)}" if size else "")
        return text if status == "ok" else f"{text} ({status})"

    def summary(self, entry: dict[str, Any]) -> list[str]:
        """What ``rnnzoo export`` prints about the files it wrote (one line or a few)."""
        return [f"{self.name}: {self.describe(entry)}"]

    def record(self, card: dict[str, Any], entry: dict[str, Any]) -> None:
        """Put ``entry`` into the card: under ``targets`` by default."""
        card.setdefault("targets", {})[self.name] = entry


def stream_rows(
    step: Step, x: np.ndarray, lengths: np.ndarray, starts: list[np.ndarray]
) -> list[np.ndarray]:
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


def valid_rows(x: np.ndarray, lengths: np.ndarray) -> list[np.ndarray]:
    """Each row's valid steps, ``(steps, input floats)``: what a firmware streams."""
    return [
        np.ascontiguousarray(row[: int(n)].reshape(int(n), -1), np.float32)
        for row, n in zip(x, lengths)
    ]


def size_text(size: int | None) -> str:
    if size is None:
        return "—"
    return f"{size / 1e6:.2f} MB" if size >= 1e6 else f"{size / 1e3:.1f} KB"


def missing(modules: tuple[tuple[str, str], ...] | list[tuple[str, str]]) -> str | None:
    """Why something cannot run here (the first module not installed), or None."""
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
def quiet(log: list[str] | None = None) -> Iterator[None]:
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


def to_integer(value: np.ndarray, detail: dict) -> np.ndarray:
    """A float array quantised to a tensor's integer type (its scale and zero point)."""
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
