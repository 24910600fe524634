"""The edge targets' files on their own runtimes, checked against onnxruntime: ``verify``
streams an export's example through every target file the card lists (each target's module in
``rnnzoo.targets`` says how its files run) against ``model.step.onnx``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from rnnzoo.registry import tables, target_names
from rnnzoo.registry import target as find_target
from rnnzoo.targets.base import Step, stream_rows


def is_target(name: str) -> bool:
    """Whether ``name`` (from ``verify --runtime``) names an edge target."""
    return name in target_names(tables())


def drift(expected: list[np.ndarray], got: list[np.ndarray], classes: bool) -> tuple[str, float]:
    """An integer file against fp32 over streamed rows' answers, by what the metric sees: the
    share of answers whose top class changes (classifiers), else the mean |difference| as a
    share of the mean |fp32 value| — status ok within the integer goals (2 points, 5 %)."""
    want, have = np.concatenate(expected), np.concatenate(got)
    if classes:
        value = float((want.argmax(-1) != have.argmax(-1)).mean())
        return ("ok" if value <= 0.02 else f"top class changes on {value:.1%} of steps"), value
    value = float(np.abs(want - have).mean() / max(np.abs(want).mean(), 1e-12))
    return ("ok" if value <= 0.05 else f"drifts by {value:.1%} of fp32's values"), value


def verify(
    folder: Path,
    card: dict[str, Any],
    reference: Step,
    starts: list[np.ndarray],
    x: np.ndarray,
    lengths: np.ndarray,
    names: list[str] | None = None,
) -> dict[str, Any]:
    """Each edge target of the card, where its runtime is installed: every row of ``x``
    streamed through its files and through ``reference`` (onnxruntime on the step graph).
    fp32 files must match within ``closeness.tolerance`` of the stream's length; integer files
    are judged by ``drift``. ``names`` picks targets (default: all). The same report shape as
    ``rnnzoo.runtime.engines.compare``."""
    from rnnzoo import closeness

    expected = stream_rows(reference, x, lengths, starts)
    classes = bool(card.get("labels"))
    wanted = {find_target(n).name for n in names or []}
    report: dict[str, Any] = {}
    for name, entry in card.get("targets", {}).items():
        target = find_target(name)
        if wanted and target.name not in wanted:
            continue
        reason = target.missing(writing=False)
        if reason:
            report[target.name] = {"version": "", "skipped": reason, "files": {}}
            continue
        results, worst = {}, 0.0
        for file in target.step_files(entry):
            try:
                got = target.stream(folder, file, entry, x, lengths, starts)
            except Exception as error:  # each runtime fails in its own words
                results[file] = "fails: " + (" ".join(str(error).split()) or "error")[:200]
                continue
            if ".int" in file:  # a sequence's one answer is its last step's, unless per step
                last = slice(None) if card.get("per_step") else slice(-1, None)
                results[file], _ = drift(
                    [e[last] for e in expected], [g[last] for g in got], classes
                )
                continue
            value = closeness.worst(zip(expected, got))
            worst = max(worst, value)
            results[file] = closeness.status(value, x.shape[1])
        report[target.name] = {"version": target.version(), "files": results, "max_diff": worst}
    return report
