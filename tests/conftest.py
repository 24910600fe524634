import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_cli(
    *args: str, env: dict | None = None, cwd: Path | None = None, timeout: float = 300
) -> subprocess.CompletedProcess:
    """Run ``python -m rnnzoo ARGS`` in a real subprocess."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "rnnzoo", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=timeout,
    )


CORE_CELLS = ("rnn", "lstm", "gru", "mgu")  # built in, and the plugin the README starts from


def every_cell() -> list:
    """Every installed cell, for parametrising: the core ones run by default, the others
    (the modern-cell plugins, a user's own) are marked ``allcells``."""
    import rnnzoo

    return [
        name if name in CORE_CELLS else pytest.param(name, marks=pytest.mark.allcells)
        for name in rnnzoo.list_cells()
    ]


@pytest.fixture
def cli():
    return run_cli


def sine_export(folder: Path, out: str, cell: str, quantize: str | None = None, **options):
    """Train ``cell`` on small sine data into ``folder/run`` and export it to ``folder/out``,
    verified on onnxruntime only (the other runtimes: tests/test_portability.py)."""
    import rnnzoo
    from rnnzoo.export import export_run

    options.setdefault("task_params", {"n_train": 2000, "n_test": 200})
    rnnzoo.train("sine", cell, out=str(folder / "run"), quiet=True, **options)
    return export_run(folder / "run", folder / out, quantize=quantize, runtimes=["onnxruntime"])
