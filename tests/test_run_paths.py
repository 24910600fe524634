"""A run trained on a file named relative to one folder works from any other: its config
stores the data's absolute path, so evaluate, export, predict and the card's reproduce
command find it."""

import json

import pytest

from tests.test_generic_tasks import rnnzoo, series_csv


@pytest.mark.slow
def test_a_run_from_relative_data_evaluates_and_exports_from_another_folder(tmp_path):
    here, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    (here / "data").mkdir(parents=True)
    elsewhere.mkdir()
    series_csv(here / "data" / "sales.csv")
    trained = rnnzoo(
        "train", "--task", "forecast", "--cell", "gru", "--data", "data/sales.csv",
        "--param", "lookback=12", "--param", "horizon=3", "--param", "season=6",
        "--hidden", "8", "--epochs", "1", "--out", "runs/sales", "--quiet", cwd=here,
    )  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    run = here / "runs" / "sales"
    config = json.loads((run / "config.json").read_text())
    assert config["task_params"]["data"] == str(here / "data" / "sales.csv")
    evaluated = rnnzoo("evaluate", str(run), cwd=elsewhere)
    assert evaluated.returncode == 0, evaluated.stderr
    export = tmp_path / "export"
    exported = rnnzoo(
        "export", str(run), "--out", str(export), "--runtime", "onnxruntime", cwd=elsewhere
    )
    assert exported.returncode == 0, exported.stderr
    card = json.loads((export / "card.json").read_text())
    train_command = card["reproduce"][0]
    assert f"task.data={here / 'data' / 'sales.csv'}" in train_command, train_command
