"""Ctrl-C in the first seconds of a command, in real subprocesses: it always stops the command
with exit status 130 and leaves no half-made run (rnnzoo.interrupts)."""

import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.test_faults import SLOW


def default_sigint() -> None:
    """A test run started in the background (`cmd &`) inherits SIGINT ignored, and Python then
    never turns it into KeyboardInterrupt: the child gets the default back."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("seconds", [0.5, 1.0, 2.0])
def test_ctrl_c_early_in_train_stops_it_and_keeps_no_half_run(tmp_path, seconds):
    run = tmp_path / "run"
    args = [*SLOW[:6], "--param", "n_train=2000", "--epochs", "50", "--out", str(run), "--quiet"]
    process = subprocess.Popen(
        [sys.executable, "-m", "rnnzoo", "train", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=default_sigint,
    )
    time.sleep(seconds)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=180)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr and stderr.startswith("interrupted"), stderr
    assert len(stderr.splitlines()) == 1, stderr
    left = sorted(p.name for p in run.iterdir()) if run.exists() else []
    if left:  # interrupted after its first epoch: a run that --resume continues
        assert (run / "checkpoint.safetensors").is_file(), left
        assert json.loads((run / "config.json").read_text())["epochs"] == 50
        assert not list(run.glob(".*.tmp*"))


def test_ctrl_c_during_an_import_that_swallows_it_still_stops(tmp_path):
    """A library whose import code swallows KeyboardInterrupt (one in torch's did): the Ctrl-C
    is held until the import ends, then stops the program."""
    (tmp_path / "swallows.py").write_text(
        textwrap.dedent(
            """
            import os, signal, time
            try:
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.5)
            except BaseException:
                pass
            """
        )
    )
    program = textwrap.dedent(
        f"""
        import sys, time
        from rnnzoo import interrupts
        interrupts.install()
        sys.path.insert(0, {str(tmp_path)!r})
        try:
            import swallows
            time.sleep(5)
        except KeyboardInterrupt:
            sys.exit(130)
        """
    )
    started = time.time()
    result = subprocess.run(
        [sys.executable, "-c", program], preexec_fn=default_sigint, cwd=Path(__file__).parents[1]
    )
    assert result.returncode == 130
    assert time.time() - started < 4  # stopped right after the import, not after the sleep
