"""The tasks over a user's files — classify, regress, forecast: their splits, metrics and
baselines, training from the command line, export, and `rnnzoo predict` on a file of the
training data's format through the torch-free runtime."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from rnnzoo.registry import create_task
from rnnzoo.tasks.classify import class_scores
from rnnzoo.tasks.forecast import seasonal_scale

DATA = Path(__file__).parent / "data"


def rnnzoo(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rnnzoo", *args], capture_output=True, text=True, cwd=cwd
    )


def long_csv(path: Path, n: int = 60, steps: int = 20, seed: int = 0) -> Path:
    """Sequences in long format (id, time, two features, label): the label is the sign of a
    bump in the first feature; rows shuffled, so the reader must group and sort them."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        label = ["down", "up"][i % 2]
        bump = 1.5 if label == "up" else -1.5
        for t in range(steps):
            a = rng.normal(0, 0.3) + (bump if 5 <= t < 12 else 0)
            rows.append([f"s{i}", t, f"{a:.4f}", f"{rng.normal():.4f}", label])
    rng.shuffle(rows)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "time", "a", "b", "label"])
        writer.writerows(rows)
    return path


def series_csv(path: Path, lengths=(80, 60, 70)) -> Path:
    """Seasonal series of very different levels, long format with a date column."""
    rng = np.random.default_rng(1)
    rows = []
    for name, level, n in zip(("x", "y", "z"), (5.0, 500.0, 50000.0), lengths):
        for t in range(n):
            value = level * (1 + 0.3 * np.sin(2 * np.pi * t / 6)) + rng.normal(0, level * 0.01)
            rows.append([name, f"2020-01-{1 + t % 28:02d}T{t // 28:02d}:00", f"{value:.3f}"])
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["store", "when", "sales"])
        writer.writerows(rows)
    return path


# ---------------------------------------------------------------- metrics and splits


def test_class_scores_match_definitions():
    target = torch.tensor([0, 0, 0, 1, 2, 2])
    guess = torch.tensor([0, 0, 1, 1, 2, 0])
    scores = class_scores(guess, target, 3)
    assert scores["accuracy"] == pytest.approx(4 / 6)
    assert scores["balanced_accuracy"] == pytest.approx((2 / 3 + 1 + 1 / 2) / 3)
    f1 = [2 * (2 / 3) * (2 / 3) / (4 / 3), 2 * 0.5 * 1 / 1.5, 2 * 1 * 0.5 / 1.5]
    assert scores["macro_f1"] == pytest.approx(np.mean(f1))


def test_seasonal_scale_is_the_in_sample_seasonal_naive_error():
    history = np.array([[1.0], [2.0], [4.0], [1.0], [3.0], [np.nan], [2.0]])
    # lag 3: |1-1|, |3-2|, |nan-4| (skipped), |2-1|
    assert seasonal_scale(history, 3)[0] == pytest.approx((0 + 1 + 1) / 3)
    assert seasonal_scale(history[:3], 3)[0] == pytest.approx(1.5)  # too short: naive
    assert seasonal_scale(np.ones((5, 1)), 1)[0] == 1.0  # constant: 1, not a division by 0


def test_classify_long_csv_splits_are_stratified_and_seeded(tmp_path):
    data = long_csv(tmp_path / "train.csv")
    params = {"data": str(data), "time": "time", "validation": 0.25, "test": 0.2}
    task = create_task("classify", params)
    splits = task.load()
    assert task.labels == ["down", "up"] and task.channels == ["a", "b"]
    assert [len(splits[s]) for s in ("train", "validation", "test")] == [36, 12, 12]
    for split in splits.values():  # stratified: both classes in equal shares
        assert torch.bincount(split.y).tolist() == [len(split) // 2] * 2
    again = create_task("classify", params).load()
    assert torch.equal(again["test"].x, splits["test"].x)
    other = create_task("classify", {**params, "seed": 7}).load()
    assert not torch.equal(other["test"].x, splits["test"].x)


def test_ucr_test_file_found_beside_the_training_file():
    task = create_task("classify", {"data": str(DATA / "GunPoint_TRAIN.ts")})
    splits = task.load()
    assert task.data_files()[1].name == "GunPoint_TEST.ts"
    assert len(splits["test"]) == len(task._files["test"].x)
    # by default every training case trains and the best epoch is picked on them
    assert len(splits["train"]) == len(task._files["train"].x)
    assert torch.equal(splits["validation"].x, splits["train"].x)
    held = create_task("classify", {"data": str(DATA / "GunPoint_TRAIN.ts"), "validation": 0.2})
    held_splits = held.load()
    assert len(held_splits["train"]) + len(held_splits["validation"]) == len(splits["train"])


def test_forecast_splits_by_time_without_leakage(tmp_path):
    data = series_csv(tmp_path / "sales.csv")
    task = create_task(
        "forecast",
        {"data": str(data), "id": "store", "time": "when", "lookback": 12, "horizon": 4},
    )
    splits, s = task.load(), task.series
    h = 4
    for i, (a, b) in enumerate(zip(s.offsets[:-1], s.offsets[1:])):
        values = s.values[a:b, 0]
        np.testing.assert_array_equal(splits["test"].y[i, :h].numpy(), values[-h:])
        np.testing.assert_array_equal(splits["test"].x[i, :, 0].numpy(), values[-h - 12 : -h])
        np.testing.assert_array_equal(splits["validation"].y[i, :h].numpy(), values[-2 * h : -h])
    # every training target lies before the validation part of its series
    train = splits["train"]
    windows_per_series = np.diff(s.offsets) - 3 * h - 12 + 1
    assert len(train) == windows_per_series.sum()
    last = train.y[int(windows_per_series[0]) - 1, :h].numpy()
    first_values = s.values[s.offsets[0] : s.offsets[1], 0]
    np.testing.assert_array_equal(last, first_values[-3 * h : -2 * h])


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--task", "classify", "--param", "target=lable"], "did you mean"),
        (["--task", "forecast", "--param", "lookback=200", "--param", "id=id"], "fewer than"),
        (["--task", "classify", "--param", "target=b"], "class"),
    ],
)
def test_bad_data_is_one_line_and_nothing_is_written(tmp_path, args, message):
    data = long_csv(tmp_path / "train.csv", n=10)
    out = tmp_path / "run"
    result = rnnzoo("train", "--cell", "gru", "--data", str(data), "--out", str(out), *args)
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr
    assert not out.exists()


