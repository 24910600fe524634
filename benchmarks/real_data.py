"""rnnzoo on real archive data against the best non-recurrent tools, side by side in one run.

    .venv/bin/pip install -e ".[bench]"          # aeon (the data, MiniRocket, DTW), statsforecast
    .venv/bin/python benchmarks/real_data.py [--seeds 3] [NAME ...]   (every data set when none)

The files are the ones bundled in the installed ``aeon`` package; nothing is downloaded.
Classification: each UCR/UEA set's standard TRAIN/TEST split, rnnzoo's ``classify`` task with
its default recipe (``rnnzoo train --task classify --cell gru --data X_TRAIN.ts``) against
aeon's MiniRocket and 1-NN DTW, each with one thread. Forecasting: Airline (last 24 months
held out, season 12) and the M1 yearly set (181 series, horizon 6) with rnnzoo's ``forecast``
task (one global model) against statsforecast's AutoETS, AutoARIMA, AutoTheta and the
(seasonal) naive forecast, all scored by the same MASE (in-sample seasonal naive scale).

Writes benchmarks/results/real_data.json (merged with earlier results of other data sets)
with the machine and the commit, and prints a table with mean and spread over seeds.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "real_data.json"

# data set -> rnnzoo options beyond the task's defaults (none: the default recipe)
CLASSIFICATION = {
    "GunPoint": [],
    "ItalyPowerDemand": [],
    "ArrowHead": [],
    "OSULeaf": [],
    # durations and periods carry ACSF1's classes: time warping wrecks it (0.34 in research)
    "ACSF1": ["--param", "augment=scale,jitter"],
    "BasicMotions": [],
}
FORECASTING = {
    "Airline": {
        "file": "airline.csv",
        "horizon": 24,
        "season": 12,
        "options": ["--param", "time=Date", "--param", "lookback=36", "--param", "min_history=24",
                    "--hidden", "64", "--epochs", "600", "--batch-size", "128"],
    },
    "M1yearly": {
        "file": "m1_yearly_dataset.tsf",
        "horizon": 6,
        "season": 1,
        "options": ["--param", "lookback=20", "--param", "min_history=2", "--hidden", "32",
                    "--epochs", "40", "--batch-size", "128", "--lr", "2e-3"],
    },
}  # fmt: skip


def aeon_data() -> Path:
    import aeon

    return Path(aeon.__file__).parent / "datasets" / "data"


def rnnzoo_train(args: list[str], seed: int, folder: Path) -> tuple[dict, float]:
    """One ``rnnzoo train`` in a subprocess; its summary and wall seconds."""
    out = folder / f"run-{seed}"
    command = [sys.executable, "-m", "rnnzoo", "train", *args, "--seed", str(seed)]
    command += ["--out", str(out), "--overwrite", "--quiet", "--json"]
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if result.returncode:
        raise SystemExit(f"rnnzoo failed: {' '.join(command)}\n{result.stderr}")
    return json.loads(result.stdout), time.perf_counter() - start


def spread(values: list[float]) -> dict[str, float]:
    return {"mean": float(np.mean(values)), "std": float(np.std(values)), "runs": values}


def classification(name: str, seeds: int, folder: Path) -> dict:
    from aeon.classification.convolution_based import MiniRocketClassifier
    from aeon.classification.distance_based import KNeighborsTimeSeriesClassifier
    from aeon.datasets import load_classification

    train_file = aeon_data() / name / f"{name}_TRAIN.ts"
    args = ["--task", "classify", "--cell", "gru", "--data", str(train_file)]
    args += CLASSIFICATION[name]
    rnn, rnn_seconds = [], []
    for seed in range(seeds):
        summary, seconds = rnnzoo_train(args, seed, folder)
        rnn.append(summary["test"]["accuracy"])
        rnn_seconds.append(seconds)
    x_train, y_train = load_classification(name, split="train")
    x_test, y_test = load_classification(name, split="test")
    peers = {}
    for peer, make in {
        "minirocket": lambda seed: MiniRocketClassifier(n_jobs=1, random_state=seed),
        "1nn_dtw": lambda seed: KNeighborsTimeSeriesClassifier(distance="dtw", n_jobs=1),
    }.items():
        scores, seconds = [], []
        for seed in range(seeds if peer == "minirocket" else 1):  # DTW is deterministic
            start = time.perf_counter()
            model = make(seed).fit(x_train, y_train)
            scores.append(float((model.predict(x_test) == y_test).mean()))
            seconds.append(time.perf_counter() - start)
        peers[peer] = {**spread(scores), "seconds": float(np.mean(seconds))}
    return {
        "kind": "classification",
        "metric": "accuracy",
        "command": "rnnzoo train "
        + " ".join(a.replace(str(aeon_data()), "AEON_DATA") for a in args),
        "rnnzoo": {**spread(rnn), "seconds": float(np.mean(rnn_seconds))},
        **peers,
    }


def mase(history: np.ndarray, truth: np.ndarray, forecast: np.ndarray, season: int) -> float:
    lag = season if len(history) > season else 1
    scale = np.mean(np.abs(history[lag:] - history[:-lag]))
    return float(np.mean(np.abs(truth - forecast)) / (scale if scale > 0 else 1.0))


def forecast_file(name: str) -> Path:
    if name == "Airline":
        return airline_csv()
    return aeon_data() / "m1_yearly_dataset" / FORECASTING[name]["file"]


def series_of(name: str) -> list[np.ndarray]:
    from rnnzoo.data import read_series

    series = read_series(forecast_file(name), time="Date" if name == "Airline" else "")
    bounds = zip(series.offsets[:-1], series.offsets[1:])
    return [series.values[a:b, 0].astype(np.float64) for a, b in bounds]


def airline_csv() -> Path:
    """aeon's Airline series as a CSV of months and passengers (what a user would have)."""
    from aeon.datasets import load_airline

    path = Path(tempfile.gettempdir()) / "rnnzoo-airline.csv"
    values = load_airline()
    months = [f"{1949 + i // 12}-{i % 12 + 1:02d}" for i in range(len(values))]
    path.write_text("Date,Passengers\n" + "".join(f"{m},{v:g}\n" for m, v in zip(months, values)))
    return path


