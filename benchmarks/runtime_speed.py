"""onnxruntime against PyTorch eager, side by side in one run (ratios).

    .venv/bin/python benchmarks/runtime_speed.py

For a 2 × 128 classifier of 28 steps × 28 features (the seqmnist shape) of every registered
cell: latency at batch 1 and throughput at batch 256, 2 threads each; streaming one new sample
with the step graph against re-running the whole sequence so far (T = 100), for those models
and the shelf's, in a process without PyTorch (``streaming.py``); model load time; and int8
against fp32 (size, latency, test metric) on the trained exports under exports/.

Writes benchmarks/results/runtime_speed.json.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine  # noqa: E402
from streaming import shelf  # noqa: E402

import rnnzoo  # noqa: E402
from rnnzoo.checkpoint import save_weights  # noqa: E402
from rnnzoo.export import export_run  # noqa: E402
from rnnzoo.families.base import family_of  # noqa: E402
from rnnzoo.registry import create_task  # noqa: E402
from rnnzoo.rundir import RunDir, TrainConfig  # noqa: E402
from rnnzoo.runtime import Model  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "runtime_speed.json"
THREADS = 2


def interleaved(functions: list, calls: int, rounds: int = 7) -> list[float]:
    """The seconds per call of each function in its fastest round, timed in alternating
    rounds so that a busy moment of this shared machine falls on all of them alike. The
    fastest rather than the median: the slower rounds measure the neighbours' jobs (two
    runs of the same graphs gave median ratios of 0.83-1.24 and fastest-round ratios of
    1.00-1.03), as the ``timeit`` documentation advises."""
    for fn in functions:
        fn()  # warm up
    times: list[list[float]] = [[] for _ in functions]
    for _ in range(rounds):
        for fn, samples in zip(functions, times):
            time.sleep(0.1)  # the threads of the one before stop spinning (on 2 cores,
            # PyTorch's after onnxruntime's slowed it 2x)
            start = time.perf_counter()
            for _ in range(calls):
                fn()
            samples.append((time.perf_counter() - start) / calls)
    return [min(samples) for samples in times]


def eager(model: torch.nn.Module, x: torch.Tensor) -> None:
    with torch.inference_mode():
        model(x)


def random_run(folder: Path, cell: str) -> tuple[Path, torch.nn.Module]:
    params = {"limit": 600, "validation_size": 100}
    config = TrainConfig(task="seqmnist", cell=cell, task_params=params, hidden=128, layers=2)
    torch.manual_seed(0)
    task = create_task("seqmnist", params)
    model = family_of(task).build(task, config).eval()
    run = RunDir(folder)
    run.write_config(config)
    save_weights(run.weights_path, model)
    return folder, model


def compare(cell: str, tmp: Path) -> dict:
    run, model = random_run(tmp / cell, cell)
    export_run(run, tmp / f"{cell}-export")
    start = time.perf_counter()
    runtime = Model(tmp / f"{cell}-export", threads=THREADS)
    load = time.perf_counter() - start
    result = {"load_seconds": round(load, 4)}
    for batch, calls in ((1, 100), (256, 5)):
        x = np.random.default_rng(0).random((batch, 28, 28), np.float32)
        xt = torch.from_numpy(x)

        t_torch, t_ort = interleaved(
            [partial(eager, model, xt), partial(runtime.predict, x)], calls
        )
        result[f"batch{batch}"] = {
            "torch_ms": round(1e3 * t_torch, 3),
            "onnxruntime_ms": round(1e3 * t_ort, 3),
            "onnxruntime_over_torch": round(t_ort / t_torch, 3),
        }
    return result


def streaming(folders: list[Path]) -> dict:
    """``benchmarks/streaming.py`` on ``folders`` (none: the shelf), in a process of its own
    that never imports PyTorch."""
    script = Path(__file__).resolve().parent / "streaming.py"
    result = subprocess.run(
        [sys.executable, str(script), *map(str, folders)],
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)


def int8_comparison() -> dict:
    out = {}
    for folder in [f for f in shelf() if (f / "model.int8.onnx").is_file()]:
        export = folder / "model.int8.onnx"
        card = json.loads((folder / "card.json").read_text())
        fp32, int8 = Model(folder, threads=THREADS), Model(folder, threads=THREADS, int8=True)
        x = np.asarray(json.loads((folder / "example.json").read_text())["input"], np.float32)[:1]
        big = np.repeat(x, 256, axis=0)
        row = {
            "fp32_bytes": (folder / "model.onnx").stat().st_size,
            "int8_bytes": export.stat().st_size,
        }
        for batch, inputs, calls in ((1, x, 100), (256, big, 5)):
            fp32_s, int8_s = interleaved(
                [partial(fp32.predict, inputs), partial(int8.predict, inputs)], calls
            )
            row[f"fp32_batch{batch}_ms"] = round(1e3 * fp32_s, 3)
            row[f"int8_batch{batch}_ms"] = round(1e3 * int8_s, 3)
            row[f"int8_over_fp32_batch{batch}"] = round(int8_s / fp32_s, 3)
        row |= {
            "fp32_test": card["int8"]["fp32_test_metrics"],
            "int8_test": card["int8"]["test_metrics"],
        }
        out[folder.name] = row
        print(folder.name, out[folder.name], flush=True)
    return out


def main() -> None:
    torch.set_num_threads(THREADS)
    results = {"machine": machine(), "threads": THREADS, "cells": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for cell in rnnzoo.list_cells():
            results["cells"][cell] = compare(cell, Path(tmp))
            print(cell, results["cells"][cell], flush=True)
        cells = streaming([Path(tmp) / f"{cell}-export" for cell in results["cells"]])
        for cell, row in results["cells"].items():
            row["streaming_T100"] = cells[f"{cell}-export"]
    results["shelf_streaming_T100"] = streaming([])
    results["int8"] = int8_comparison()
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
