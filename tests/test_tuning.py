"""``rnnzoo tune``: trials as run directories, the best one and the plots; pruning through the
trainer's per-epoch callback; a killed tune continued by the same command; a wrong --space
name is one line. Skips without Optuna (pip install 'rnnzoo[tune]'; .ci/run installs it)."""

import json
import signal
import subprocess
import sys
import time

import pytest

optuna = pytest.importorskip(
    "optuna", reason="Optuna is not installed (pip install 'rnnzoo[tune]')"
)

TUNE = ["tune", "--task", "sine", "--cell", "gru", "--space", "hidden=4:12"]


def test_two_jobs_write_trials_the_best_run_and_plots(tmp_path, cli):
    out = tmp_path / "tune"
    args = [*TUNE, "--trials", "4", "--epochs", "2", "--param", "n_train=200", "--out", str(out)]
    result = cli(*args, "--jobs", "2", "--json")
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    done = [t for t in found["trials"] if t["state"] in ("complete", "pruned")]
    assert len(done) >= 4 and len({t["run"] for t in done}) == len(done)
    best = found["best"]
    assert best["value"] == min(t["value"] for t in done if t["state"] == "complete")
    assert json.loads((out / "best.json").read_text()) == best
    run = out / f"trial-{best['trial']:04d}"
    assert best["run"] == str(run) and (run / "model.safetensors").is_file()
    config = json.loads((run / "config.json").read_text())
    assert config["hidden"] == best["params"]["hidden"] and config["lr"] == best["params"]["lr"]
    assert (out / "history.png").stat().st_size > 1000
    table = cli(*args)  # enough trials already: the table again, nothing trained
    assert table.returncode == 0, table.stderr
    assert f"best: trial {best['trial']}" in table.stdout and "trial-000" in table.stdout


def test_the_pruner_ends_a_trial_through_the_trainers_callback(tmp_path):
    from rnnzoo.trainer import config_with_defaults, train
    from rnnzoo.tuning import Pruning

    study = optuna.create_study(pruner=optuna.pruners.ThresholdPruner(upper=0.0))  # mse > 0
    trial = study.ask()
    config = config_with_defaults("sine", "gru", hidden=4, epochs=3, task_params={"n_train": 100})
    with pytest.raises(optuna.TrialPruned):
        train(config, tmp_path / "run", quiet=True, callbacks=[Pruning(trial, "mse")])
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 1  # stopped after the first epoch, which it kept
    assert list(study.trials[0].intermediate_values) == [1]


def test_a_killed_tune_continues_where_it_stopped(tmp_path, cli):
    out = tmp_path / "tune"
    args = [*TUNE, "--trials", "3", "--epochs", "4", "--param", "n_train=3000", "--out", str(out)]
    tune = subprocess.Popen(
        [sys.executable, "-m", "rnnzoo", *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    second = out / "trial-0001"
    deadline = time.monotonic() + 240
    while not (second / "checkpoint.safetensors").exists():  # trial 1 has an epoch done
        assert tune.poll() is None and time.monotonic() < deadline, tune.stderr.read()
        time.sleep(0.05)
    tune.send_signal(signal.SIGKILL)
    tune.wait()
    epochs_done = len((second / "metrics.jsonl").read_text().splitlines())
    assert epochs_done < 4

    result = cli(*args, "--json")
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["resumed_trials"] == 1
    states = {t["trial"]: t["state"] for t in found["trials"]}
    assert states[0] == "complete" and states[1] == "fail"  # marked, then run again
    retried = [t for t in found["trials"] if t["run"] == str(second) and t["trial"] != 1]
    assert len(retried) == 1 and retried[0]["state"] in ("complete", "pruned")
    lines = [json.loads(x) for x in (second / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in lines] == list(range(1, len(lines) + 1))  # resumed, not redone
    assert sum(t["state"] in ("complete", "pruned") for t in found["trials"]) == 3


@pytest.mark.parametrize(
    "space,line",
    [
        ("hiden=4:8", "the closest is hidden"),
        ("lr=0.1:0.01:log", "LOW must be below HIGH"),
        ("layers=one,two", "takes a int"),
        ("lr", "--space takes NAME=LOW:HIGH[:log] or NAME=A,B,C"),
    ],
)
def test_a_wrong_space_is_one_line(tmp_path, cli, space, line):
    result = cli(*TUNE[:-2], "--space", space, "--out", str(tmp_path / "tune"))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and line in result.stderr, result.stderr
    assert not (tmp_path / "tune").exists()


def test_other_settings_in_the_same_folder_are_refused(tmp_path, cli):
    out = tmp_path / "tune"
    args = [*TUNE, "--trials", "1", "--epochs", "1", "--param", "n_train=100", "--out", str(out)]
    assert cli(*args).returncode == 0
    result = cli(*args[:-2], "--space", "lr=0.01", "--out", str(out))
    assert result.returncode == 2 and "holds a study of other settings" in result.stderr


def digests(folder):
    import hashlib

    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


@pytest.mark.parametrize("damage", ["deleted", "emptied", "garbage", "another study"])
def test_a_lost_or_damaged_study_never_trains_over_the_trial_folders(tmp_path, cli, damage):
    out = tmp_path / "tune"
    args = [*TUNE, "--trials", "2", "--epochs", "1", "--param", "n_train=100", "--out", str(out)]
    assert cli(*args).returncode == 0
    study = out / "study.db"
    if damage == "deleted":
        study.unlink()
    elif damage == "emptied":
        study.write_bytes(b"")
    elif damage == "garbage":
        study.write_bytes(b"SQLite format 3\x00" + bytes(range(256)) * 8)
    else:  # a fresh study of the same settings in place of the real one
        fresh = tmp_path / "fresh"
        assert cli(*args[:-1], str(fresh), "--trials", "1").returncode == 0
        study.write_bytes((fresh / "study.db").read_bytes())
    before = digests(out)
    result = cli(*args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1, result.stderr
    line = result.stderr
    assert ("does not know (trial-000" in line) or ("cannot be read as rnnzoo's study" in line)
    assert digests(out) == before


def test_workers_die_with_a_killed_tune_and_the_same_command_continues(tmp_path, cli):
    """``--jobs 2`` killed: its workers stop too (no trial trains on without the folder's lock),
    and the same command resumes the trials they left, to the end."""
    out = tmp_path / "tune"
    args = [*TUNE, "--trials", "2", "--epochs", "3", "--param", "n_train=3000", "--out", str(out)]
    tune = subprocess.Popen([sys.executable, "-m", "rnnzoo", *args, "--jobs", "2"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    deadline = time.monotonic() + 240
    while not list(out.glob("trial-*/checkpoint.safetensors")):
        assert tune.poll() is None and time.monotonic() < deadline, tune.stderr.read()
        time.sleep(0.05)
    tune.send_signal(signal.SIGKILL)
    tune.wait()
    time.sleep(3)  # the workers' deaths
    metrics = {p: p.stat().st_mtime_ns for p in out.glob("trial-*/metrics.jsonl")}
    time.sleep(4)
    assert {p: p.stat().st_mtime_ns for p in out.glob("trial-*/metrics.jsonl")} == metrics
    result = cli(*args, "--json")
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert sum(t["state"] in ("complete", "pruned") for t in found["trials"]) >= 2
