"""Every runtime on the same exported models, side by side in one run: batch-1 latency and
batch-256 throughput of a 2 × 128 classifier of 28 steps × 28 features (the seqmnist shape)
of every registered cell, and the cost of one streaming step, each as a ratio to onnxruntime
for Python; every runtime on 2 threads (onnxruntime-web's wasm: 1).

    .venv/bin/python benchmarks/runtimes_speed.py

``--edge`` times one streaming step of the step model on the edge targets instead — LiteRT
(fp32, full-integer int8 and int16x8), TensorFlow Lite Micro's host interpreter (the same
three files) and ExecuTorch (XNNPACK) — against onnxruntime's ``model.step.onnx``, every one
called the same way (a Python call with the step's arrays, one thread), for small models like
the shelf's and a 2 × 128 classifier; it needs the extras (``rnnzoo[micro,executorch]``).

Writes benchmarks/results/runtimes_speed.json (``--edge``: its ``edge`` part) with the machine,
the commit and each runtime's version.
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


# (name, task, cell, hidden, layers, task params): the edge part's models
EDGE_MODELS = [
    ("reber gru 1x30", "reber", "gru", 30, 1, {"n_train": 256, "n_test": 64}),
    ("sine gru 1x100", "sine", "gru", 100, 1, {"n_train": 256, "n_test": 64}),
    ("seqmnist gru 2x128", "seqmnist", "gru", 128, 2, {"limit": 600, "validation_size": 100}),
    ("seqmnist lstm 2x128", "seqmnist", "lstm", 128, 2, {"limit": 600, "validation_size": 100}),
]


def export_edge(folder: Path, task_name: str, cell: str, hidden: int, layers: int, params) -> Path:
    """Random weights (speed does not depend on them), exported with every edge target and
    the integer variants (calibrated on the task's training sequences)."""
    config = TrainConfig(task=task_name, cell=cell, task_params=params, hidden=hidden,
                         layers=layers)  # fmt: skip
    torch.manual_seed(0)
    task = create_task(task_name, params)
    model = family_of(task).build(task, config)
    run = RunDir(folder / "run")
    run.write_config(config)
    save_weights(run.weights_path, model)
    out = folder / "export"
    export_run(run.path, out, quantize="int8", runtimes=["onnxruntime"], formats=("micro", "pte"))
    return out


def step_seconds(step, feeds: list[np.ndarray], repeats: int) -> float:
    """The median time of one step, after a warm-up, each step fed the last one's states."""
    import statistics
    import time

    times, state = [], feeds[1:]
    for i in range(repeats + 10):
        start = time.perf_counter()
        _, *state = step([feeds[0], *state])
        if i >= 10:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def edge_main() -> None:
    from importlib import metadata

    from rnnzoo.runtime.session import open_session, zero_state
    from rnnzoo.targets.executorch import ExecuTorchStep
    from rnnzoo.targets.litert import LiteRTStep
    from rnnzoo.targets.micro import MicroStep

    torch.set_num_threads(1)
    part = {"machine": machine(), "threads": 1, "unit": "microseconds per step", "models": {}}
    part["versions"] = {
        p: metadata.version(p)
        for p in ("onnxruntime", "ai-edge-litert", "tflite-micro", "executorch")
    }
    with tempfile.TemporaryDirectory() as tmp:
        for name, *spec in EDGE_MODELS:
            folder = export_edge(Path(tmp) / name.replace(" ", "-"), *spec)
            session = open_session(folder / "model.step.onnx", step=True)
            names = [i.name for i in session.get_inputs()]
            starts = list(zero_state(session, 1).values())
            shape = [d if isinstance(d, int) else 1 for d in session.get_inputs()[0].shape]
            feeds = [np.random.default_rng(0).random(shape, np.float32), *starts]
            steps = {
                "onnxruntime": lambda f, s=session, n=names: s.run(None, dict(zip(n, f))),
                **{f"litert {k}": LiteRTStep(folder / f"model.step{s}.tflite", names)
                   for k, s in (("fp32", ""), ("int8", ".int8"), ("int16x8", ".int16x8"))},
                **{f"tflite-micro {k}": MicroStep(folder / f"model.step{s}.tflite", names)
                   for k, s in (("fp32", ""), ("int8", ".int8"), ("int16x8", ".int16x8"))},
                "executorch fp32": ExecuTorchStep(folder / "model.step.pte"),
            }  # fmt: skip
            micro = {k: round(1e6 * step_seconds(f, feeds, 2000), 2) for k, f in steps.items()}
            base = micro["onnxruntime"]
            part["models"][name] = {
                "us": micro,
                "over_onnxruntime": {k: round(v / base, 2) for k, v in micro.items()},
            }
            print(name, json.dumps(part["models"][name]), flush=True)
    results = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    results["edge"] = part
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


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
    if RESULTS.is_file():  # the edge part's last results stay
        results["edge"] = json.loads(RESULTS.read_text()).get("edge")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    edge_main() if "--edge" in sys.argv[1:] else main()
