"""What survives faults, in real subprocesses: --overwrite that is refused or killed, two
trainings into one folder, NaN models, damaged weights, a re-export killed at any moment, a
full disk and a read-only folder (in a private mount namespace where the machine allows it)."""

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rnnzoo.files import recover_folder, replace_folder
from tests.conftest import run_cli

TINY = [
    "--task",
    "sine",
    "--cell",
    "gru",
    "--hidden",
    "8",
    "--epochs",
    "1",
    "--param",
    "n_train=128",
    "--param",
    "n_test=32",
    "--quiet",
]
SLOW = ["--task", "sine", "--cell", "lstm", "--hidden", "64", "--param", "n_train=60000"]


def digests(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (hidden ones too) and the sha256 of its contents."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("finished") / "run"
    result = run_cli("train", *TINY, "--out", str(run))
    assert result.returncode == 0, result.stderr
    return run


@pytest.fixture
def old_run(finished_run, tmp_path) -> Path:
    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    return run


def one_error_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.stderr
    return errors[0]


@pytest.mark.parametrize(
    "bad",
    [
        ["--device", "cuda:7"],
        ["--lr", "1e38", "--clip", "0"],  # refused only once it diverges in the first epoch
    ]
    + [
        pytest.param(bad, marks=pytest.mark.fuzz)
        for bad in (
            ["--hidden", "0"],
            ["--dropout", "1.5"],
            ["--lr", "nan"],
            ["--batch-size", "0"],
            ["--param", "n_train=0"],
            ["--tbptt", "3", "--bidirectional"],
        )
    ],
)
def test_a_refused_overwrite_leaves_the_old_run_as_it_was(old_run, bad):
    before = digests(old_run)
    result = run_cli("train", *TINY, "--out", str(old_run), "--overwrite", *bad)
    one_error_line(result)
    assert digests(old_run) == before


def test_overwrite_and_new_runs_never_touch_a_folder_that_is_not_a_run(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "config.json").write_text('{"my": "settings"}\n')
    (folder / "summary.json").write_text("my notes\n")
    before = digests(folder)
    for extra in ([], ["--overwrite"]):
        line = one_error_line(run_cli("train", *TINY, "--out", str(folder), *extra))
        assert "not an rnnzoo run" in line
        assert digests(folder) == before


@pytest.mark.slow
def test_a_killed_overwrite_gives_the_old_run_back(old_run):
    before = digests(old_run)
    process = subprocess.Popen(
        [sys.executable, "-m", "rnnzoo", "train", *SLOW, "--out", str(old_run), "--overwrite"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 120
    while not (old_run / ".previous").is_dir() and time.time() < deadline:
        time.sleep(0.1)
    assert (old_run / ".previous").is_dir(), "the old run was not moved aside"
    process.send_signal(signal.SIGKILL)
    process.wait()
    # any later command puts it back; evaluate reads it as before
    result = run_cli("evaluate", str(old_run), "--json")
    assert result.returncode == 0, result.stderr
    assert digests(old_run) == before
    assert not (old_run / ".previous").exists()


def test_an_overwrite_that_finishes_drops_the_old_run(old_run):
    old = json.loads((old_run / "config.json").read_text())
    result = run_cli("train", *TINY, "--out", str(old_run), "--overwrite", "--seed", "7")
    assert result.returncode == 0, result.stderr
    assert json.loads((old_run / "config.json").read_text())["seed"] == 7 != old["seed"]
    assert not (old_run / ".previous").exists()
    assert not list(old_run.glob(".*.tmp*"))


@pytest.mark.fuzz  # a killed process at full length (30-45 s): CI's fuzz stage
def test_a_second_training_into_a_busy_folder_is_refused_naming_the_holder(tmp_path):
    run = tmp_path / "run"
    first = subprocess.Popen(
        [sys.executable, "-m", "rnnzoo", "train", *SLOW, "--out", str(run)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 120
        while not (run / "config.json").exists() and time.time() < deadline:
            time.sleep(0.1)
        for extra in (["--overwrite"], []):
            result = run_cli("train", *TINY, "--out", str(run), *extra)
            line = one_error_line(result)
            assert "in use by process" in line or "already holds" in line
        resumed = run_cli("train", "--out", str(run), "--resume")
        assert one_error_line(resumed)
        busy = run_cli("train", *TINY, "--out", str(run), "--overwrite")
        assert f"in use by process {first.pid}" in one_error_line(busy)
    finally:
        first.kill()
        first.wait()


def test_a_diverging_fresh_run_exits_2_and_leaves_nothing(tmp_path):
    run = tmp_path / "run"
    line = one_error_line(run_cli("train", *TINY, "--out", str(run), "--lr", "1e30"))
    assert "nothing was kept" in line
    assert not run.exists()


def test_a_non_finite_epoch_is_never_kept(tmp_path):
    """The loss can stay finite while an overflowing step has ruined the weights, or the
    validation metric can overflow: either stops the run before that epoch is saved."""
    import torch

    from rnnzoo.rundir import RunDir
    from rnnzoo.trainer.loop import Counters, TrainingDiverged, check_finite

    model, run = torch.nn.Linear(2, 2), RunDir(tmp_path)
    counters = Counters(epoch=3)
    check_finite(run, model, {"mse": 0.5}, 3, counters)  # finite: fine
    with pytest.raises(TrainingDiverged, match=r"validation mse became nan at epoch 4.*epoch 3"):
        check_finite(run, model, {"mse": float("nan")}, 3, counters)
    with torch.no_grad():
        model.weight[0, 0] = float("inf")
    with pytest.raises(TrainingDiverged, match=r"weights became NaN or infinite \(weight\)"):
        check_finite(run, model, {"mse": 0.5}, 3, counters)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["model.safetensors", "checkpoint.safetensors"])
def test_damaged_weights_are_refused_everywhere(old_run, tmp_path, name):
    path = old_run / name
    data = bytearray(path.read_bytes())
    for i in range(1, 65):  # 64 bytes of tensor data, at the end of the file
        data[-i] ^= 0x5A
    path.write_bytes(bytes(data))
    before = digests(old_run)
    commands = (
        [["evaluate", str(old_run)], ["generate", str(old_run), "--steps", "5"]]
        + [["export", str(old_run), "--out", str(tmp_path / "e"), "--runtime", "onnxruntime"]]
        if name == "model.safetensors"
        else [["train", "--out", str(old_run), "--resume"]]
    )
    for command in commands:
        line = one_error_line(run_cli(*command))
        assert "checksum" in line and name in line
    assert digests(old_run) == before


def export(run: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return run_cli("export", str(run), "--out", str(out), "--runtime", "onnxruntime", *extra)


@pytest.fixture(scope="module")
def export_seconds(finished_run, tmp_path_factory) -> float:
    """How long the re-export that the kill test interrupts takes here."""
    out = tmp_path_factory.mktemp("timing") / "export"
    started = time.perf_counter()
    assert export(finished_run, out, "--quantize", "int8").returncode == 0
    return time.perf_counter() - started


@pytest.mark.parametrize(
    "fraction",
    [0.5, 0.9]
    + [pytest.param(f, marks=pytest.mark.fuzz) for f in (0.2, 0.7, 0.8, 0.95, 0.98, 1.0)],
)
@pytest.mark.slow
def test_a_reexport_killed_at_any_moment_leaves_a_whole_export(
    finished_run, tmp_path, export_seconds, fraction
):
    out = tmp_path / "export"
    assert export(finished_run, out).returncode == 0
    (out / "notes.txt").write_text("the user's own file\n")
    old = digests(out)
    command = [sys.executable, "-m", "rnnzoo", "export", str(finished_run), "--out", str(out)]
    process = subprocess.Popen(
        [*command, "--runtime", "onnxruntime", "--quantize", "int8"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(export_seconds * fraction)
    process.send_signal(signal.SIGKILL)
    process.wait()
    files = digests(out) if out.exists() else {}
    if "model.int8.onnx" not in files:  # not the new one: then the old one, whole
        assert files in (old, {}), f"killed at {fraction:.0%}: a mixed export"
    # the next export recovers whatever was left, and the user's file survives
    assert export(finished_run, out).returncode == 0
    assert (out / "notes.txt").read_text() == "the user's own file\n"
    assert not [p for p in tmp_path.glob(".export.*") if not p.name.endswith(".lock")]


def test_an_interrupted_folder_swap_is_recovered(tmp_path):
    owned = lambda folder: {"card.json"}  # noqa: E731
    out, staging = tmp_path / "out", tmp_path / ".out.staging-999999999-x"
    out.mkdir()
    (out / "card.json").write_text("old")
    (out / "mine.txt").write_text("user")
    staging.mkdir()
    (staging / "card.json").write_text("new")
    # killed between the two renames: the old folder is put back, the staging one removed
    os.replace(out, tmp_path / ".out.replaced")
    recover_folder(out, owned)
    assert (out / "card.json").read_text() == "old" and (out / "mine.txt").exists()
    assert not staging.exists() and not (tmp_path / ".out.replaced").exists()
    # killed after both renames: the user's file moves into the new folder
    staging.mkdir()
    (staging / "card.json").write_text("new")
    os.replace(out, tmp_path / ".out.replaced")
    os.replace(staging, out)
    recover_folder(out, owned)
    assert (out / "card.json").read_text() == "new" and (out / "mine.txt").read_text() == "user"
    # and the whole swap
    staging.mkdir()
    (staging / "card.json").write_text("newer")
    replace_folder(out, staging, owned)
    assert sorted(p.name for p in out.iterdir()) == ["card.json", "mine.txt"]


# ---------------------------------------------------------------- a full disk, a read-only folder

MOUNT_SCRIPT = """
set -e
mount -t tmpfs -o size={size} tmpfs {small}
{setup}
cd {small}
{python} -m rnnzoo {command} > {out}/stdout 2> {out}/stderr || echo $? > {out}/rc
ls -la {small} > {out}/listing
{after}
"""


def in_namespace(tmp_path: Path, size: str, command: str, setup: str = "", after: str = ""):
    """Run ``rnnzoo COMMAND`` inside a private mount namespace with a tmpfs of ``size`` at
    ``tmp_path/small`` (unprivileged user namespaces, or root); skip where not allowed."""
    small, out = tmp_path / "small", tmp_path / "out"
    small.mkdir()
    out.mkdir()
    script = MOUNT_SCRIPT.format(
        size=size,
        small=small,
        setup=setup,
        python=sys.executable,
        command=command,
        out=out,
        after=after,
    )
    try:
        done = subprocess.run(
            ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script],
            capture_output=True,
            text=True,
            timeout=300,
        )
    except FileNotFoundError:
        pytest.skip("unshare(1) is not installed here")
    if done.returncode != 0 or not (out / "stderr").exists():
        pytest.skip(f"no private mount namespace here: {done.stderr.strip()[:200]}")
    rc = int((out / "rc").read_text()) if (out / "rc").exists() else 0
    return rc, (out / "stderr").read_text(), (out / "listing").read_text()


def test_a_full_disk_is_one_line_and_leaves_the_last_good_files(finished_run, tmp_path):
    exported = tmp_path / "export"
    assert export(finished_run, exported).returncode == 0
    x = tmp_path / "x.npy"
    import numpy as np

    np.save(x, np.random.default_rng(0).normal(size=(4000, 20, 1)).astype(np.float32))
    # a 64 KiB disk already holding a good prediction file, filled to the brim
    setup = (
        f"echo '[1]' > {tmp_path}/small/p.json && "
        f"(dd if=/dev/zero of={tmp_path}/small/filler bs=1k count=1000 2>/dev/null || true)"
    )
    rc, stderr, listing = in_namespace(
        tmp_path,
        "64k",
        f"predict {exported} --input {x} --output p.json",
        setup,
        after=f"cat {tmp_path}/small/p.json > {tmp_path}/out/kept",
    )
    assert rc == 2 and "Traceback" not in stderr, stderr
    assert "No space left on device" in stderr and stderr.count("Error:") == 1
    assert (tmp_path / "out" / "kept").read_text() == "[1]\n"  # the old file is intact
    assert ".tmp" not in listing  # nothing half-written left behind


@pytest.mark.parametrize(
    "size", ["80k"] + [pytest.param(size, marks=pytest.mark.fuzz) for size in ("8k", "24k", "48k")]
)
def test_a_full_disk_during_training_leaves_no_broken_file(tmp_path, size):
    rc, stderr, listing = in_namespace(
        tmp_path,
        size,
        "train " + " ".join(TINY) + " --out run --epochs 3",
        after=f"cp -r {tmp_path}/small/run {tmp_path}/out/run 2>/dev/null || true",
    )
    assert rc in (0, 2) and "Traceback" not in stderr, stderr
    if rc == 2:
        assert "No space left on device" in stderr and stderr.count("Error:") == 1
    run = tmp_path / "out" / "run"
    for path in run.glob("*") if run.exists() else []:
        assert not path.name.endswith(".tmp") and path.stat().st_size > 0, path.name
        if path.suffix == ".json":
            json.loads(path.read_text())


def test_a_read_only_folder_is_one_line(finished_run, tmp_path):
    rc, stderr, _ = in_namespace(
        tmp_path,
        "1m",
        f"export {finished_run} --out e --runtime onnxruntime",
        setup=f"mount -o remount,ro {tmp_path}/small",
    )
    assert rc == 2 and "Traceback" not in stderr, stderr
    assert "cannot write" in stderr or "Read-only" in stderr


def test_a_damaged_mnist1d_cache_is_generated_again(tmp_path, monkeypatch):
    pytest.importorskip("mnist1d", reason="the mnist1d package is not installed")
    from rnnzoo.registry import create_task
    from rnnzoo.tasks import mnist1d

    monkeypatch.setenv("RNNZOO_CACHE", str(tmp_path))
    cache = tmp_path / "mnist1d-200-42.npz"
    cache.write_bytes(b"PK\x03\x04 a zip cut short")
    splits = create_task("mnist1d", {"num_samples": 200, "validation_size": 20}).load()
    assert len(splits["validation"]) == 20
    assert mnist1d.read_cache(cache) is not None  # written again, whole


def test_ctrl_c_says_how_to_continue(tmp_path):
    run = tmp_path / "run"
    args = ["train", *SLOW[:6], "--param", "n_train=2000", "--epochs", "500", "--out", str(run)]
    process = subprocess.Popen(
        [sys.executable, "-m", "rnnzoo", *args, "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # a test run started in the background (`cmd &`) inherits SIGINT ignored, and Python
        # then never turns it into KeyboardInterrupt: the child gets the default back
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.time() + 300  # a first epoch of seconds can take minutes on a busy machine
    while not (run / "checkpoint.safetensors").exists() and time.time() < deadline:
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=180)
    assert process.returncode == 130 and "Traceback" not in stderr, stderr
    assert "interrupted after epoch " in stderr
    assert f"continue with: rnnzoo train --resume --out {run}" in stderr
    assert json.loads((run / "config.json").read_text())["epochs"] == 500  # nothing lost
