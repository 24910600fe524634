"""Training on a busy machine: the README's main job (``rnnzoo train --task sine --cell lstm``,
cut to ``--max-steps 300`` so that the slow case ends) with PyTorch's default threads (one per
core: what rnnzoo did before ``--threads``), one thread, and rnnzoo's choice (``auto``: the
free cores), on an idle machine and beside two busy processes (pure-Python loops, one per
core's worth of load), side by side in one run. The load average is given time to show the
load before the loaded runs start (auto reads it).

    .venv/bin/python benchmarks/busy_machine.py

Writes benchmarks/results/busy_machine.json with the machine, and prints the table. Goals
(issue 29): loaded, auto ≤ 1.5× one thread's time; idle, auto no slower than the default.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from machine import machine  # noqa: E402

JOB = ["--task", "sine", "--cell", "lstm", "--max-steps", "300", "--quiet", "--overwrite"]
CORES = len(os.sched_getaffinity(0))
SETTINGS = {"default": ["--threads", str(CORES)], "1 thread": ["--threads", "1"], "auto": []}


def seconds(extra: list[str], out: Path) -> float:
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "rnnzoo", "train", *JOB, *extra, "--out", str(out)],
                   check=True, env=env, cwd=ROOT)  # fmt: skip
    return round(time.perf_counter() - started, 1)


def busy(n: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]


def main() -> None:
    results: dict[str, dict[str, float]] = {"idle": {}, "two busy processes": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for name, extra in SETTINGS.items():
            results["idle"][name] = seconds(extra, Path(tmp) / "run")
        load = busy(2)
        try:
            time.sleep(75)  # the one-minute load average catches up
            for name, extra in SETTINGS.items():
                results["two busy processes"][name] = seconds(extra, Path(tmp) / "run")
        finally:
            for p in load:
                p.kill()
    ratios = {
        "loaded auto / loaded 1 thread": round(
            results["two busy processes"]["auto"] / results["two busy processes"]["1 thread"], 2
        ),
        "loaded default / loaded 1 thread": round(
            results["two busy processes"]["default"] / results["two busy processes"]["1 thread"],
            2,
        ),
        "idle auto / idle default": round(results["idle"]["auto"] / results["idle"]["default"], 2),
    }
    for condition, found in results.items():
        print(condition, found)
    print(ratios)
    out = ROOT / "benchmarks" / "results" / "busy_machine.json"
    out.write_text(json.dumps({"machine": machine(), "job": JOB, "seconds": results,
                               "ratios": ratios}, indent=1) + "\n")  # fmt: skip
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
