"""The modern cells beside the GRU and the LSTM: training speed at T = 784, streaming on
onnxruntime, and accuracy on the tasks that show what they are for, side by side in one run.

    .venv/bin/python benchmarks/modern_cells.py [--parts speed,streaming,accuracy]
        [--cells gru,lstm,mingru,...] [--tasks parity,selective-copy,...] [--max-steps N]

- ``speed``: one layer of 128 units, batch 32, T = 784, one input feature, forward and backward,
  one thread; sequences per second of each cell in each of its forms (the fused kernel, the step
  loop, the scan), the fastest of 5 interleaved rounds, as a ratio to the fused ``nn.GRU``.
- ``streaming``: a one-layer 128-unit sine model of each cell (random weights: timing only),
  exported and streamed by ``benchmarks/streaming.py`` in a process without PyTorch: one step
  against re-running the last 100 samples.
- ``accuracy``: ``rnnzoo train`` of each cell on each task with the same number of optimiser
  steps (``--max-steps``) and the task's defaults, hidden 64; the test metrics and the seconds.

Writes benchmarks/results/modern_cells.json with the machine and the commit.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "modern_cells.json"
CELLS = ["gru", "lstm", "mingru", "minlstm", "lru", "slstm", "mlstm", "indrnn"]
TASKS = ["parity", "selective-copy", "recall", "sine", "reber", "mnist1d"]
FORMS = {"mingru": ["loop", "scan"], "minlstm": ["loop", "scan"]}  # cells with a scan


def speed(cells: list[str], batch: int = 32, hidden: int = 128, steps: int = 784) -> dict:
    import torch

    from rnnzoo.recurrent import Recurrent

    torch.set_num_threads(1)
    x = torch.randn(batch, steps, 1)
    stacks = {}
    for cell in cells:
        for form in FORMS.get(cell, ["fused" if cell in ("gru", "lstm") else "loop"]):
            params = {"parallel": form} if cell in FORMS else {}
            torch.manual_seed(0)
            stacks[f"{cell}/{form}"] = Recurrent(cell, 1, hidden, fused=form != "loop", **params)
    seconds: dict[str, list[float]] = {name: [] for name in stacks}
    for _ in range(5):  # interleaved rounds: a shared machine's noise hits every cell alike
        for name, stack in stacks.items():
            start = time.perf_counter()
            y, _ = stack(x)
            y.square().mean().backward()
            seconds[name].append(time.perf_counter() - start)
    base = min(seconds["gru/fused"]) if "gru/fused" in seconds else None
    return {
        name: {
            "sequences_per_second": round(batch / min(times), 1),
            "vs_fused_gru": round(base / min(times), 3) if base else None,
        }
        for name, times in seconds.items()
    }


def streaming(cells: list[str], folder: Path) -> dict:
    import torch

    from rnnzoo.checkpoint import save_weights
    from rnnzoo.export import ExportError, export_run
    from rnnzoo.families.base import family_of
    from rnnzoo.registry import create_task
    from rnnzoo.rundir import RunDir, TrainConfig

    exports, refused = [], {}
    for cell in cells:
        config = TrainConfig(task="sine", cell=cell, hidden=128, task_params={"n_train": 64})
        task = create_task("sine", config.task_params)
        torch.manual_seed(0)
        run = RunDir(folder / f"run-{cell}")
        run.write_config(config)
        save_weights(run.weights_path, family_of(task).build(task, config))
        try:
            exports.append(export_run(run.path, folder / cell, runtimes=["onnxruntime"]).out)
        except ExportError as error:  # random weights at 128 units: say so, go on
            refused[cell] = {"export_refused": str(error)}
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "streaming.py"), *map(str, exports)],
        capture_output=True,
        text=True,
        check=True,
    )
    return {**json.loads(result.stdout), **refused}


def accuracy(
    cells: list[str], tasks: list[str], max_steps: int, folder: Path, save: Callable[[dict], None]
) -> dict:
    """Each run's result is saved as it comes (``save``): the whole grid takes hours."""
    out: dict[str, dict] = {}
    for task in tasks:
        for cell in cells:
            command = [sys.executable, "-m", "rnnzoo", "train", "--task", task, "--cell", cell]
            command += ["--hidden", "64", "--max-steps", str(max_steps), "--epochs", "1000"]
            command += ["--device", "cpu", "--out", str(folder / f"{task}-{cell}"), "--quiet"]
            command += ["--json"]
            start = time.perf_counter()
            result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
            seconds = round(time.perf_counter() - start, 1)
            if result.returncode:
                out.setdefault(task, {})[cell] = {"error": result.stderr.strip()[-300:]}
                save(out)
                continue
            summary = json.loads(result.stdout)
            out.setdefault(task, {})[cell] = {"test": summary["test"], "seconds": seconds}
            print(task, cell, summary["test"], f"{seconds} s", file=sys.stderr)
            save(out)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="speed,streaming,accuracy")
    parser.add_argument("--cells", default=",".join(CELLS))
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--max-steps", type=int, default=300)
    args = parser.parse_args()
    cells, parts = args.cells.split(","), args.parts.split(",")
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results["speed_setup"] = (
        "1 layer x 128, batch 32, T = 784, 1 feature, forward + backward, 1 thread"
    )

    def save(part: str, value: dict) -> None:
        """Each part with the machine and commit it ran on (parts run at different times)."""
        results[part] = value
        results.setdefault("machines", {})[part] = machine()
        RESULTS.parent.mkdir(exist_ok=True)
        RESULTS.write_text(json.dumps(results, indent=1) + "\n")

    with tempfile.TemporaryDirectory() as folder:
        if "speed" in parts:
            save("speed", speed(cells))
            print(json.dumps(results["speed"], indent=1), file=sys.stderr)
        if "streaming" in parts:
            save("streaming", streaming(cells, Path(folder)))
            print(json.dumps(results["streaming"], indent=1), file=sys.stderr)
        if "accuracy" in parts:
            setup = {"max_steps": args.max_steps, "hidden": 64}
            tasks = args.tasks.split(",")
            before = results.get("accuracy", {})  # runs of other cells and tasks, same setup
            kept = (
                before.get("tasks", {}) if all(before.get(k) == v for k, v in setup.items()) else {}
            )

            def partial(out: dict) -> None:
                merged = {
                    task: {**kept.get(task, {}), **out.get(task, {})} for task in {*kept, *out}
                }
                save("accuracy", {**setup, "tasks": merged})

            accuracy(cells, tasks, args.max_steps, Path(folder), partial)
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
