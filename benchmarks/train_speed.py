"""Training speed on this machine, side by side in one run (ratios, not absolute numbers).

    .venv/bin/python benchmarks/train_speed.py

1. `rnnzoo`'s trainer against a hand-written PyTorch loop of the same model (2 × 128 LSTM or
   GRU, linear head, Adam, gradient clipping, batch 128) on the same Fashion-MNIST tensors
   (rows as 28 steps), for lstm and gru: sequences per second. Goal: rnnzoo >= 1.0x.
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
    """Sequences per second of `rnnzoo.trainer.train`'s epoch (evaluation excluded)."""
    with tempfile.TemporaryDirectory() as tmp:
        config = config_with_defaults(
            "seqmnist",
            cell,
            hidden=HIDDEN,
            layers=LAYERS,
            bidirectional=False,
            epochs=1,
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


def step_path_cost(cell: str, repeats: int = 7) -> dict[str, float]:
    """Seconds per forward + backward batch: the fused kernel, the step loop, and the step
    loop through ``torch.compile`` (as ``--compile`` trains), same weights; compile time apart."""
    torch.manual_seed(0)
    stack = rnnzoo.create_recurrent(cell, 28, HIDDEN, num_layers=LAYERS)
    x = torch.randn(BATCH, 28, 28)

    def timed(module: torch.nn.Module) -> float:
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            module(x)[0].sum().backward()
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    fused = None
    if stack.cells[0].has_fused:
        stack.fused = True
        fused = timed(stack)
    stack.fused = False
    step = timed(stack)
    compiled = compiling.compiled(stack, stack)
    start = time.perf_counter()
    compiled(x)[0].sum().backward()
    compile_seconds = time.perf_counter() - start
    step_compiled = timed(compiled)
    return {
        "fused_seconds": fused and round(fused, 4),
        "step_seconds": round(step, 4),
        "step_compiled_seconds": round(step_compiled, 4),
        "compile_seconds": round(compile_seconds, 1),
        "step_over_fused": fused and round(step / fused, 3),
        "fused_over_compiled": fused and round(fused / step_compiled, 3),
    }


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
    for cell in rnnzoo.list_cells():
        results["step_path"][cell] = step_path_cost(cell)
        print(cell, results["step_path"][cell], flush=True)
    gru = results["step_path"]["gru"]["fused_seconds"]
    results["compiled_vs_fused_gru"] = {  # sequences/s ratio: the goal is >= 1.3 for mgu
        cell: round(gru / r["step_compiled_seconds"], 3) for cell, r in results["step_path"].items()
    }
    print("compiled step loop vs fused GRU (speed ratio)", results["compiled_vs_fused_gru"])
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
