"""onnxruntime sessions with its failures turned into one-line errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime

from rnnzoo.errors import RuntimeInputError


def first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def open_session(
    model: str | Path | bytes, threads: int | None = None, step: bool = False
) -> onnxruntime.InferenceSession:
    """An onnxruntime CPU session for a model file or serialized model.

    ``step``: a one-step graph for streaming, run once per sample on small tensors. It gets
    one thread (the pool's wake-ups cost more than the step's operators) and no memory arena
    (its bookkeeping cost 0.3-1.3 µs a call, 5-10 % of a small model's step).

    int8 files keep their weights as int8 behind ``DequantizeLinear`` (standard operators, so
    every runtime reads them). onnxruntime keeps such nodes out of constant folding to leave
    them for its quantized-operator fusions, so they would dequantize every weight on every
    call (1.1-1.3x fp32's latency); ``session.disable_quant_qdq`` lets it fold them once at
    load, and an int8 file runs at fp32's speed. Float graphs are not affected."""
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    options.add_session_config_entry("session.disable_quant_qdq", "1")
    if threads or step:
        options.intra_op_num_threads = 1 if step else threads
    options.enable_cpu_mem_arena = not step
    source = model if isinstance(model, bytes) else str(model)
    try:
        return onnxruntime.InferenceSession(source, options, providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime raises its own exception types
        name = "the model" if isinstance(model, bytes) else model
        raise RuntimeInputError(
            f"{name}: not a model onnxruntime can load ({first_line(error)})"
        ) from None


def zero_state(
    session: onnxruntime.InferenceSession, batch: int, skip: int = 1
) -> dict[str, np.ndarray]:
    """Zeros for every input of a graph after the first ``skip`` (the state it carries)."""
    return {
        i.name: np.zeros([batch if not isinstance(d, int) else d for d in i.shape], np.float32)
        for i in session.get_inputs()[skip:]
    }


def run(
    session: onnxruntime.InferenceSession,
    feeds: dict[str, np.ndarray],
    outputs: list[str] | None = None,
) -> list[np.ndarray]:
    """``session.run`` with onnxruntime's failures turned into one-line errors."""
    try:
        return session.run(outputs, feeds)
    except Exception as error:
        raise RuntimeInputError(
            f"onnxruntime could not run the model: {first_line(error)}"
        ) from None
