"""The ORT format for onnxruntime's mobile and minimal builds: each ``.onnx`` file of an export
converted by onnxruntime's own tool, the operators a minimal build must include listed in
``required_operators.config`` (its ``--include_ops_by_config``), and each ``.ort`` file checked
against its ``.onnx`` on the same inputs."""

from __future__ import annotations

import contextlib
import io
import logging
import shutil
import tempfile
from pathlib import Path

import numpy as np

from rnnzoo import closeness
from rnnzoo.runtime.engines import Feeds, OnnxRuntime
from rnnzoo.targets.base import Target

CONFIG = "required_operators.config"


def write_ort(folder: Path, feeds: dict[str, list[Feeds]], tolerance: float) -> dict:
    """Convert the ``.onnx`` files named in ``feeds`` (in ``folder``) to ``.ort`` beside them,
    write the operator config, and check each; returns the card's report for the format."""
    import onnxruntime
    from onnxruntime.tools.convert_onnx_models_to_ort import (
        OptimizationStyle,
        convert_onnx_models_to_ort,
    )

    with tempfile.TemporaryDirectory() as tmp:
        source, converted = Path(tmp) / "onnx", Path(tmp) / "ort"
        source.mkdir()
        for file in feeds:
            shutil.copy(folder / file, source / file)
        tool_log = logging.getLogger("ort_format_model.utils")  # says where the config went
        level, tool_log.level = tool_log.level, logging.WARNING
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                convert_onnx_models_to_ort(
                    source, output_dir=converted, optimization_styles=[OptimizationStyle.Fixed]
                )
        finally:
            tool_log.setLevel(level)
        for path in converted.iterdir():
            target = CONFIG if path.suffix == ".config" else path.name
            shutil.copy(path, folder / target)
    results, worst = {}, 0.0
    engine = OnnxRuntime()
    for file, cases in feeds.items():
        ort_file = file.removesuffix(".onnx") + ".ort"
        try:
            want = engine.run(folder / file, cases)
            got = engine.run(folder / ort_file, cases)
            value = closeness.worst((e, g) for w, h in zip(want, got) for e, g in zip(w, h))
            worst = max(worst, value)
            results[ort_file] = "ok" if value <= tolerance else f"differs by {value:.1e}"
        except Exception as error:  # onnxruntime's own words
            results[ort_file] = "fails: " + " ".join(str(error).split())[:200]
    return {
        "version": onnxruntime.__version__,
        "files": results,
        "max_diff": float(np.float64(worst)),
        "config": CONFIG,
    }


class OrtFormat(Target):
    """Converts the export's written ``.onnx`` files (both families), not the step model; its
    report sits among the card's other ONNX runtimes, where ``rnnzoo zoo`` reads it."""

    name = "ort"
    description = "every .onnx file in the ORT format for onnxruntime's mobile and minimal builds"
    families = ("sequence", "token_decoder")
    after_files = True
    package = "onnxruntime"
    RUNTIME = "onnxruntime (ORT format)"

    def write_files(
        self, folder: Path, feeds: dict[str, list[Feeds]], tolerance: float, card: dict
    ) -> None:
        """After the ``.onnx`` files are written: their ``.ort`` copies, checked."""
        card["runtimes"][self.RUNTIME] = write_ort(folder, feeds, tolerance)
        for name in feeds:
            card["files"][name.removesuffix(".onnx") + ".ort"] = f"{name} in the ORT format"
        card["files"][CONFIG] = "the operators a minimal onnxruntime build must include"
