"""The model card: what an export says about itself, and the contract between the exporter
(which writes it into ``card.json`` and every ONNX file's ``metadata_props``) and the runtime
(which validates it before using any of it). Torch-free.

The schema is versioned (``format``). Every card has the common fields below; a family adds
its own (``Runner.card_fields`` in ``rnnzoo.runtime``). A card that breaks the schema is one
``RuntimeInputError`` line, never a ``KeyError`` deep in the runtime. Cards of format 1 (before
families existed) are read by naming the family that serves their ``kind``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from rnnzoo.closeness import RULE
from rnnzoo.errors import RuntimeInputError
from rnnzoo.escaping import markdown as md
from rnnzoo.files import parse_json

FORMAT = "rnnzoo-card/2"
CLASS_SCORES = "class scores (logits)"  # the meaning of an output that ``labels`` name
READABLE_FORMATS = ("rnnzoo-card/1", FORMAT)


@dataclass(frozen=True)
class Field:
    """One field of the card: its name, the JSON types it may take, and what it means."""

    name: str
    types: tuple[type, ...]
    meaning: str
    required: bool = True


def field(name: str, types: type | tuple[type, ...], meaning: str, required: bool = True) -> Field:
    return Field(name, types if isinstance(types, tuple) else (types,), meaning, required)


NONE = type(None)
COMMON_FIELDS = (
    field("format", str, f"the schema version, {FORMAT!r}"),
    field("family", str, "the model family: which runtime adapter runs the files"),
    field("kind", str, "the task's kind: seq2seq, seq2vec, encdec, vec2seq, …"),
    field("task", str, "the registered task the model was trained on"),
    field("task_params", dict, "the task's parameters"),
    field("description", str, "what the task is"),
    field("cell", str, "the registered cell"),
    field("cell_params", dict, "the cell's parameters"),
    field("hidden", int, "units per layer and direction"),
    field("layers", int, "stacked recurrent layers"),
    field("bidirectional", bool, "whether the stack reads both directions"),
    field("preprocessing", str, "how raw data becomes the input"),
    field(
        "labels",
        (list, NONE),
        f"class names, by output index: only beside an output of {CLASS_SCORES}, one per score",
    ),
    field("metrics", dict, "test metrics of the model and of the task's baseline"),
    field("training", dict, "epochs, batch size, learning rate, seed"),
    field("opset", int, "the ONNX opset"),
    field("versions", dict, "versions of rnnzoo, torch, onnx and onnxruntime that made it"),
    field("inputs", list, "each input: name, shape, dtype, meaning, optional"),
    field("outputs", list, "each output: name, shape, meaning"),
    field("streaming", bool, "whether a one-step graph for streaming is included"),
    field("verification", list, "the checks against PyTorch the export passed", required=False),
    field("int8", dict, "sizes and test metrics of the int8 files", required=False),
    field(
        "missing_values",
        bool,
        "whether NaN in the input marks a missing value the graph handles (else refused)",
        required=False,
    ),
    field(
        "reader",
        (dict, NONE),
        "how `rnnzoo predict` reads a data file of the training data's format (kind, columns)",
        required=False,
    ),
    field("usage", dict, "how to run it: a command line (cli) and Python (python)", required=False),
    field("reproduce", list, "the commands that train and export it again", required=False),
    field(
        "runtimes",
        dict,
        "each other runtime the files were run on: version, and per file ok or the reason",
        required=False,
    ),
)


def _type_names(types: tuple[type, ...]) -> str:
    names = {
        str: "a string",
        int: "a whole number",
        float: "a number",
        bool: "true or false",
        list: "a list",
        dict: "an object",
        NONE: "null",
    }
    return " or ".join(names.get(t, t.__name__) for t in types)


def _has_type(value: Any, types: tuple[type, ...]) -> bool:
    if isinstance(value, bool) and bool not in types:
        return False  # JSON's true is not a number here
    if float in types and isinstance(value, int):
        return True
    return isinstance(value, types)


def parse(text: str, source: str) -> dict[str, Any]:
    """A card from JSON text; ``source`` names where it came from in errors."""
    try:
        data = parse_json(text)
    except ValueError as error:
        raise RuntimeInputError(f"{source}: the model card is not valid JSON ({error})") from None
    if not isinstance(data, dict):
        raise RuntimeInputError(f"{source}: the model card is not a JSON object")
    return data


def check_fields(data: dict[str, Any], source: str, fields: tuple[Field, ...]) -> None:
    """Each field present when required, and of its type (one line when not)."""
    for spec in fields:
        if spec.name not in data:
            if spec.required:
                raise RuntimeInputError(
                    f"{source}: the model card lacks {spec.name!r} ({spec.meaning}); "
                    "export the run again with `rnnzoo export`"
                )
            continue
        if not _has_type(data[spec.name], spec.types):
            raise RuntimeInputError(
                f"{source}: the model card's {spec.name!r} must be "
                f"{_type_names(spec.types)}, not {json.dumps(data[spec.name])[:60]}"
            )


def validate(data: dict[str, Any], source: str) -> dict[str, Any]:
    """Check ``data``'s format and common fields; return it unchanged. A family's own
    fields are then checked with ``check_fields``."""
    fmt = data.get("format")
    if fmt not in READABLE_FORMATS:
        newer = isinstance(fmt, str) and fmt.startswith("rnnzoo-card/") and fmt > FORMAT
        fix = "upgrade rnnzoo to read it" if newer else "export the run again"
        raise RuntimeInputError(
            f"{source}: model card format {fmt!r} is not one this rnnzoo reads "
            f"({', '.join(READABLE_FORMATS)}); {fix}"
        )
    check_fields(data, source, COMMON_FIELDS)
    if not data["inputs"] or not data["outputs"]:
        raise RuntimeInputError(f"{source}: the model card lists no inputs or no outputs")
    for item in data["inputs"] + data["outputs"]:
        if not (isinstance(item, dict) and isinstance(item.get("name"), str)):
            raise RuntimeInputError(f"{source}: the model card's inputs and outputs need names")
        shape = item.get("shape")
        if not isinstance(shape, list) or not all(is_axis(d) for d in shape):
            raise RuntimeInputError(
                f"{source}: the model card's shape of {item['name']!r} must be a list of sizes "
                f"(positive whole numbers) and axis names, not {json.dumps(shape)[:60]}"
            )
    labels = data["labels"]
    if labels is not None and not all(isinstance(label, str) for label in labels):
        raise RuntimeInputError(f"{source}: the model card's labels must be strings")
    if labels:
        check_labels(data, labels, source)
    return data


def check_labels(data: dict[str, Any], labels: list[str], source: str) -> None:
    """Labels name class scores, one each: a card whose outputs are values (a regression, a
    forecast) has none."""
    scores = [o for o in data["outputs"] if o.get("meaning") == CLASS_SCORES]
    if not scores:
        raise RuntimeInputError(
            f"{source}: the model card has labels, but no output of {CLASS_SCORES}: its "
            "outputs are values, not classes; remove the labels or export the run again"
        )
    size = scores[0]["shape"][-1] if scores[0]["shape"] else None
    if isinstance(size, int) and size != len(labels):
        raise RuntimeInputError(
            f"{source}: the model card has {len(labels)} labels for {size} {CLASS_SCORES}; "
            "export the run again"
        )


def is_axis(value: Any) -> bool:
    """A dimension in a card's shape: a size, or the name of a dynamic axis."""
    if isinstance(value, str):
        return bool(value)
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def upgrade(data: dict[str, Any], family_of_kind, source: str) -> dict[str, Any]:
    """A format-1 card as format 2: the family is the one serving its kind
    (``family_of_kind(kind) -> name``)."""
    if data.get("format") != "rnnzoo-card/1":
        return data
    kind = data.get("kind")
    if not isinstance(kind, str):
        raise RuntimeInputError(
            f"{source}: the model card (format 1) lacks 'kind', which names its family; "
            "export the run again with `rnnzoo export`"
        )
    return {**data, "format": FORMAT, "family": family_of_kind(kind)}


