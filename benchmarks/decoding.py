"""Greedy decoding against beam search, with onnxruntime, on the shelf's models that decode
tokens (exports/dates, exports/caption, …): test exact match, token accuracy and time per
example, side by side in one run.

    .venv/bin/python benchmarks/decoding.py [--beam 4] [--examples 1000]

The test split is rebuilt from the card's task parameters (generated, or read from the same
files), then decoded by the exported graphs. Writes benchmarks/results/decoding.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine  # noqa: E402

from rnnzoo.export.token_decoder import encoder_feeds  # noqa: E402
from rnnzoo.registry import create_task  # noqa: E402
from rnnzoo.runtime import Model, beam_decode, greedy_decode  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "decoding.json"


def compare(folder: Path, beam: int, examples: int) -> dict:
    model = Model(folder, threads=2)
    task = create_task(model.card["task"], model.card["task_params"])
    test = task.load()["test"]
    n = min(examples, len(test))
    feeds = encoder_feeds(test, n)
    result = {"examples": n}
    decoders = {
        "greedy": lambda: greedy_decode(model.session, model.step_session, feeds, model.card),
        f"beam{beam}": lambda: beam_decode(
            model.session, model.step_session, feeds, model.card, beam
        )[0],
    }
    for name, decode in decoders.items():
        start = time.perf_counter()
        tokens = decode()
        seconds = time.perf_counter() - start
        metrics = task.score(torch.from_numpy(tokens), test.y[:n])
        result[name] = {**metrics, "ms_per_example": round(1e3 * seconds / n, 3)}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--beam", type=int, default=4)
    parser.add_argument("--examples", type=int, default=1000)
    args = parser.parse_args()
    folders = sorted(p.parent for p in (ROOT / "exports").glob("*/encoder.onnx"))
    results = {"machine": machine(), "beam": args.beam, "models": {}}
    for folder in folders:
        results["models"][folder.name] = compare(folder, args.beam, args.examples)
        print(folder.name, json.dumps(results["models"][folder.name]), flush=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
