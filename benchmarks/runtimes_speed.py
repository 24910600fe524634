"""Every runtime on the same exported models, side by side in one run: batch-1 latency and
batch-256 throughput of a 2 × 128 classifier of 28 steps × 28 features (the seqmnist shape)
of every registered cell, and the cost of one streaming step, each as a ratio to onnxruntime
for Python; every runtime on 2 threads (onnxruntime-web's wasm: 1).

    .venv/bin/python benchmarks/runtimes_speed.py

Writes benchmarks/results/runtimes_speed.json with the machine, the commit and each runtime's
version.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine  # noqa: E402

import rnnzoo  # noqa: E402
from rnnzoo.checkpoint import save_weights  # noqa: E402
from rnnzoo.export import export_run  # noqa: E402
from rnnzoo.families.base import family_of  # noqa: E402
from rnnzoo.registry import create_task  # noqa: E402
from rnnzoo.rundir import RunDir, TrainConfig  # noqa: E402
from rnnzoo.runtime.engines import THREADS, engines  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "runtimes_speed.json"
# (name, file, batch, repeats): reference is slow, so it gets fewer repeats
CASES = [
    ("batch1", "model.onnx", 1, 50),
    ("batch256", "model.onnx", 256, 5),
    ("step", "model.step.onnx", 1, 100),
]


def export(folder: Path, cell: str) -> Path:
    params = {"limit": 600, "validation_size": 100}
    config = TrainConfig(task="seqmnist", cell=cell, task_params=params, hidden=128, layers=2)
    torch.manual_seed(0)
    task = create_task("seqmnist", params)
    model = family_of(task).build(task, config)
    run = RunDir(folder / "run")
    run.write_config(config)
    save_weights(run.weights_path, model)
    return export_run(run.path, folder / "export", runtimes=["onnxruntime"]).out


def feeds_for(file: str, batch: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    if file == "model.onnx":
        return {"input": rng.random((batch, 28, 28), np.float32)}
    states = {f"state_{i}": np.zeros((2, batch, 128), np.float32) for i in range(2)}
    return {"input": rng.random((batch, 28), np.float32), **states}


def main() -> None:
    torch.set_num_threads(THREADS)
    installed = [e for e in engines() if e.unavailable() is None]
    results = {
        "machine": machine(),
        "threads": THREADS,
        "versions": {e.name: e.version() for e in installed},
        "skipped": {e.name: e.unavailable() for e in engines() if e.unavailable()},
        "cells": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        for cell in rnnzoo.list_cells():
            folder = export(Path(tmp) / cell, cell)
            table = {}
            for name, file, batch, repeats in CASES:
                feeds = feeds_for(file, batch)
                if file == "model.step.onnx":  # lstm carries (h, c), the others h alone
                    inputs = json.loads((folder / "card.json").read_text())["inputs"]
                    names = {i["name"] for i in inputs}
                    feeds = {k: v for k, v in feeds.items() if k == "input" or k in names}
                row = {}
                for engine in installed:
                    count = max(3, repeats // 10) if engine.name == "onnx.reference" else repeats
                    try:
                        row[engine.name] = round(
                            1e3 * engine.seconds(folder / file, feeds, count), 3
                        )
                    except Exception as error:  # noqa: BLE001 - recorded, not fatal
                        row[engine.name] = "fails: " + " ".join(str(error).split())[:120]
                base = row.get("onnxruntime")
                table[name] = {
                    "ms": row,
                    "over_onnxruntime": {
                        k: round(v / base, 2)
                        for k, v in row.items()
                        if isinstance(v, float) and isinstance(base, float)
                    },
                }
            results["cells"][cell] = table
            print(cell, json.dumps(table), flush=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