def stack_size(layers: int, hidden: int, bidirectional: bool) -> str:
    """A recurrent stack's size as rnnzoo writes it everywhere: ``2x128 bi`` is two layers of
    128 units per direction, reading both directions."""
    return f"{layers}x{hidden}" + (" bi" if bidirectional else "")


def markdown(card: dict[str, Any]) -> str:
    """The card as ``README.md`` for the export folder."""
    params = md(", ".join(f"{k}={v}" for k, v in card["cell_params"].items()))
    cell = f"`{card['cell']}`" + (f" ({params})" if params else "")
    layers = f"{card['layers']} layer{'s' if card['layers'] != 1 else ''}"
    lines = [
        f"# {card['task']} / {card['cell']}",
        "",
        md(card["description"]),
        "",
        f"- {card['kind']} model ({card['family']} family): cell {cell}, {layers} × "
        f"{card['hidden']} units{', bidirectional' if card['bidirectional'] else ''}",
        f"- preprocessing: {md(card['preprocessing'])}",
        *(
            [f"- data: {md(card['task_params']['source'])}"]
            if card["task_params"].get("source")
            else []
        ),
        f"- opset {card['opset']}; " + ", ".join(f"{k} {v}" for k, v in card["versions"].items()),
        "",
        "| file | what |",
        "|---|---|",
    ]
    lines += [f"| `{name}` | {md(what)} |" for name, what in card.get("files", {}).items()]
    lines += ["", "## Inputs and outputs", "", "| name | shape | meaning |", "|---|---|---|"]
    for item in card["inputs"] + card["outputs"]:
        lines.append(f"| `{item['name']}` | {item['shape']} | {md(item.get('meaning', ''))} |")
    if card["labels"]:
        named = ", ".join(f"{i} {md(n)}" for i, n in enumerate(card["labels"]))
        lines += ["", "Labels: " + named]
    lines += ["", "## Metrics (test split)", "", "| metric | model | baseline |", "|---|---|---|"]
    test, base = card["metrics"].get("test") or {}, card["metrics"].get("baseline_test") or {}
    for key, value in test.items():
        shown = f"{base[key]:.4f}" if key in base else "—"
        lines.append(f"| {key} | {value:.4f} | {shown} |")
    if card.get("int8"):
        q = card["int8"]
        lines += [
            "",
            f"int8: {q['size_bytes']} bytes against {q['fp32_size_bytes']} in fp32; test "
            f"metrics {q['test_metrics']} against {q['fp32_test_metrics']}.",
        ]
    if card.get("usage"):
        lines += ["", "## Use", "", "```bash", card["usage"]["cli"], "```", ""]
        lines += ["```python", card["usage"]["python"], "```"]
    if card.get("reproduce"):
        lines += ["", "## Reproduce", "", "```bash", *card["reproduce"], "```"]
    lines += runtimes_markdown(card)
    lines += edge_markdown(card)
    lines += [
        "",
        f"## Verification (onnxruntime vs PyTorch: {RULE})",
        "",
        "| check | batch | steps | max diff |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {c['what']} | {c['batch']} | {c['steps']} | {c['max_diff']:.2e} |"
        for c in card.get("verification", [])
    ]
    return "\n".join(lines) + "\n"


