"""Data larger than memory: a forecaster trained from the memory-mapped cache of a big CSV
against the same model on a small CSV read in memory.

    .venv/bin/python benchmarks/large_data.py [--values 200000000] [--max-steps 300]
        [--folder DIR] [--keep]

1. Writes a long-format CSV (``id,t,value``; 20 seasonal series of ``--values / 20`` steps;
   200 million values, about 4 GB, by default) into a temporary folder under ``--folder``
   (default: the system's; it needs room for the CSV and its cache, about 1.7x the CSV).
2. Converts it into the cache (``rnnzoo.data.cache.cached_series``) in a child process: the
   seconds, the child's peak resident memory, the cache's size.
3. Trains the same GRU forecaster (hidden 32, lookback 48, horizon 1, batch 256, ``--max-steps``
   steps, CPU) twice, each in its own ``rnnzoo train --quiet --json`` child: on the big file
   through the cache, and on a small file (20 series x 20,000 steps) in memory. Each child's
   peak resident memory comes from the kernel (``wait4``), its samples per second from the
   run's ``metrics.jsonl`` (the trainer's own number: the epoch's sequences over its seconds).
   The two alternate ``--repeat`` times; the best speed of each is compared (shared machines).

Goals: peak resident memory <= 2 GB on the big file, and its samples per second >= 0.8x the
small file's. Writes benchmarks/results/large_data.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "large_data.json"
SERIES, SMALL_STEPS = 20, 20_000
MODEL = ["--cell", "gru", "--hidden", "32", "--batch-size", "256", "--device", "cpu"]
READER = ["--param", "id=id", "--param", "time=t", "--param", "lookback=48"]
RSS_GOAL, SPEED_GOAL = 2 * 2**30, 0.8


def write_series(path: Path, series: int, steps: int, chunk: int = 2_000_000) -> None:
    """``series`` seasonal series (period 24, each its own level, noise) of ``steps`` steps
    each, as ``id,t,value`` rows sorted by id then time, written chunk by chunk."""
    schema = pa.schema([("id", pa.string()), ("t", pa.int64()), ("value", pa.float64())])
    rng = np.random.default_rng(0)
    options = pacsv.WriteOptions(quoting_style="none")
    with pacsv.CSVWriter(str(path), schema, write_options=options) as writer:
        for s in range(series):
            level = 10.0 * (s + 1)
            for start in range(0, steps, chunk):
                t = np.arange(start, min(steps, start + chunk))
                value = level * (1 + 0.3 * np.sin(2 * np.pi * t / 24))
                value += rng.normal(0, 0.05 * level, len(t))
                ids = pa.repeat(pa.scalar(f"s{s}"), len(t))
                writer.write_table(pa.table([ids, t, np.round(value, 3)], schema=schema))


def measured(command: list[str], env: dict[str, str]) -> dict[str, float]:
    """Run ``command``; its seconds and peak resident memory (the kernel's count for that
    child alone, from ``wait4``). A failure is raised with its stderr."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        child = subprocess.Popen(command, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode:
            err.seek(0)
            raise SystemExit(f"{' '.join(command)} failed:\n{err.read().decode()[-3000:]}")
    return {"seconds": round(seconds, 1), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1)}


def train(data: Path, out: Path, cache: str, max_steps: int, env: dict[str, str]) -> dict:
    command = [sys.executable, "-m", "rnnzoo", "train", "--task", "forecast", *MODEL, *READER]
    command += ["--data", str(data), "--param", f"cache={cache}", "--max-steps", str(max_steps)]
    result = measured([*command, "--out", str(out), "--quiet", "--json"], env)
    record = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])
    return {**result, "steps": record["step"], "samples_per_second": record["sequences_per_second"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--values", type=int, default=200_000_000, help="values in the big file")
    parser.add_argument("--max-steps", type=int, default=300, help="training steps of each run")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each (best speed kept)")
    parser.add_argument("--folder", default=None, help="where the temporary folder goes")
    parser.add_argument("--keep", action="store_true", help="keep the files (printed)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="rnnzoo-large-", dir=args.folder))
    env = {**os.environ, "RNNZOO_CACHE": str(folder / "cache")}
    big, small = folder / "big.csv", folder / "small.csv"
    try:
        start = time.perf_counter()
        write_series(big, SERIES, args.values // SERIES)
        written, csv_bytes = time.perf_counter() - start, big.stat().st_size
        write_series(small, SERIES, SMALL_STEPS)
        print(f"wrote {big} ({csv_bytes / 2**30:.2f} GiB) in {written:.0f} s", flush=True)
        build = measured(
            [
                sys.executable,
                "-c",
                "import sys; from rnnzoo.data.cache import cached_series; "
                "cached_series(sys.argv[1], id='id', time='t', progress=False)",
                str(big),
            ],
            env,
        )
        cache_bytes = sum(f.stat().st_size for f in (folder / "cache").rglob("*") if f.is_file())
        print(f"cache built in {build['seconds']} s ({cache_bytes / 2**30:.2f} GiB)", flush=True)
        runs: dict[str, list[dict]] = {"big": [], "small": []}
        for i in range(args.repeat):  # alternately: a busy spell slows both alike
            runs["small"].append(train(small, folder / f"small-{i}", "off", args.max_steps, env))
            print(f"small file, in memory: {runs['small'][-1]}", flush=True)
            runs["big"].append(train(big, folder / f"big-{i}", "on", args.max_steps, env))
            print(f"big file, from the cache: {runs['big'][-1]}", flush=True)
    finally:
        if args.keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    large, memory = (max(r, key=lambda run: run["samples_per_second"]) for r in runs.values())
    peak = max(run["peak_rss_mb"] for run in runs["big"])
    ratio = large["samples_per_second"] / memory["samples_per_second"]
    results = {
        "machine": machine(),
        "setup": {
            "values": args.values,
            "series": SERIES,
            "small_values": SERIES * SMALL_STEPS,
            "model": "gru, hidden 32, lookback 48, horizon 1, batch 256, cpu",
            "max_steps": args.max_steps,
        },
        "csv": {"bytes": csv_bytes, "write_seconds": round(written, 1)},
        "build": {**build, "cache_bytes": cache_bytes},
        "big_from_cache": runs["big"],
        "small_in_memory": runs["small"],
        "big_peak_rss_mb": peak,
        "speed_ratio": round(ratio, 3),
        "goals": {
            "peak_rss_at_most_2gb": peak * 2**20 <= RSS_GOAL,
            "speed_ratio_at_least_0.8": ratio >= SPEED_GOAL,
        },
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"samples/s from the cache / in memory: {ratio:.2f}x (goal >= {SPEED_GOAL}x)")
    print(f"peak RSS from the cache: {peak:,.0f} MB (goal <= 2048 MB)")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
