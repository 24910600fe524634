"""Accuracy of rnnzoo's recipes on real data, with wall time on this machine.

    .venv/bin/python benchmarks/accuracy.py [NAME ...]     (every recipe when none is named)

Writes benchmarks/results/accuracy.json (merged with earlier results of other recipes) and
prints a table. Each recipe is an `rnnzoo train` command, shown in the results.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine  # noqa: E402

from rnnzoo.rundir import RunDir  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "accuracy.json"

RECIPES = {
    "sine": {
        "args": "--task sine --cell gru --hidden 100 --epochs 40 --lr 3e-3 --schedule onecycle",
        "metric": "mse",
        "goal": "all-step MSE <= 0.037 (floor ~0.036), MSE from step 3 <= 0.001",
        "reference": "textbook notebook ~0.042 training MSE after 1500 iterations",
    },
    "mnist1d": {
        "args": "--task mnist1d --cell gru --hidden 128 --layers 2 --bidirectional --epochs 60 "
        "--dropout 0.3",
        "metric": "accuracy",
        "goal": ">= 0.99 (TARGETS), >= 0.95 (issue)",
        "reference": "MNIST-1D paper: GRU 0.91, CNN 0.94, human 0.96",
    },
    "fashion": {
        "args": "--task seqmnist --cell gru --hidden 128 --layers 2 --bidirectional "
        "--dropout 0.2 --epochs 14 --batch-size 128 --lr 3e-3 --schedule onecycle",
        "metric": "accuracy",
        "goal": ">= 0.93 (TARGETS), >= 0.92 (issue)",
        "reference": "Fashion-MNIST benchmark table: GRU+SVM 0.888, with dropout 0.897",
    },
    "reber": {
        "args": "--task reber --cell gru --hidden 30 --epochs 20 --lr 3e-3",
        "metric": "accuracy",
        "goal": "1.000, in fewer epochs than the notebook's 17 (GRU, 30 units)",
        "reference": "companion notebook: 100 % validation from epoch 17 of 50",
    },
    "rain": {
        "args": "--task rain --cell lstm --hidden 64 --layers 2 --epochs 15",
        "metric": "mae",
        "goal": "MAE <= 0.85x Marshall-Palmer on the generated test split",
        "reference": "Marshall-Palmer (the competition's sample solution)",
    },
    "video": {
        "args": "--task video --cell gru --hidden 64 --epochs 8",
        "metric": "accuracy",
        "goal": ">= 0.99 against the single-frame CNN baseline (~chance, 0.25)",
        "reference": "same CNN on the middle frame",
    },
    "dates": {
        "args": "--task dates --cell gru --hidden 128 --epochs 12 --lr 3e-3 --schedule onecycle",
        "metric": "exact_match",
        "goal": "exact match >= 0.999 (encoder-decoder)",
        "reference": "most frequent character per position",
    },
    "dates-seq2seq": {
        "args": "--task dates-seq2seq --cell gru --hidden 128 --epochs 12 "
        "--lr 3e-3 --schedule onecycle",
        "metric": "exact_match",
        "goal": "the comparison: a plain aligned seq2seq RNN on the same split and budget",
        "reference": "most frequent character per position",
    },
    "caption": {
        "args": "--task caption --cell gru --hidden 128 --epochs 10 --lr 2e-3 --schedule onecycle",
        "metric": "exact_match",
        "goal": "exact match >= 0.95",
        "reference": "most frequent word per position",
    },
    "caption-distinct": {
        "args": "--task caption --param classes=trouser,pullover,dress,sandal,bag --cell gru "
        "--hidden 128 --epochs 10 --lr 2e-3 --schedule onecycle",
        "metric": "exact_match",
        "goal": "exact match >= 0.95 with five classes none of which Fashion-MNIST confuses",
        "reference": "most frequent word per position",
    },
}


def first_epoch_at(out: Path, key: str, value: float) -> int | None:
    for line in RunDir(out).metrics_path.read_text().splitlines():
        record = json.loads(line)
        if record[key] >= value:
            return record["epoch"]
    return None


def run(name: str) -> dict:
    recipe = RECIPES[name]
    out = ROOT / "runs" / f"bench-{name}"
    command = f"rnnzoo train {recipe['args']} --seed 0 --out {out} --json --quiet"
    subprocess.run(["rm", "-rf", str(out)], check=True)
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "rnnzoo", *shlex.split(command)[1:]],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    wall = time.perf_counter() - start
    if result.returncode:
        raise SystemExit(f"{name} failed: {result.stderr}")
    summary = json.loads(result.stdout)
    extra = {}
    if name == "reber":
        extra["first_epoch_with_validation_accuracy_1"] = first_epoch_at(
            out, "validation_accuracy", 1.0
        )
    return {
        **extra,
        "command": command.replace(str(ROOT) + "/", ""),
        "wall_seconds": round(wall, 1),
        "epochs": summary["epochs"],
        "best_epoch": summary["best_epoch"],
        "test": summary["test"],
        "baseline_test": summary["baseline_test"],
        "goal": recipe["goal"],
        "reference": recipe["reference"],
    }


def main(names: list[str]) -> None:
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {"recipes": {}}
    for name in names or list(RECIPES):
        print(f"running {name} ...", flush=True)
        results["recipes"][name] = {**run(name), "machine": machine()}
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(results, indent=2) + "\n")
        r = results["recipes"][name]
        print(f"{name}: test {r['test']} baseline {r['baseline_test']} in {r['wall_seconds']} s")


if __name__ == "__main__":
    main(sys.argv[1:])
