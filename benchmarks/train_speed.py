"""Training speed on this machine, side by side in one run (ratios, not absolute numbers).

    .venv/bin/python benchmarks/train_speed.py

1. `rnnzoo`'s trainer against a hand-written PyTorch loop of the same model (2 × 128 LSTM or
   GRU, linear head, Adam, gradient clipping, batch 128) on the same Fashion-MNIST tensors
   (rows as 28 steps), for lstm and gru: sequences per second of the second epoch of each
   (both warm). Goal: rnnzoo >= 1.0x.
2. The step-by-step path (a Python loop over `cell.step`), eager and through `torch.compile`
   (what `--compile` trains), against the fused kernel of the built-in cells and against the
   fused GRU for every cell (the MGU plugin has no fused kernel): forward + backward time per
   batch, after warm-up; compile time apart. Goals: MGU compiled >= 1.3x the fused GRU's
   speed; each built-in compiled >= 1.0x its own fused kernel.

Writes benchmarks/results/train_speed.json.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine  # noqa: E402

import rnnzoo  # noqa: E402
from rnnzoo.registry import create_task  # noqa: E402
from rnnzoo.rundir import RunDir, config_with_defaults  # noqa: E402
from rnnzoo.trainer import compiling, train  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "train_speed.json"
BATCH, HIDDEN, LAYERS, EXAMPLES, ROUNDS = 128, 128, 2, 128 * 40, 3


def rnnzoo_speed(cell: str) -> float:
    """Sequences per second of `rnnzoo.trainer.train`'s second epoch (evaluation excluded):
    the first pays for creating the kernels of each shape once, which a hand loop run later
    in the same process would not, so both sides are timed warm."""
    with tempfile.TemporaryDirectory() as tmp:
        config = config_with_defaults(
            "seqmnist",
            cell,
            hidden=HIDDEN,
            layers=LAYERS,
            bidirectional=False,
            epochs=2,
            batch_size=BATCH,
            lr=1e-3,
            schedule="constant",
            task_params={"limit": EXAMPLES + 1000, "validation_size": 1000},
        )
        train(config, tmp, quiet=True)
        record = json.loads(RunDir(tmp).metrics_path.read_text().splitlines()[-1])
        return record["sequences_per_second"]


def hand_written_speed(cell: str) -> float:
    """The same model and data in a plain PyTorch loop."""
    task = create_task("seqmnist", {"limit": EXAMPLES + 1000, "validation_size": 1000})
    train_split = task.load()["train"]
    torch.manual_seed(0)
    rnn_class = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell]
    rnn = rnn_class(28, HIDDEN, num_layers=LAYERS, batch_first=True)
    head = torch.nn.Linear(HIDDEN, 10)
    parameters = [*rnn.parameters(), *head.parameters()]
    optimizer = torch.optim.Adam(parameters, lr=1e-3)
    x, y = train_split.x, train_split.y
    for _ in range(2):  # the second epoch is timed, as the trainer's
        start = time.perf_counter()
        order = torch.randperm(len(x))
        for i in range(0, len(x), BATCH):
            index = order[i : i + BATCH]
            out, _ = rnn(x[index])
            loss = torch.nn.functional.cross_entropy(head(out[:, -1]), y[index])
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(parameters, 1.0)
            optimizer.step()
    return len(x) / (time.perf_counter() - start)


def step_paths(rounds: int = 15) -> dict[str, dict[str, float]]:
    """Seconds per forward + backward batch of each cell's fused kernel, step loop, and step
    loop through ``torch.compile`` (what ``--compile`` trains for a cell without a fused
    kernel), same weights, compile time apart. Every variant is built (and compiled) first,
    then all are timed in interleaved rounds, so that each ratio compares numbers taken under
    the same machine load."""
    x = torch.randn(BATCH, 28, 28)
    variants: dict[tuple[str, str], torch.nn.Module] = {}
    compile_seconds = {}
    for cell in rnnzoo.list_cells():
        torch.manual_seed(0)
        for path in ("fused", "step", "step_compiled"):
            stack = rnnzoo.create_recurrent(cell, 28, HIDDEN, num_layers=LAYERS)
            if path == "fused" and not stack.cells[0].has_fused:
                continue
            stack.fused = path == "fused"
            if path == "step_compiled":
                stack = compiling.compiled(stack)
                start = time.perf_counter()
                stack(x)[0].sum().backward()
                compile_seconds[cell] = round(time.perf_counter() - start, 1)
            variants[cell, path] = stack
    times: dict[tuple[str, str], list[float]] = {key: [] for key in variants}
    for _ in range(rounds):
        for key, module in variants.items():
            start = time.perf_counter()
            module(x)[0].sum().backward()
            times[key].append(time.perf_counter() - start)
    median = {key: statistics.median(values) for key, values in times.items()}
    gru = median["gru", "fused"]
    results = {}
    for cell in rnnzoo.list_cells():
        fused = median.get((cell, "fused"))
        step, compiled = median[cell, "step"], median[cell, "step_compiled"]
        # what --compile trains: a built-in keeps its fused kernel, a plugin's cell compiles
        trained = fused if fused is not None else compiled
        results[cell] = {
            "fused_ms": fused and round(1e3 * fused, 2),
            "step_ms": round(1e3 * step, 2),
            "step_compiled_ms": round(1e3 * compiled, 2),
            "compile_seconds": compile_seconds[cell],
            "step_compiled_over_step": round(compiled / step, 3),
            "step_compiled_over_fused": fused and round(compiled / fused, 3),
            "compile_flag_speed_vs_fused_gru": round(gru / trained, 3),
        }
    return results


def main() -> None:
    torch.set_num_threads(torch.get_num_threads())
    results = {
        "machine": machine(),
        "setup": f"seqmnist (Fashion-MNIST) {EXAMPLES} sequences, "
        f"{LAYERS} x {HIDDEN}, batch {BATCH}, {ROUNDS} alternating rounds, median",
        "trainer_vs_hand_written": {},
        "step_path": {},
    }
    for cell in ("lstm", "gru"):
        ours, theirs = [], []
        for _ in range(ROUNDS):  # alternate, so both see the same machine load
            ours.append(rnnzoo_speed(cell))
            theirs.append(hand_written_speed(cell))
        a, b = statistics.median(ours), statistics.median(theirs)
        results["trainer_vs_hand_written"][cell] = {
            "rnnzoo_sequences_per_second": round(a, 1),
            "hand_written_sequences_per_second": round(b, 1),
            "ratio": round(a / b, 3),
        }
        print(cell, results["trainer_vs_hand_written"][cell], flush=True)
    results["step_path"] = step_paths()
    for cell, result in results["step_path"].items():
        print(cell, result, flush=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
