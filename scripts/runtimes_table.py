"""The README's runtimes table, made from the shelf's model cards: every file of every export
in exports/ against every runtime it was verified on, with versions ("—": not that runtime's
format, e.g. a ``.ort`` file on tract; exports of card format 1 predate the check).

    .venv/bin/python scripts/runtimes_table.py          # rewrite the table in README.md
    .venv/bin/python scripts/runtimes_table.py --check  # exit 1 if README.md is out of date
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- runtimes table: start -->", "<!-- runtimes table: end -->"


def table() -> str:
    cards = {
        p.parent.name: json.loads(p.read_text()) for p in sorted(ROOT.glob("exports/*/card.json"))
    }
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
    text = readme.read_text()
    if START not in text or END not in text:
        print(f"README.md lacks the markers {START} … {END}", file=sys.stderr)
        return 2
    before, rest = text.split(START, 1)
    _, after = rest.split(END, 1)
    new = f"{before}{START}\n{table()}\n{END}{after}"
    if "--check" in sys.argv:
        return 0 if new == text else 1
    readme.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
