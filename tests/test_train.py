"""The trainer end to end, through the CLI in real subprocesses: run directories, resume after a
kill, the NaN guard, reproducibility, torchrun, the seqmnist reader, and bad input."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from safetensors.torch import load_file

from rnnzoo.checkpoint import load_tensors, save_tensors
from rnnzoo.tasks.seqmnist import DEBIAN_FASHION_MNIST
from tests.conftest import run_cli
from tests.idx_files import write_mnist_like

SEQMNIST = [
    "train",
    "--task",
    "seqmnist",
    "--hidden",
    "32",
    "--unidirectional",
    "--layers",
    "1",
    "--lr",
    "1e-2",
    "--schedule",
    "constant",
    "--json",
    "--cell",
]
SINE = ["train", "--task", "sine", "--cell", "gru", "--hidden", "16", "--quiet"]


def weights_equal(a: Path, b: Path) -> bool:
    wa, wb = load_file(a), load_file(b)
    return wa.keys() == wb.keys() and all((wa[k] == wb[k]).all() for k in wa)


@pytest.mark.slow
def test_run_directory_and_evaluate(tmp_path, cli):
    out = tmp_path / "run"
    result = cli(
        *SINE,
        "--epochs",
        "2",
        "--lr",
        "1e-2",
        "--param",
        "n_train=2000",
        "--out",
        str(out),
        "--json",
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    for name in [
        "config.json",
        "model.safetensors",
        "checkpoint.safetensors",
        "metrics.jsonl",
        "curve.png",
        "predictions.png",
        "summary.json",
    ]:
        assert (out / name).is_file(), name
    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in lines] == [1, 2]
    config = json.loads((out / "config.json").read_text())
    assert config["task_params"] == {"n_train": 2000} and config["hidden"] == 16
    assert config["batch_size"] == 50  # the task's recommended default
    evaluated = json.loads(cli("evaluate", str(out), "--json").stdout)
    assert evaluated["metrics"]["mse"] == pytest.approx(summary["test"]["mse"], rel=1e-5)
    assert evaluated["metrics"]["mse"] < evaluated["baseline"]["mse"]
    generated = json.loads(cli("generate", str(out), "--steps", "5", "--json").stdout)
    assert len(generated["generated"]) == 5


@pytest.mark.slow
def test_same_seed_same_numbers(tmp_path, cli):
    for name in ("a", "b"):
        assert (
            cli(
                *SINE,
                "--epochs",
                "1",
                "--param",
                "n_train=300",
                "--seed",
                "3",
                "--out",
                str(tmp_path / name),
            ).returncode
            == 0
        )
    assert weights_equal(tmp_path / "a/model.safetensors", tmp_path / "b/model.safetensors")


@pytest.mark.fuzz  # a killed process at full length (30-45 s): CI's fuzz stage
def test_killed_mid_epoch_and_resumed_equals_uninterrupted(tmp_path, cli):
    args = [*SINE, "--epochs", "5", "--param", "n_train=8000", "--seed", "1"]
    assert cli(*args, "--out", str(tmp_path / "whole")).returncode == 0
    out = tmp_path / "killed"
    process = subprocess.Popen(
        [sys.executable, "-m", "rnnzoo", *args, "--out", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    metrics = out / "metrics.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline:
        if metrics.exists() and len(metrics.read_text().splitlines()) >= 2:
            break
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL, "training finished before it could be killed"
    assert len(metrics.read_text().splitlines()) < 5
    resumed = cli("train", "--out", str(out), "--resume", "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    assert weights_equal(tmp_path / "whole/model.safetensors", out / "model.safetensors")
    assert weights_equal(tmp_path / "whole/checkpoint.safetensors", out / "checkpoint.safetensors")
    assert [json.loads(line)["epoch"] for line in metrics.read_text().splitlines()] == [
        1,
        2,
        3,
        4,
        5,
    ]


@pytest.mark.slow
def test_nan_loss_stops_with_one_line_and_keeps_the_last_good_checkpoint(tmp_path, cli):
    out = tmp_path / "run"
    args = [
        "train",
        "--task",
        "sine",
        "--cell",
        "rnn",
        "--param",
        "activation=relu",
        "--param",
        "n_train=500",
        "--epochs",
        "3",
        "--out",
        str(out),
        "--quiet",
    ]
    assert cli(*args[:-3], "--max-steps", "10", "--out", str(out), "--quiet").returncode == 0
    config = json.loads((out / "config.json").read_text())
    # sabotage the data of the remaining epochs (values near 1e29: the squared error overflows)
    # in config.json and in the copy the checkpoint keeps of it, checksums and all
    config.update(max_steps=0, task_params={"n_train": 500, "t_max": 1e30})
    (out / "config.json").write_text(json.dumps(config))
    tensors, metadata = load_tensors(out / "checkpoint.safetensors")
    state = {**json.loads(metadata["state"]), "config": config}
    save_tensors(out / "checkpoint.safetensors", tensors, {"state": json.dumps(state)})
    checkpoint = (out / "checkpoint.safetensors").read_bytes()
    result = cli("train", "--out", str(out), "--resume", "--quiet")
    assert result.returncode == 2
    assert "loss became nan" in result.stderr or "loss became inf" in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "keeps the last good checkpoint (epoch 1)" in result.stderr
    assert (out / "checkpoint.safetensors").read_bytes() == checkpoint


@pytest.mark.slow
def test_torchrun_two_processes(tmp_path):
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            "2",
            "-m",
            "rnnzoo",
            *SINE,
            "--epochs",
            "2",
            "--batch-size",
            "50",
            "--lr",
            "1e-2",
            "--param",
            "n_train=4000",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in lines] == [1, 2]  # written once, by rank 0
    assert lines[-1]["step"] == 2 * 4000 // (50 * 2)  # each process saw half of every epoch
    summary = json.loads((out / "summary.json").read_text())
    assert summary["test"]["mse"] < summary["baseline_test"]["mse"]


@pytest.mark.slow
@pytest.mark.parametrize("gzipped", [True, False])
def test_seqmnist_reads_idx_files(tmp_path, cli, gzipped):
    write_mnist_like(tmp_path / "data", gzipped=gzipped)
    result = cli(
        *SEQMNIST,
        "lstm",
        "--epochs",
        "3",
        "--batch-size",
        "32",
        "--param",
        f"data_dir={tmp_path / 'data'}",
        "--param",
        "validation_size=100",
        "--out",
        str(tmp_path / "run"),
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["test"]["accuracy"] > 0.5 > summary["baseline_test"]["accuracy"]


@pytest.mark.skipif(
    not Path(DEBIAN_FASHION_MNIST).is_dir(),
    reason="the Debian package dataset-fashion-mnist is not installed",
)
@pytest.mark.slow
def test_seqmnist_on_the_real_fashion_mnist_files(tmp_path, cli):
    result = cli(
        *SEQMNIST,
        "gru",
        "--epochs",
        "1",
        "--batch-size",
        "64",
        "--param",
        "limit=5000",
        "--out",
        str(tmp_path / "run"),
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["test"]["accuracy"] > 0.5 > summary["baseline_test"]["accuracy"]


@pytest.mark.parametrize(
    "args,message",
    [
        (["--task", "sinus", "--cell", "gru"], "unknown task 'sinus'; did you mean sine"),
        (["--task", "sine", "--cell", "gruu"], "unknown cell 'gruu'; did you mean gru"),
        (["--task", "sine", "--cell", "gru", "--param", "n_trian=5"], "did you mean n_train"),
        (["--task", "sine", "--cell", "gru", "--param", "n_train=many"], "takes a int"),
        (["--task", "sine", "--cell", "rnn", "--param", "activation=sigmoid"], "one of tanh, relu"),
        (
            ["--task", "seqmnist", "--cell", "gru", "--param", "data_dir=/nonexistent"],
            "apt-get install dataset-fashion-mnist",
        ),
        (["--task", "sine", "--cell", "gru", "--device", "cuda"], "no CUDA GPU"),
        (["--task", "sine", "--cell", "gru", "--hidden", "0"], "--hidden must be at least 1"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path, args, message):
    result = run_cli("train", *args, "--out", str(tmp_path / "run"), "--quiet")
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


@pytest.mark.slow
def test_existing_run_is_not_overwritten(tmp_path, cli):
    out = str(tmp_path / "run")
    assert cli(*SINE, "--max-steps", "2", "--param", "n_train=100", "--out", out).returncode == 0
    again = cli(*SINE, "--max-steps", "2", "--param", "n_train=100", "--out", out)
    assert again.returncode == 2 and "--resume" in again.stderr
    replaced = cli(*SINE, "--max-steps", "2", "--param", "n_train=100", "--out", out, "--overwrite")
    assert replaced.returncode == 0, replaced.stderr
    assert "not a run directory" in cli("evaluate", str(tmp_path)).stderr


@pytest.mark.slow
def test_truncated_bptt(tmp_path, cli):
    result = cli(
        *SINE,
        "--epochs",
        "2",
        "--tbptt",
        "5",
        "--lr",
        "1e-2",
        "--param",
        "n_train=1000",
        "--out",
        str(tmp_path / "run"),
        "--json",
    )
    assert result.returncode == 0, result.stderr
    lines = (tmp_path / "run/metrics.jsonl").read_text().splitlines()
    assert json.loads(lines[-1])["step"] == 2 * (1000 // 50)
    summary = json.loads(result.stdout)
    assert summary["test"]["mse"] < summary["baseline_test"]["mse"]
    refused = cli(*SINE, "--tbptt", "5", "--bidirectional", "--out", str(tmp_path / "no"))
    assert refused.returncode == 2 and "unidirectional" in refused.stderr


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A short finished sine run, trained once for the tests that copy it."""
    out = tmp_path_factory.mktemp("finished") / "run"
    result = run_cli(*SINE, "--max-steps", "2", "--param", "n_train=100", "--out", str(out))
    assert result.returncode == 0, result.stderr
    return out