def test_unseen_test_classes_are_refused(tmp_path):
    train = long_csv(tmp_path / "train.csv", n=10)
    test = tmp_path / "test.csv"
    test.write_text(train.read_text().replace(",up\n", ",sideways\n"))
    result = rnnzoo(
        "train", "--task", "classify", "--cell", "gru", "--data", str(train),
        "--param", f"test_file={test}", "--out", str(tmp_path / "run"),
    )  # fmt: skip
    assert result.returncode == 2 and "never seen in training" in result.stderr


# ---------------------------------------------------------------- the whole path


def train_export(tmp_path: Path, task: str, data: Path, *params: str) -> Path:
    run, export = tmp_path / "run", tmp_path / "export"
    result = rnnzoo(
        "train", "--task", task, "--cell", "gru", "--data", str(data), "--hidden", "16",
        "--epochs", "3", "--out", str(run), "--quiet", *params,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    result = rnnzoo("export", str(run), "--out", str(export), "--runtime", "onnxruntime")
    assert result.returncode == 0, result.stderr
    return export


@pytest.mark.slow
def test_classify_csv_predict_round_trip(tmp_path):
    data = long_csv(tmp_path / "train.csv")
    export = train_export(tmp_path, "classify", data, "--param", "time=time")
    card = json.loads((export / "card.json").read_text())
    assert card["labels"] == ["down", "up"] and card["reader"]["kind"] == "sequences"
    new = long_csv(tmp_path / "new.csv", n=8, seed=5)
    out = tmp_path / "labels.csv"
    result = rnnzoo("predict", str(export), "--input", str(new), "--output", str(out))
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(out.open()))
    assert [r["id"] for r in rows] == [f"s{i}" for i in range(8)]
    assert {r["label"] for r in rows} <= {"down", "up"}
    # the same answers as the model on the arrays, read and ordered by hand
    from rnnzoo.runtime import Model

    table = np.loadtxt(new, delimiter=",", skiprows=1, usecols=(1, 2, 3), dtype=np.float32)
    ids = np.loadtxt(new, delimiter=",", skiprows=1, usecols=0, dtype=str)
    x = np.stack(
        [table[ids == f"s{i}"][np.argsort(table[ids == f"s{i}", 0]), 1:] for i in range(8)]
    )
    expected = Model(export).describe(Model(export).predict(x))
    assert [r["label"] for r in rows] == expected


@pytest.mark.slow
def test_forecast_csv_predict_continues_each_series(tmp_path):
    data = series_csv(tmp_path / "sales.csv")
    params = ["--param", "id=store", "--param", "time=when", "--param", "lookback=12"]
    export = train_export(tmp_path, "forecast", data, *params, "--param", "horizon=3")
    out = tmp_path / "forecast.csv"
    result = rnnzoo("predict", str(export), "--input", str(data), "--output", str(out))
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(out.open()))
    assert [(r["store"] if "store" in r else r["id"], r["step"]) for r in rows] == [
        (s, str(k)) for s in "xyz" for k in (1, 2, 3)
    ]
    # forecasts in each series' own units (levels 5, 500, 50000)
    level = {r["id"]: float(r["sales"]) for r in rows if r["step"] == "1"}
    assert level["x"] < 50 < level["y"] < 5000 < level["z"]


@pytest.mark.slow
def test_a_folder_of_class_folders_trains_exports_and_predicts(tmp_path):
    """``--data FOLDER`` with one sub-folder of ``.npy`` sequences per class, as ``predict``
    reads it; a file of it changed after training is named when the run is exported."""
    data = tmp_path / "clips"
    rng = np.random.default_rng(0)
    for label, shift in (("left", 1.0), ("right", -1.0)):
        (data / label).mkdir(parents=True)
        for i in range(12):
            np.save(
                data / label / f"{i}.npy", (rng.normal(size=(20, 2)) + shift).astype(np.float32)
            )
    export = train_export(tmp_path, "classify", data)
    assert json.loads((export / "card.json").read_text())["labels"] == ["left", "right"]
    result = rnnzoo("predict", str(export), "--input", str(data))
    assert result.returncode == 0, result.stderr
    assert "left/0.npy:" in result.stdout
    np.save(data / "left" / "0.npy", np.zeros((20, 2), np.float32))
    again = rnnzoo("export", str(tmp_path / "run"), "--out", str(tmp_path / "again"))
    assert again.returncode == 2 and "left/0.npy changed since" in again.stderr, again.stderr
