"""--resume after faults, in real subprocesses on real files: a run killed in its first epoch,
an edited checkpoint, damaged metrics, and resuming a run to more epochs."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from safetensors.torch import load_file, safe_open, save_file

from rnnzoo.checkpoint import METADATA_CHECKSUM
from tests.conftest import run_cli
from tests.test_faults import TINY, digests, one_error_line

# an epoch far longer than the test takes to kill it, on any machine (the kill comes seconds in)
LONG_EPOCH = ["--task", "sine", "--cell", "lstm", "--hidden", "128", "--param", "n_train=60000"]


def epochs_of(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.fuzz  # a killed process at full length (30-45 s): CI's fuzz stage
def test_a_run_killed_in_its_first_epoch_resumes_from_the_start(tmp_path):
    run = tmp_path / "run"
    args = [*LONG_EPOCH, "--epochs", "1", "--quiet", "--out", str(run)]
    process = subprocess.Popen([sys.executable, "-m", "rnnzoo", "train", *args])
    try:
        deadline = time.time() + 120
        while not (run / "config.json").exists() and time.time() < deadline:
            time.sleep(0.05)
        leftover = run / ".checkpoint.safetensors.x1y2z3.tmp"  # as a killed write leaves it
        leftover.write_bytes(b"half a checkpoint")
        busy = run_cli("train", "--resume", "--out", str(run))
        assert "in use by process" in one_error_line(busy)
        assert leftover.exists()  # a live writer's temporary file is left alone
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert not (run / "checkpoint.safetensors").exists(), "killed too late"
    again = run_cli("train", *args)
    assert "pass --resume" in one_error_line(again)
    assert not leftover.exists()  # the dead process's one is gone
    resumed = run_cli("train", "--resume", "--out", str(run), "--max-steps", "3")  # fast
    assert resumed.returncode == 0, resumed.stderr
    assert "no checkpoint yet; training it from the start" in resumed.stderr
    assert [r["epoch"] for r in epochs_of(run)] == [1]
    assert not list(run.glob(".*.tmp*"))


@pytest.fixture(scope="module")
def two_epochs(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("two") / "run"
    result = run_cli("train", *TINY, "--epochs", "2", "--schedule", "onecycle", "--out", str(run))
    assert result.returncode == 0, result.stderr
    return run


def copy_of(run: Path, tmp_path: Path) -> Path:
    import shutil

    shutil.copytree(run, tmp_path / "run")
    return tmp_path / "run"


def edit_checkpoint(path: Path, change, keep_checksum: bool) -> None:
    """Change the checkpoint's saved state as an editor (or a flipped byte) would."""
    tensors = load_file(path)
    with safe_open(path, framework="pt") as f:
        metadata = f.metadata()
    state = json.loads(metadata["state"])
    change(state)
    metadata["state"] = json.dumps(state)
    if not keep_checksum:  # a checkpoint from before the metadata had one: sanity checks
        del metadata[METADATA_CHECKSUM]
    save_file(tensors, path, metadata=metadata)


def epoch_99(state):
    state["counters"]["epoch"] = 99


def lr_1e30(state):
    state["optimizer"]["param_groups"][0]["lr"] = 1e30


@pytest.mark.parametrize("keep_checksum", [True, False])
@pytest.mark.parametrize("change", [epoch_99, lr_1e30])
def test_an_edited_checkpoint_is_refused(two_epochs, tmp_path, change, keep_checksum):
    run = copy_of(two_epochs, tmp_path)
    edit_checkpoint(run / "checkpoint.safetensors", change, keep_checksum)
    before = digests(run)
    line = one_error_line(run_cli("train", "--resume", "--out", str(run), "--epochs", "3"))
    assert "checkpoint.safetensors" in line and ("edited" in line or "corrupted" in line), line
    assert digests(run) == before


