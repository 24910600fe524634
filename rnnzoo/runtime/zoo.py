"""The shelf: trained exports that open by name — ``Model("sine")``, ``rnnzoo predict sine``,
``rnnzoo zoo``, ``list_models("*mnist*")``. A shelf is a folder of export folders; the
folders in ``$RNNZOO_ZOO`` (separated like ``PATH``) come first, then the one rnnzoo ships
(``exports/`` beside the package). A name found on two shelves is the first one's. Torch-free:
it reads the cards only."""

from __future__ import annotations

import difflib
import fnmatch
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

from rnnzoo.card import stack_size
from rnnzoo.errors import RuntimeInputError
from rnnzoo.escaping import markdown as md
from rnnzoo.files import parse_json
from rnnzoo.targets.base import size_text

ENVIRONMENT = "RNNZOO_ZOO"
BUILT_IN = Path(__file__).resolve().parents[2] / "exports"
SHORT_RUNTIMES = {  # how `rnnzoo zoo` names the runtimes in its table
    "onnxruntime": "onnxrt",
    "onnx.reference": "ref",
    "openvino": "ov",
    "onnxruntime-node": "node",
    "onnxruntime-web": "web",
    "onnxruntime (ORT format)": ".ort",
}


def shelves() -> list[Path]:
    """The shelf folders in the order names are looked up in."""
    extra = [Path(p) for p in os.environ.get(ENVIRONMENT, "").split(os.pathsep) if p]
    return [*extra, BUILT_IN]


def shelf() -> dict[str, Path]:
    """Every model on the shelves: name → export folder."""
    models: dict[str, Path] = {}
    for folder in shelves():
        try:
            entries = sorted(folder.iterdir())
        except OSError:  # a shelf that is not there (yet) holds nothing
            continue
        for entry in entries:
            if (entry / "card.json").is_file():
                models.setdefault(entry.name, entry)
    return models


def list_models(pattern: str = "*") -> list[str]:
    """Names of the models on the shelves matching an ``fnmatch`` pattern, e.g. ``"*mnist*"``."""
    return sorted(name for name in shelf() if fnmatch.fnmatchcase(name, pattern))


def find(name_or_path: str | Path) -> Path:
    """An export folder or ``.onnx`` file as given, else the shelf's model of that name."""
    path = Path(name_or_path)
    if path.exists():
        return path
    models = shelf()
    if str(name_or_path) in models:
        return models[str(name_or_path)]
    close = difflib.get_close_matches(str(name_or_path), list(models), n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise RuntimeInputError(
        f"{name_or_path}: no such file or folder, and no model of that name on the shelf{hint}"
        " (see `rnnzoo zoo`; expected an export folder from `rnnzoo export` or a .onnx file)"
    )


def describe(name: str, folder: Path) -> dict[str, Any]:
    """What ``rnnzoo zoo`` shows of one model, from its card; a card that cannot be read is
    a row that says so, not a failed listing."""
    try:
        card = parse_json((folder / "card.json").read_text())
        metrics = card["metrics"]
        metric, value = next(iter(metrics["test"].items()))
        row = {
            "name": name,
            "task": card["task"],
            "cell": card["cell"],
            "size": stack_size(card["layers"], card["hidden"], card["bidirectional"]),
            "metric": metric,
            "test": value,
            "baseline": (metrics.get("baseline_test") or {}).get(metric),
            "fp32_bytes": fp32_bytes(card, folder),
            "int8_bytes": (card.get("int8") or {}).get("size_bytes"),
            "runtimes": verified_on(card),
            "edge": edge_targets(card),
            "folder": str(folder),
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError, StopIteration) as error:
        return {"name": name, "folder": str(folder), "error": f"unreadable card: {error}"}
    return row


def fp32_bytes(card: dict[str, Any], folder: Path) -> int | None:
    recorded = (card.get("int8") or {}).get("fp32_size_bytes")
    if recorded:
        return recorded
    main = folder / "model.onnx"
    return main.stat().st_size if main.is_file() else None


def verified_on(card: dict[str, Any]) -> list[str]:
    """onnxruntime (where every export is verified) and each other runtime that gave its
    numbers on every file."""
    names = ["onnxruntime"]
    for runtime, report in (card.get("runtimes") or {}).items():
        files = report.get("files") or {}
        if files and all(status == "ok" for status in files.values()):
            names.append(runtime)
    return names


def edge_targets(card: dict[str, Any]) -> list[str]:
    """The step model's edge targets as each target's module describes them: sizes, arena,
    the chip's figures — with its check against PyTorch where it was not ``ok``."""
    from rnnzoo.registry import tables

    entries, found = card.get("targets") or {}, []
    for target in tables().targets.values():  # in registration order
        for name in (target.name, *target.aliases):
            if name in entries:
                found.append(target.describe(entries[name]))
    return found


def catalogue(pattern: str = "*") -> list[dict[str, Any]]:
    """A row per model on the shelves matching ``pattern`` (see ``describe``)."""
    models = shelf()
    return [describe(name, models[name]) for name in list_models(pattern)]


def index_markdown(rows: list[dict[str, Any]]) -> str:
    """The shelf's ``exports/README.md``: a row per model, linked to its card."""
    lines = [
        "# The shelf",
        "",
        "Trained rnnzoo models, exported to ONNX with their cards. Generated from the cards by",
        "`rnnzoo zoo --markdown > exports/README.md`; open one by name: `rnnzoo predict NAME",
        '--input FILE`, `Model("NAME")` in Python, `rnnzoo zoo` to list them.',
        "",
        "| model | task | cell | size | test | baseline | fp32 | int8 | verified on | edge |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if "error" in r:
            lines.append(f"| {md(r['name'])} | {md(r['error'])} | | | | | | | | |")
            continue
        baseline = f"{r['baseline']:.4g}" if r["baseline"] is not None else "—"
        lines.append(
            f"| [{md(r['name'])}]({quote(r['name'])}/README.md) | {md(r['task'])} | {md(r['cell'])}"
            f" | {r['size']}"
            f" | {r['metric']} {r['test']:.4g} | {baseline} | {size_text(r['fp32_bytes'])}"
            f" | {size_text(r['int8_bytes'])} | {', '.join(r['runtimes'])}"
            f" | {md('; '.join(r['edge'])) or '—'} |"
        )
    return "\n".join(lines) + "\n"
