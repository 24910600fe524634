"""Streaming one new sample with the step graph against re-running the sequence so far, in a
process that never imports PyTorch (as deployed: PyTorch's idle threads would otherwise
compete with onnxruntime's and inflate the step times several-fold).

    .venv/bin/python benchmarks/streaming.py [EXPORT_FOLDER ...]

Without folders: every model on the shelf (``exports/``) with a step graph of one feature row.
Prints one JSON object, ``{folder name: {step_us, rerun_us, rerun_over_step}}``;
``benchmarks/runtime_speed.py`` runs it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from rnnzoo.runtime import Model

ROOT = Path(__file__).resolve().parents[1]
THREADS = 2


def shelf() -> list[Path]:
    """The shelf's models as the repository ships them (git-tracked cards), not a user's own
    exports beside them (``exports/quickstart``, ``exports/my-*``)."""
    listed = subprocess.run(
        ["git", "ls-files", "exports/*/card.json"], cwd=ROOT, capture_output=True, text=True
    )
    cards = listed.stdout.split() if listed.returncode == 0 else []
    if cards:
        return sorted((ROOT / card).parent for card in cards)
    return sorted(card.parent for card in (ROOT / "exports").glob("*/card.json"))


def streaming(runtime: Model, steps: int = 100) -> dict:
    """A new sample of a stream at T = ``steps``: one step of the step graph, against
    re-running the whole sequence so far (the last ``steps`` samples); the fastest of 7 rounds
    of ``steps`` samples each, interleaved (as in ``runtime_speed.interleaved``)."""
    features = runtime.runner.step_shape[0]
    x = np.random.default_rng(1).random((1, steps, features), np.float32)
    samples = [np.ascontiguousarray(x[:, t]) for t in range(steps)]
    stream = runtime.stream()
    stream.step(samples[0])  # the first step is checked; the rest take the fast path
    step_times, rerun_times = [], []
    for _ in range(7):
        start = time.perf_counter()
        for sample in samples:
            stream.step(sample)
        step_times.append((time.perf_counter() - start) / steps)
        start = time.perf_counter()
        for _ in range(steps // 10):
            runtime.predict(x)
        rerun_times.append((time.perf_counter() - start) / (steps // 10))
    step, rerun = min(step_times), min(rerun_times)
    return {
        "step_us": round(1e6 * step, 1),
        "rerun_us": round(1e6 * rerun, 1),
        "rerun_over_step": round(rerun / step, 1),
    }


def main(folders: list[Path]) -> None:
    out = {}
    for folder in folders or [f for f in shelf() if (f / "model.step.onnx").is_file()]:
        runtime = Model(folder, threads=THREADS)
        if len(runtime.runner.step_shape) != 1:
            continue  # frames (video): streamed the same way, but not one feature row
        out[folder.name] = streaming(runtime)
        print(folder.name, out[folder.name], file=sys.stderr, flush=True)
    assert "torch" not in sys.modules
    print(json.dumps(out))


if __name__ == "__main__":
    main([Path(p) for p in sys.argv[1:]])
