"""Writing an export: the card's common fields, ONNX files with the card in their metadata, and
a staging folder renamed into place only when everything is written."""

from __future__ import annotations

import json
import math
import shlex
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import onnx
import torch

from rnnzoo import card as cards
from rnnzoo import closeness
from rnnzoo.checksums import MANIFEST, MEANING, write_manifest
from rnnzoo.export.verification import Check
from rnnzoo.files import folder_lock, parse_json, recover_folder, replace_folder, staging_folder
from rnnzoo.registry import family_entry


@dataclass(frozen=True)
class ExportOptions:
    """How to export: the opset, int8 copies, which other runtimes to verify the files on
    (None: every one installed), and the edge targets to write (``rnnzoo.targets``)."""

    opset: int
    quantize: str | None = None
    runtimes: list[str] | None = None
    targets: tuple = ()


@dataclass
class ExportResult:
    """Where an export went, its card, and the verification it passed."""

    out: Path
    card: dict[str, Any]
    checks: list[Check] = field(default_factory=list)


def versions() -> dict[str, str]:
    import onnxruntime

    return {
        "rnnzoo": metadata.version("rnnzoo"),
        "torch": torch.__version__,
        "onnx": onnx.__version__,
        "onnxruntime": onnxruntime.__version__,
    }


def reproduce(config: Any, out: Path, options: ExportOptions) -> list[str]:
    """The two commands that make this export again: train (into ``runs/NAME``), export."""
    run = f"runs/{out.name}"
    export = ["rnnzoo", "export", run, "--out", str(out), "--opset", str(options.opset)]
    export += ["--quantize", options.quantize] if options.quantize else []
    export += [word for t in options.targets for word in ("--format", t.name)]
    return [config.command(run), shlex.join(export)]


def usage(out: Path, python: list[str]) -> dict[str, str]:
    """How to run the export, from the command line and from Python (the runtime only);
    ``python`` is what the family's model is called with, after it is opened (``example``
    in those lines is the export's example.json, loaded as ``json.load`` gives it)."""
    example = str(out / "example.json")
    lines = [
        "import json, numpy as np",
        "from rnnzoo.runtime import Model",
        f"model = Model({str(out)!r})",
        f"example = json.load(open({example!r}))",
        *python,
    ]
    return {
        "cli": f"rnnzoo predict {shlex.quote(str(out))} --input {shlex.quote(example)}",
        "python": "\n".join(lines),
    }


def common_card(run: Any, out: Path, options: ExportOptions, python: list[str]) -> dict[str, Any]:
    """What every model card says, whatever the family (``run`` is a ``LoadedRun``)."""
    from rnnzoo.registry import task_entry

    task, config = run.task, run.config
    opset = options.opset
    return {
        "format": cards.FORMAT,
        "family": run.family.name,
        "kind": task.kind,
        "task": config.task,
        "task_params": config.task_params,
        "description": task_entry(config.task).description,
        "cell": config.cell,
        "cell_params": config.cell_params,
        "hidden": config.hidden,
        "layers": config.layers,
        "bidirectional": config.bidirectional,
        "preprocessing": task.preprocessing,
        "missing_values": task.missing_values,
        "labels": task.labels,
        "reader": task.reader(),
        "metrics": card_metrics(run),
        "training": {
            "epochs": config.epochs,
            "batch_size": config.batch_size,
            "lr": config.lr,
            "seed": config.seed,
        },
        "opset": opset,
        "versions": versions(),
        "usage": usage(out, python),
        "reproduce": reproduce(config, out, options),
    }


def is_metrics(value: Any) -> bool:
    """Whether ``value`` is what ``Task.evaluate`` returns: names → finite numbers."""
    return (
        isinstance(value, dict)
        and bool(value)
        and all(
            isinstance(k, str)
            and isinstance(v, (int, float))
            and not isinstance(v, bool)
            and math.isfinite(v)
            for k, v in value.items()
        )
    )