@pytest.mark.parametrize(
    "change,message",
    [
        ({"hidden": "big"}, "--hidden must be int, not 'big'"),
        ({"lr": -1}, "--lr must be positive"),
        ({"dropout": 1.5}, "--dropout must be in [0, 1)"),
        ({"colour": "blue"}, "unknown training option(s) colour"),
    ],
)
def test_bad_config_json_exits_2_with_one_line(tmp_path, finished_run, change, message):
    out = tmp_path / "run"
    shutil.copytree(finished_run, out)
    config = json.loads((out / "config.json").read_text())
    (out / "config.json").write_text(json.dumps({**config, **change}))
    for args in (["evaluate", str(out)], ["train", "--resume", "--out", str(out), "--quiet"]):
        result = run_cli(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert message in result.stderr and "config.json" in result.stderr, args
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, args


@pytest.mark.parametrize(
    "args,message",
    [
        (["--hidden", "0"], "--hidden must be at least 1"),
        (["--dropout", "1.5"], "--dropout must be in [0, 1)"),
        (["--lr", "0"], "--lr must be positive"),
        (["--tbptt", "5", "--bidirectional"], "unidirectional"),
    ],
)
def test_refused_options_leave_no_run_directory(tmp_path, args, message):
    out = tmp_path / "runs" / "new"
    result = run_cli(*SINE, *args, "--param", "n_train=100", "--out", str(out))
    assert result.returncode == 2 and message in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert not (tmp_path / "runs").exists()


def test_a_model_that_fails_to_build_leaves_runs_alone(tmp_path, finished_run, monkeypatch):
    """Nothing is created or deleted before the model is built, --overwrite included."""
    from rnnzoo.errors import UserError
    from rnnzoo.families.sequence import SequenceFamily
    from rnnzoo.trainer import config_with_defaults, train

    def refuse(self, task, config):
        raise UserError("this cell cannot be built")

    monkeypatch.setattr(SequenceFamily, "build", refuse)
    config = config_with_defaults("sine", "gru", hidden=8, task_params={"n_train": 100})
    with pytest.raises(UserError, match="cannot be built"):
        train(config, tmp_path / "runs" / "new", quiet=True)
    assert not (tmp_path / "runs").exists()
    old = tmp_path / "old"
    shutil.copytree(finished_run, old)
    before = {p.name: p.read_bytes() for p in old.iterdir()}
    with pytest.raises(UserError, match="cannot be built"):
        train(config, old, quiet=True, overwrite=True)
    assert {p.name: p.read_bytes() for p in old.iterdir()} == before


@pytest.mark.slow
def test_resume_repairs_a_torn_last_metrics_line(tmp_path, cli):
    """A kill while appending to metrics.jsonl leaves half a line; --resume drops it."""
    out = tmp_path / "run"
    first = cli(*SINE, "--epochs", "1", "--param", "n_train=200", "--out", str(out))
    assert first.returncode == 0, first.stderr
    metrics = out / "metrics.jsonl"
    metrics.write_text(metrics.read_text() + '{"epoch": 2, "step": 9, "train_lo')
    resumed = cli("train", "--out", str(out), "--resume", "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    assert [json.loads(line)["epoch"] for line in metrics.read_text().splitlines()] == [1]