def test_resume_says_which_damaged_metrics_lines_it_lost(two_epochs, tmp_path):
    run = copy_of(two_epochs, tmp_path)
    lines = (run / "metrics.jsonl").read_text().splitlines()
    (run / "metrics.jsonl").write_text("\x00\x17garbage\n" + lines[1] + "\n")
    resumed = run_cli("train", "--resume", "--out", str(run), "--epochs", "3")
    assert resumed.returncode == 0, resumed.stderr
    notes = [line for line in resumed.stderr.splitlines() if "lacks the records" in line]
    assert len(notes) == 1 and "epoch(s) 1 " in notes[0], resumed.stderr
    assert [r["epoch"] for r in epochs_of(run)] == [2, 3]


@pytest.mark.slow
def test_a_finished_run_resumed_to_more_epochs(tmp_path):
    run = tmp_path / "run"
    first = run_cli("train", *TINY, "--epochs", "2", "--out", str(run))
    assert first.returncode == 0, first.stderr
    before = epochs_of(run)
    for extra, words in (
        (["--epochs", "2"], "trained 2 epochs already"),
        (["--epochs", "4", "--lr", "0.1", "--hidden", "9"], "drop --lr, --hidden"),
    ):
        assert words in one_error_line(run_cli("train", "--resume", "--out", str(run), *extra))
    longer = run_cli("train", "--resume", "--out", str(run), "--epochs", "4", "--json")
    assert longer.returncode == 0, longer.stderr
    assert json.loads(longer.stdout)["epochs"] == 4
    assert json.loads((run / "summary.json").read_text())["epochs"] == 4
    assert json.loads((run / "config.json").read_text())["epochs"] == 4
    after = epochs_of(run)
    assert [r["epoch"] for r in after] == [1, 2, 3, 4] and after[:2] == before
    assert after[3]["step"] == 2 * after[1]["step"]


@pytest.mark.slow
def test_a_one_cycle_schedule_is_stretched_to_the_new_length(two_epochs, tmp_path):
    """Resumed from 2 to 4 epochs, the rest of the run follows the 4-epoch cycle: the learning
    rates of epochs 3 and 4 are those of a run trained for 4 epochs from the start."""
    run = copy_of(two_epochs, tmp_path)
    whole = tmp_path / "whole"
    fresh = run_cli("train", *TINY, "--epochs", "4", "--schedule", "onecycle", "--out", str(whole))
    assert fresh.returncode == 0, fresh.stderr
    resumed = run_cli("train", "--resume", "--out", str(run), "--epochs", "4")
    assert resumed.returncode == 0, resumed.stderr
    got, want = epochs_of(run), epochs_of(whole)
    assert [r["lr"] for r in got[2:]] == pytest.approx([r["lr"] for r in want[2:]], rel=1e-9)
    assert got[3]["lr"] < got[2]["lr"] < want[1]["lr"]  # annealing down to the end


def test_an_edited_config_is_refused(two_epochs, tmp_path):
    """config.json, which --resume trains with, must be the config the checkpoint recorded
    (under its checksum): an edited learning rate is one line, nothing changed."""
    run = copy_of(two_epochs, tmp_path)
    config = json.loads((run / "config.json").read_text())
    config["lr"] = config["lr"] / 2  # a valid value, so only the comparison can tell
    (run / "config.json").write_text(json.dumps(config))
    before = digests(run)
    line = one_error_line(run_cli("train", "--resume", "--out", str(run), "--epochs", "3"))
    assert "config.json's lr differ from what it was trained with" in line, line
    assert digests(run) == before


@pytest.mark.parametrize("longer", [[], ["--epochs", "3"]])
def test_resuming_a_trained_run_without_its_checkpoint_is_refused(two_epochs, tmp_path, longer):
    """A finished run whose checkpoint is gone: training it "from the start" would replace its
    best weights, so it is one line and every file stays as it was."""
    run = copy_of(two_epochs, tmp_path)
    (run / "checkpoint.safetensors").unlink()
    before = digests(run)
    line = one_error_line(run_cli("train", "--resume", "--out", str(run), *longer))
    assert "model.safetensors, summary.json but no checkpoint.safetensors" in line, line
    assert "--overwrite" in line
    assert digests(run) == before
