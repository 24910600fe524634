"""How far float32 rounding takes an export from PyTorch, on every task and cell, against the
tolerance every check uses (``rnnzoo.closeness``), and how far one weight moved by 1e-3 takes
it: each model is built with its seed's random weights (rounding does not need training), its
export's verification grid run as ``rnnzoo export`` runs it (whole sequences up to 4× the
training length, padded batches with states, one streaming step), then again with the largest
entry of ``model.onnx``'s largest weight moved by 1e-3.

    .venv/bin/python benchmarks/export_rounding.py [--cells gru,lstm] [--tasks sine,reber]

Writes benchmarks/results/export_rounding.json with the machine: per task and cell, the worst
check as a share of its tolerance (rounding: must stay below 1) and the perturbed graph's
(must be above 1: caught). Tasks that need a user's file (classify, regress, forecast) are
measured on their smoke data.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from machine import machine  # noqa: E402

from rnnzoo import export as exporter  # noqa: E402
from rnnzoo.checkpoint import save_weights  # noqa: E402
from rnnzoo.export import sequence  # noqa: E402
from rnnzoo.families.base import family_of  # noqa: E402
from rnnzoo.registry import create_task, get_task_class, list_cells, list_tasks  # noqa: E402
from rnnzoo.rundir import RunDir, TrainConfig  # noqa: E402


def random_run(folder: Path, task: str, cell: str) -> Path:
    params = dict(get_task_class(task).smoke_params)
    config = TrainConfig(task=task, cell=cell, task_params=params, hidden=32)
    loaded = create_task(task, params)
    loaded.load()
    torch.manual_seed(0)
    model = family_of(loaded).build(loaded, config)
    run = RunDir(folder)
    run.write_config(config)
    save_weights(run.weights_path, model)
    return folder


def moved(graph: onnx.ModelProto) -> onnx.ModelProto:
    copy = onnx.ModelProto()
    copy.CopyFrom(graph)
    floats = [i for i in copy.graph.initializer if i.data_type == onnx.TensorProto.FLOAT]
    init = max(floats, key=lambda i: int(np.prod(i.dims)))
    w = numpy_helper.to_array(init).copy()
    w[np.unravel_index(np.abs(w).argmax(), w.shape)] += 1e-3
    init.CopyFrom(numpy_helper.from_array(w, init.name))
    return copy


def measure(task: str, cell: str, tmp: Path) -> dict:
    original, seen = sequence.check_on_onnxruntime, {}

    def check(graphs, cases):
        seen["graphs"], seen["cases"] = graphs, cases
        return original(graphs, cases)

    sequence.check_on_onnxruntime = check
    try:
        exporter.export_run(
            random_run(tmp / "run", task, cell), tmp / "out", runtimes=["onnxruntime"]
        )
    finally:
        sequence.check_on_onnxruntime = original
    graphs, cases = seen["graphs"], seen["cases"]
    rounding = original(graphs, cases)
    wrong = original({**graphs, "model.onnx": moved(graphs["model.onnx"])}, cases)
    share = max(c.max_diff / c.tolerance for c in rounding)
    caught = max(c.max_diff / c.tolerance for c in wrong if c.what.startswith("model.onnx"))
    return {"rounding_share": round(share, 4), "moved_weight_share": round(caught, 2)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cells", default="")
    parser.add_argument("--tasks", default="")
    args = parser.parse_args()
    cells = args.cells.split(",") if args.cells else list_cells()
    tasks = args.tasks.split(",") if args.tasks else list_tasks()
    results: dict[str, dict] = {}
    for task in tasks:
        for cell in cells:
            with tempfile.TemporaryDirectory() as tmp:
                try:
                    row = measure(task, cell, Path(tmp))
                except Exception as error:  # a task without a sequence export, a cell it refuses
                    row = {"skipped": " ".join(str(error).split())[:160]}
            results.setdefault(task, {})[cell] = row
            print(task, cell, row, flush=True)
    measured = [r for t in results.values() for r in t.values() if "rounding_share" in r]
    summary = {
        "models": len(measured),
        "worst_rounding_share": max(r["rounding_share"] for r in measured),
        "least_moved_weight_share": min(r["moved_weight_share"] for r in measured),
        "moved_weight_caught": sum(r["moved_weight_share"] > 1 for r in measured),
    }
    out = ROOT / "benchmarks" / "results" / "export_rounding.json"
    payload = {"machine": machine(), "summary": summary, "results": results}
    out.write_text(json.dumps(payload, indent=1) + "\n")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