def edge_markdown(card: dict[str, Any]) -> list[str]:
    """The edge targets' files, each in its target's own words (``rnnzoo.targets``): sizes,
    arena, integer metrics, the figures measured on emulated Cortex-M cores."""
    from rnnzoo.registry import tables, target, target_names

    known = target_names(tables())
    entries = {name: e for name, e in (card.get("targets") or {}).items() if name in known}
    if not entries:
        return []
    lines = ["", "## Edge targets", ""]
    for name, entry in entries.items():
        lines += [f"- {md(line)}" for line in target(name).summary(entry)]
    return lines


def runtimes_markdown(card: dict[str, Any]) -> list[str]:
    """The card's runtime table: a row per file, a column per runtime."""
    runtimes = card.get("runtimes") or {}
    if not runtimes:
        return []
    files = list(dict.fromkeys(f for r in runtimes.values() for f in r.get("files", {})))
    names = list(runtimes)
    heads = [f"{n} {runtimes[n].get('version', '')}".strip() for n in names]
    lines = [
        "",
        "## Runtimes (the same inputs as onnxruntime for Python, within the tolerance below)",
        "",
        "| file | " + " | ".join(heads) + " |",
        "|---|" + "---|" * len(names),
    ]
    for file in files:
        cells = [
            runtimes[n]["files"].get(file, "—") if "skipped" not in runtimes[n] else "skipped"
            for n in names
        ]
        lines.append(f"| `{file}` | " + " | ".join(cells) + " |")
    skipped = [f"{n}: {r['skipped']}" for n, r in runtimes.items() if "skipped" in r]
    if skipped:
        lines += ["", "Not run here: " + "; ".join(skipped) + "."]
    return lines