def forecasting(name: str, seeds: int, folder: Path) -> dict:
    import pandas as pd
    from statsforecast import StatsForecast
    from statsforecast.models import AutoARIMA, AutoETS, AutoTheta, Naive, SeasonalNaive

    spec = FORECASTING[name]
    horizon, season = spec["horizon"], spec["season"]
    args = ["--task", "forecast", "--cell", "gru", "--data", str(forecast_file(name))]
    args += ["--param", f"horizon={horizon}", "--param", f"season={season}", *spec["options"]]
    rnn, rnn_seconds = [], []
    for seed in range(seeds):
        summary, seconds = rnnzoo_train(args, seed, folder)
        rnn.append(summary["test"]["mase"])
        rnn_seconds.append(seconds)
    series = series_of(name)
    frame = pd.concat(
        pd.DataFrame({"unique_id": i, "ds": np.arange(len(s) - horizon), "y": s[:-horizon]})
        for i, s in enumerate(series)
    )
    models = [
        *(model(season_length=season) for model in (AutoETS, AutoARIMA, AutoTheta, SeasonalNaive)),
        Naive(),
    ]
    start = time.perf_counter()
    forecast = StatsForecast(models=models, freq=1, n_jobs=1).forecast(df=frame, h=horizon)
    seconds = time.perf_counter() - start
    peers = {}
    for column in ("AutoETS", "AutoARIMA", "AutoTheta", "SeasonalNaive", "Naive"):
        scores = [
            mase(
                s[:-horizon], s[-horizon:], forecast[forecast.unique_id == i][column].values, season
            )
            for i, s in enumerate(series)
        ]
        peers[column] = {"mean": float(np.mean(scores)), "seconds": seconds}
    return {
        "kind": "forecasting",
        "metric": "mase",
        "command": "rnnzoo train "
        + " ".join(a.replace(str(aeon_data()), "AEON_DATA") for a in args),
        "rnnzoo": {**spread(rnn), "seconds": float(np.mean(rnn_seconds))},
        **peers,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="data sets (default: all)")
    parser.add_argument("--seeds", type=int, default=3)
    options = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # peers with one thread, as in TARGETS.md
    names = options.names or [*CLASSIFICATION, *FORECASTING]
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {"datasets": {}}
    with tempfile.TemporaryDirectory() as folder:
        for name in names:
            print(f"running {name} ...", flush=True)
            run = classification if name in CLASSIFICATION else forecasting
            results["datasets"][name] = {
                **run(name, options.seeds, Path(folder)),
                "machine": machine(),
            }
            RESULTS.parent.mkdir(parents=True, exist_ok=True)
            RESULTS.write_text(json.dumps(results, indent=2) + "\n")
            r = results["datasets"][name]
            peers = {
                k: round(v["mean"], 3) for k, v in r.items() if isinstance(v, dict) and "mean" in v
            }
            print(f"{name} ({r['metric']}): {peers}; rnnzoo ±{r['rnnzoo']['std']:.3f} in "
                  f"{r['rnnzoo']['seconds']:.0f} s per run", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
