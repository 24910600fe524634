"""``rnnzoo train --log tensorboard / mlflow``: what was written, read back with TensorBoard's
event reader and MLflow's client; only rank 0 writes under torchrun; a missing extra is one
line before any work. The tests that need an extra skip without it (.ci/run installs them)."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from rnnzoo.cli import cli as rnnzoo_cli

TINY = ["train", "--task", "sine", "--cell", "gru", "--hidden", "8", "--batch-size", "50"]
TINY += ["--param", "n_train=200", "--quiet"]


def metrics_lines(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def events(folder: Path):
    accumulator = pytest.importorskip(
        "tensorboard.backend.event_processing.event_accumulator",
        reason="TensorBoard is not installed (pip install 'rnnzoo[tensorboard]')",
    )
    reader = accumulator.EventAccumulator(str(folder), size_guidance={"scalars": 0, "images": 0})
    reader.Reload()
    return reader


def mlflow_client(uri: str):
    mlflow = pytest.importorskip(
        "mlflow", reason="MLflow is not installed (pip install 'rnnzoo[mlflow]')"
    )
    return mlflow.MlflowClient(uri)


@pytest.mark.parametrize(
    "args,line",
    [
        (["train", "--log", "tensorboard"], "pip install 'rnnzoo[tensorboard]'"),
        (["train", "--log", "mlflow"], "pip install 'rnnzoo[mlflow]'"),
        (["tune", "--trials", "2"], "pip install 'rnnzoo[tune]'"),
    ],
)
def test_a_missing_extra_is_one_line_before_any_work(tmp_path, monkeypatch, args, line):
    missing = {"tensorboard", "mlflow", "optuna"}
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name in missing else find_spec(name, *a),
    )
    out = tmp_path / "run"
    command = [args[0], "--task", "sine", "--cell", "gru", "--out", str(out), *args[1:]]
    result = CliRunner().invoke(rnnzoo_cli, command)
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and line in result.stderr, result.stderr
    assert not out.exists()  # nothing trained, nothing written


def test_tensorboard_holds_steps_epochs_plots_and_hparams(tmp_path, cli):
    pytest.importorskip(
        "tensorboard", reason="TensorBoard is not installed (pip install 'rnnzoo[tensorboard]')"
    )
    run = tmp_path / "run"
    result = cli(*TINY, "--epochs", "3", "--out", str(run), "--log", "tensorboard")
    assert result.returncode == 0, result.stderr
    reader = events(run / "tensorboard")
    lines = metrics_lines(run)
    validation = reader.Scalars("validation/mse")
    assert [e.step for e in validation] == [r["step"] for r in lines]
    assert [e.value for e in validation] == pytest.approx([r["validation_mse"] for r in lines])
    assert [e.step for e in reader.Scalars("step/train_loss")] == list(
        range(1, lines[-1]["step"] + 1)
    )
    assert [e.value for e in reader.Scalars("epoch/lr")] == pytest.approx([r["lr"] for r in lines])
    images = reader.Tags()["images"]
    assert {"plots/curve", "plots/predictions"} <= set(images)
    assert reader.Images("plots/curve")[0].width > 100
    summary = json.loads((run / "summary.json").read_text())
    final = reader.Scalars("hparam/test_mse")
    assert final[-1].value == pytest.approx(summary["test"]["mse"])
    assert "_hparams_/session_start_info" in reader.PluginTagToContent("hparams")


def test_tensorboard_on_resume_hides_the_steps_after_the_checkpoint(tmp_path, cli):
    pytest.importorskip(
        "tensorboard", reason="TensorBoard is not installed (pip install 'rnnzoo[tensorboard]')"
    )
    run = tmp_path / "run"
    # 2 epochs, then continue the same run to 3 by editing its config (as a longer run would)
    assert cli(*TINY, "--epochs", "2", "--out", str(run), "--log", "tensorboard").returncode == 0
    config = json.loads((run / "config.json").read_text())
    config["epochs"] = 3
    (run / "config.json").write_text(json.dumps(config))
    result = cli("train", "--resume", "--out", str(run), "--quiet", "--log", "tensorboard")
    assert result.returncode == 0, result.stderr
    steps = [e.step for e in events(run / "tensorboard").Scalars("validation/mse")]
    assert steps == [r["step"] for r in metrics_lines(run)]  # each epoch once


def test_mlflow_run_params_metrics_artifacts_and_export(tmp_path, cli):
    pytest.importorskip("mlflow", reason="MLflow is not installed (pip install 'rnnzoo[mlflow]')")
    run = tmp_path / "runs" / "sine"
    env = {"MLFLOW_TRACKING_URI": "", "MLFLOW_EXPERIMENT_NAME": ""}
    result = cli(*TINY, "--epochs", "2", "--out", str(run), "--log", "mlflow", env=env)
    assert result.returncode == 0, result.stderr
    record = json.loads((run / "mlflow.json").read_text())
    store = tmp_path / "runs" / "mlflow.db"  # the default: beside the run
    assert record["tracking_uri"] == f"sqlite:///{store}" and store.is_file()
    client = mlflow_client(record["tracking_uri"])
    tracked = client.get_run(record["run_id"])
    assert tracked.info.run_name == str(run) and tracked.info.status == "FINISHED"
    assert tracked.data.params["hidden"] == "8" and tracked.data.params["task.n_train"] == "200"
    history = client.get_metric_history(record["run_id"], "validation_mse")
    lines = metrics_lines(run)
    assert [(m.step, m.value) for m in history] == [
        (r["epoch"], pytest.approx(r["validation_mse"])) for r in lines
    ]
    summary = json.loads((run / "summary.json").read_text())
    assert tracked.data.metrics["test_mse"] == pytest.approx(summary["test"]["mse"])
    artifacts = {a.path for a in client.list_artifacts(record["run_id"])}
    assert {
        "config.json",
        "summary.json",
        "metrics.jsonl",
        "curve.png",
        "predictions.png",
    } <= artifacts
    assert (tmp_path / "runs" / "mlartifacts").is_dir()  # not ./mlruns of the working directory

    export = cli("export", str(run), "--out", str(tmp_path / "export"), "--runtime", "onnxruntime")
    assert export.returncode == 0, export.stderr
    assert f"logged to MLflow run {record['run_id']}" in export.stderr
    exported = {a.path for a in client.list_artifacts(record["run_id"], "export")}
    assert {"export/model.onnx", "export/model.step.onnx"} <= exported
    assert any(path.startswith("export/card") for path in exported)


def test_under_torchrun_only_rank_0_writes(tmp_path):
    pytest.importorskip(
        "tensorboard", reason="TensorBoard is not installed (pip install 'rnnzoo[tensorboard]')"
    )
    pytest.importorskip("mlflow", reason="MLflow is not installed (pip install 'rnnzoo[mlflow]')")
    run, store = tmp_path / "ddp", tmp_path / "elsewhere" / "tracking.db"
    store.parent.mkdir()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MLFLOW_TRACKING_URI": f"sqlite:///{store}"}
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
    ]
    command += ["-m", "rnnzoo", *TINY, "--epochs", "2", "--out", str(run)]
    command += ["--track", "tensorboard", "--track", "mlflow"]  # torchrun takes --log itself
    result = subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr[-2000:]
    lines = metrics_lines(run)
    assert [r["epoch"] for r in lines] == [1, 2]
    reader = events(run / "tensorboard")
    assert [e.step for e in reader.Scalars("validation/mse")] == [r["step"] for r in lines]
    assert len(reader.Scalars("step/train_loss")) == lines[-1]["step"]  # one writer's steps
    client = mlflow_client(f"sqlite:///{store}")  # the URI given, not the default store
    assert not (tmp_path / "mlflow.db").exists()
    experiment = client.get_experiment_by_name("rnnzoo")
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 1 and runs[0].info.run_name == str(run)
    artifacts = {a.path for a in client.list_artifacts(runs[0].info.run_id)}
    assert "summary.json" in artifacts and (store.parent / "mlartifacts").is_dir()
    assert not (tmp_path / "mlruns").exists()  # not MLflow's ./mlruns of the working directory
