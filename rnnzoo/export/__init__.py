"""torch → ONNX for every model family, verified against PyTorch before anything is written.

One job per module: ``tracing`` (cells as ONNX's recurrent operators or a ``Loop`` around their
step, never unrolled), ``graphs`` (surgery on ONNX graphs), ``sequence`` and ``token_decoder``
(each family's graphs, checks and files), ``verification`` (the tolerance and the checks),
``quantization`` (weight-only int8) and ``staging`` (cards, files, the atomic rename). Each
family's ``export`` method picks its exporter; ``export_run`` is the way in.
"""

from __future__ import annotations

from pathlib import Path

from rnnzoo.errors import UserError
from rnnzoo.export.staging import ExportOptions, ExportResult, recover
from rnnzoo.export.verification import Check, ExportError
from rnnzoo.files import check_folder_path

__all__ = [
    "DEFAULT_OPSET",
    "Check",
    "ExportError",
    "ExportOptions",
    "ExportResult",
    "export_run",
]

DEFAULT_OPSET = 19
OPSETS = range(14, 24)  # 14 brought what the graphs need; torch 2.13 exports up to 23


def export_run(
    run_dir: str | Path,
    out: str | Path,
    opset: int | None = None,
    quantize: str | None = None,
    runtimes: list[str] | None = None,
    formats: tuple[str, ...] = (),
) -> ExportResult:
    """Export a trained run to ``out``; raises ``ExportError`` (writing nothing) when
    onnxruntime and PyTorch disagree anywhere on the verification grid. The files are then
    run on the other ``runtimes`` (default: every one installed; see
    ``rnnzoo.runtime.engines``) and the card records how each did. ``formats`` names edge
    targets (``rnnzoo.registry.list_targets()``: the ORT format, LiteRT, TensorFlow Lite Micro,
    ExecuTorch, plain C and any plugin's), each written and checked by its module in
    ``rnnzoo.targets``."""
    from rnnzoo.registry import targets_for
    from rnnzoo.rundir import RunDir
    from rnnzoo.runtime.engines import engines

    opset = DEFAULT_OPSET if opset is None else opset
    if opset not in OPSETS:
        raise UserError(
            f"--opset {opset}: rnnzoo exports opsets {OPSETS.start} to {OPSETS.stop - 1}"
        )
    if quantize not in (None, "int8"):
        raise UserError(f"--quantize takes int8, not {quantize!r}")
    out = check_folder_path(out, "--out")
    if out.parent.is_dir():
        recover(out)
    if out.exists() and not (out / "card.json").is_file() and any(out.iterdir()):
        raise UserError(f"{out} exists and is not an rnnzoo export; choose another --out")
    targets = targets_for(formats)  # unknown names refused before any work
    for target in targets:
        reason = target.missing()
        if reason:
            raise UserError(f"--format {target.name}: {reason}")
    run = RunDir(run_dir).load()
    names = [e.name for e in engines(runtimes)]  # unknown names refused before any work
    options = ExportOptions(opset, quantize, names, tuple(targets))
    family = run.family
    refused = [t.name for t in targets if family.name not in t.families]
    if refused:
        raise UserError(
            f"--format {refused[0]} converts a sequence model's step; {family.name} models "
            "are not converted for it yet: export without it"
        )
    return family.export(run, out, options)