def card_metrics(run: Any) -> dict[str, Any]:
    """The test metrics of the model and of the baseline, from the run's ``summary.json``; where
    it holds none that can be read (damaged, edited, missing), computed again from the run's
    weights on its test split, with a ``note`` saying so: nothing is lost, nothing refused."""
    test, baseline = run.summary.get("test"), run.summary.get("baseline_test")
    if is_metrics(test) and is_metrics(baseline):
        return {"test": test, "baseline_test": baseline}
    from rnnzoo.rundir import RunDir
    from rnnzoo.trainer import predict

    split = run.splits["test"]
    prediction = predict(run.family, run.model, split, torch.device("cpu"))
    return {
        "test": run.task.evaluate(prediction, split.y),
        "baseline_test": run.task.baseline(run.splits["train"], split),
        "note": f"{run.path / RunDir.SUMMARY} holds no test metrics that can be read; these "
        "were computed again from the run's weights on its test split",
    }


def save_graph(graph: onnx.ModelProto, path: Path, card: dict[str, Any]) -> None:
    """Write ``graph`` with the card in its metadata, then check the file as written."""
    onnx.helper.set_model_props(
        graph, {"rnnzoo_card": json.dumps(card), "task": card["task"], "cell": card["cell"]}
    )
    graph.producer_name, graph.producer_version = "rnnzoo", card["versions"]["rnnzoo"]
    onnx.save(graph, str(path))
    onnx.checker.check_model(str(path), full_check=True)


def finish_files(
    staging: Path,
    answers: dict[str, str],
    cases: list,
    card: dict[str, Any],
    options: ExportOptions,
) -> None:
    """After the files are written to ``staging``: run them on the other runtimes, add the
    ORT format if asked, and put the final card into every ONNX file. ``answers`` maps each
    ``.onnx`` file to the file whose verification cases it answers."""
    from rnnzoo.export.verification import portability

    card["runtimes"] = portability(staging, answers, cases, options.runtimes)
    feeds = {f: [c.feeds for c in cases if c.file == s] for f, s in answers.items()}
    for target in options.targets:
        if target.after_files:
            longest = max((c.steps for c in cases), default=1)
            target.write_files(staging, feeds, closeness.tolerance(longest), card)
    for name in answers:  # the card inside each file has the runtimes too
        save_graph(onnx.load(str(staging / name)), staging / name, card)


EXPORT_NAMES = ("card.json", "README.md", "example.json", "required_operators.config", MANIFEST)


def export_names(folder: Path) -> set[str]:
    """The entries of an export folder that the export wrote (what its card lists, and what
    every export has); anything else there is the user's and survives a re-export."""
    names = set(EXPORT_NAMES)
    try:
        listed = parse_json((folder / "card.json").read_text()).get("files", {})
        names |= {str(name).rstrip("/") for name in listed}
    except (OSError, ValueError, AttributeError):
        pass
    for entry in folder.iterdir():
        if entry.suffix in (".onnx", ".ort") or entry.name.startswith("test_data_set_"):
            names.add(entry.name)
    return names


def recover(out: Path) -> None:
    """Finish what a killed export left beside ``out`` (see ``rnnzoo.files.recover_folder``)."""
    with folder_lock(out.parent):
        recover_folder(out, export_names)


def write_staged(
    out: Path, card: dict[str, Any], checks: list[Check], write: Callable[[Path], None]
) -> None:
    """``write(folder)`` into a staging folder beside ``out``, add the card and, last, the
    checksums of every file in it (``rnnzoo.checksums``), then put it in place of ``out``
    (``rnnzoo.files.replace_folder``): a failure or a kill leaves the old export whole, and
    files a user added to it move into the new one."""
    card["verification"] = [c.to_dict() for c in checks]
    card["files"][MANIFEST] = MEANING
    staging = staging_folder(out)
    try:
        write(staging)
        runner = family_entry(card["family"]).load_runtime()
        cards.validate(card, "the new card")
        cards.check_fields(card, "the new card", runner.card_fields)
        (staging / "card.json").write_text(json.dumps(card, indent=2) + "\n")
        (staging / "README.md").write_text(cards.markdown(card))
        write_manifest(staging)  # after every other file, whoever wrote it
        with folder_lock(out.parent):
            replace_folder(out, staging, export_names)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
