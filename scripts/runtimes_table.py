"""The README's runtimes tables, made from the shelf's model cards: every file of every export
in exports/ against every runtime it was verified on, with versions ("—": not that runtime's
format, e.g. a ``.ort`` file on tract; exports of card format 1 predate the check); and the
step model on the edge targets (LiteRT, TensorFlow Lite Micro, ExecuTorch) of the exports
that have them, fp32 and integer, with sizes, arenas and test metrics.

    .venv/bin/python scripts/runtimes_table.py          # rewrite the tables in README.md
    .venv/bin/python scripts/runtimes_table.py --check  # exit 1 if README.md is out of date
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def shelf_cards() -> dict[str, dict]:
    return {
        p.parent.name: json.loads(p.read_text()) for p in sorted(ROOT.glob("exports/*/card.json"))
    }


def metric_text(metrics: dict) -> str:
    name, value = next(iter(metrics.items()))
    return f"{name} {value:.4g}"


def check(target: dict) -> str:
    """A target's check against PyTorch: ok with its largest difference (states fed or a test
    sequence streamed), or how much it differs."""
    worst = max(target["max_diff_states_fed"], target["max_diff_streamed"])
    return f"ok ({worst:.1e})" if target["status"] == "ok" else target["status"]


def arena_text(host: int | None, chip: dict | None) -> str:
    """TFLM's arena: the one measured on the Cortex-M4 where the export ran it there, else the
    64-bit host interpreter's."""
    if chip and "arena_bytes" in chip:
        return f"{chip['arena_bytes']:,} (M4)"
    return "not run" if host is None else f"{host:,} (host)"


def edge_table() -> str:
    """A row per edge file of each export: target, bytes (flash), TFLM's arena, its test
    metric streamed (the first ``test_examples`` test sequences) and its check."""
    from rnnzoo.registry import target

    header = ["export", "file", "target", "bytes", "TFLM arena", "test metric", "check"]
    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    for name, card in shelf_cards().items():
        targets = {target(k).name: v for k, v in (card.get("targets") or {}).items()}
        litert, micro = targets.get("litert", {}), targets.get("micro", {})
        integer, on_micro = litert.get("integer", {}), micro.get("integer", {})
        m4 = ((micro.get("chip") or {}).get("cores") or {}).get("m4", {})
        n = integer.get("test_examples")
        where = "LiteRT, TFLM" if micro else "LiteRT"
        if litert:
            arena = arena_text(micro.get("arena_bytes"), m4.get("fp32")) if micro else "—"
            fp32 = metric_text(integer["fp32"]["test_metrics"]) if "fp32" in integer else "—"
            lines.append(
                f"| {name} | `{litert['file']}` | {where} | {litert['size_bytes']:,}"
                f" | {arena} | {fp32} | {check(litert)} |"
            )
        if "skipped" in integer:
            lines.append(
                f"| {name} | integer files | — | — | — | — | not made: {integer['skipped']} |"
            )
        for kind in ("int8", "int16x8"):
            if kind in integer:
                entry, tflm = integer[kind], on_micro.get(kind, {})
                arena = arena_text(tflm.get("arena_bytes"), m4.get(kind))
                lines.append(
                    f"| {name} | `{entry['file']}` | {where} | {entry['size_bytes']:,}"
                    f" | {arena} | {metric_text(entry['test_metrics'])} | by metric ({n} test) |"
                )
        if "executorch" in targets:
            pte = targets["executorch"]
            lines.append(
                f"| {name} | `{pte['file']}` | ExecuTorch | {pte['size_bytes']:,} | — | —"
                f" | {check(pte)} |"
            )
    return "\n".join(lines)


def runtimes_table() -> str:
    cards = shelf_cards()
    runtimes: dict[str, str] = {}
    for card in cards.values():
        for name, report in (card.get("runtimes") or {}).items():
            if report.get("version"):
                runtimes.setdefault(name, report["version"])
    header = [
        "export / file",
        "onnxruntime " + next((c["versions"]["onnxruntime"] for c in cards.values()), ""),
    ]
    header += [f"{name} {version}" for name, version in runtimes.items()]
    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    for name, card in cards.items():
        reports = card.get("runtimes") or {}
        for file in card.get("files", {}):
            if not file.endswith((".onnx", ".ort")):
                continue
            cells = [f"{name} / `{file}`", "verified"]
            for runtime in runtimes:
                status = reports.get(runtime, {}).get("files", {}).get(file)
                cells.append("—" if status is None else status.split(":")[0])
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    readme = ROOT / "README.md"
    text = new = readme.read_text()
    for name, make in (("runtimes", runtimes_table), ("edge", edge_table)):
        start, end = f"<!-- {name} table: start -->", f"<!-- {name} table: end -->"
        if start not in new or end not in new:
            print(f"README.md lacks the markers {start} … {end}", file=sys.stderr)
            return 2
        before, rest = new.split(start, 1)
        _, after = rest.split(end, 1)
        new = f"{before}{start}\n{make()}\n{end}{after}"
    if "--check" in sys.argv:
        return 0 if new == text else 1
    readme.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
