"""A forecast run as the README promises it: `generate` rolls it forward, training draws
its test forecasts (predictions.png) and `predict` says the time of each forecast step."""

import csv
import json

import numpy as np
import pytest

from rnnzoo.data import read_series
from rnnzoo.data.series import times_after
from tests.test_generic_tasks import rnnzoo


def monthly_csv(path, months=60):
    rng = np.random.default_rng(0)
    rows = [["shop", "month", "sales"]]
    for shop, level in (("a", 100.0), ("b", 5000.0)):
        for k in range(months):
            value = level * (1 + 0.3 * np.sin(2 * np.pi * k / 12)) + rng.normal(0, level * 0.02)
            rows.append([shop, f"{2000 + k // 12}-{k % 12 + 1:02d}-01", f"{value:.2f}"])
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(rows)
    return path


@pytest.mark.parametrize(
    "times, expected",
    [
        (["2000-11-01", "2000-12-01"], ["2001-01-01", "2001-02-01"]),  # months differ in days
        (["1998", "1999"], ["2000", "2001"]),  # years as numbers
        (["2020-02-27", "2020-02-28"], ["2020-02-29", "2020-03-01"]),  # a leap day
        (["2020-01-01T10:00", "2020-01-01T10:30"], ["2020-01-01T11:00", "2020-01-01T11:30"]),
    ],
)
def test_the_times_after_a_series_follow_its_regular_step(tmp_path, times, expected):
    path = tmp_path / "s.csv"
    path.write_text("when,value\n" + "".join(f"{t},{i}\n" for i, t in enumerate(times)))
    series = read_series(path, target=["value"], time="when")
    assert times_after(series, 2, known=False) == [expected]


@pytest.mark.slow
def test_a_forecast_run_generates_plots_and_predicts_with_dates(tmp_path):
    data = monthly_csv(tmp_path / "monthly.csv")
    run, export = tmp_path / "run", tmp_path / "export"
    trained = rnnzoo(
        "train", "--task", "forecast", "--cell", "gru", "--data", str(data),
        "--param", "id=shop", "--param", "time=month", "--param", "lookback=12",
        "--param", "horizon=3", "--param", "season=12", "--hidden", "8", "--epochs", "2",
        "--out", str(run), "--quiet",
    )  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    assert (run / "predictions.png").read_bytes()[:4] == b"\x89PNG"
    generated = rnnzoo("generate", str(run), "--steps", "7", "--plot", str(tmp_path / "g.png"))
    assert generated.returncode == 0, generated.stderr
    values = json.loads(rnnzoo("generate", str(run), "--steps", "7", "--json").stdout)
    assert len(values["generated"]) == 7 and len(values["seed"]) == 12
    assert (tmp_path / "g.png").is_file()
    exported = rnnzoo("export", str(run), "--out", str(export), "--runtime", "onnxruntime")
    assert exported.returncode == 0, exported.stderr
    out = tmp_path / "p.csv"
    predicted = rnnzoo("predict", str(export), "--input", str(data), "--output", str(out))
    assert predicted.returncode == 0, predicted.stderr
    assert "a (2005-01-01 to 2005-03-01):" in predicted.stdout, predicted.stdout
    rows = list(csv.DictReader(out.open()))
    assert [(r["id"], r["step"], r["time"]) for r in rows[:3]] == [
        ("a", "1", "2005-01-01"),
        ("a", "2", "2005-02-01"),
        ("a", "3", "2005-03-01"),
    ]
