"""Writing run files atomically (temporary file + rename), never as pickles: JSON, weights as
safetensors, and checkpoints — weights, optimizer, scheduler and RNG state in one safetensors
file, with the JSON-able rest of the training state in its metadata, so one rename makes the
whole checkpoint visible at once. Which files a run has is ``rnnzoo.rundir.RunDir``'s business."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, safe_open, save_file


def atomic_write(path: Path, write: Callable[[str], None]) -> None:
    """Call ``write(tmp_path)`` then move the temporary file onto ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, value: Any) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(value, indent=2) + "\n"))


def save_weights(
    path: Path, module: torch.nn.Module, metadata: dict[str, str] | None = None
) -> None:
    tensors = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata=metadata))


def load_weights(path: Path, module: torch.nn.Module) -> None:
    module.load_state_dict(load_file(path))


def _split_state(prefix: str, state: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """Move every tensor of a nested state into ``tensors``; return the JSON-able rest."""
    if isinstance(state, torch.Tensor):
        tensors[prefix] = state.detach().cpu().contiguous()
        return {"__tensor__": prefix}
    if isinstance(state, dict):
        return {str(k): _split_state(f"{prefix}.{k}", v, tensors) for k, v in state.items()}
    if isinstance(state, (list, tuple)):
        return [_split_state(f"{prefix}.{i}", v, tensors) for i, v in enumerate(state)]
    return state


def _join_state(state: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(state, dict):
        if set(state) == {"__tensor__"}:
            return tensors[state["__tensor__"]]
        return {k: _join_state(v, tensors) for k, v in state.items()}
    if isinstance(state, list):
        return [_join_state(v, tensors) for v in state]
    return state


def save_checkpoint(path: Path, parts: dict[str, Any]) -> None:
    """Save nested state dicts (model, optimizer, scheduler, RNG, counters) in one file."""
    tensors: dict[str, torch.Tensor] = {}
    rest = _split_state("s", parts, tensors)
    atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata={"state": json.dumps(rest)}))


def load_checkpoint(path: Path) -> dict[str, Any]:
    tensors = load_file(path)
    with safe_open(path, framework="pt") as f:
        rest = json.loads(f.metadata()["state"])
    state = _join_state(rest, tensors)
    return _int_keys(state)


def _int_keys(state: Any) -> Any:
    """Optimizer state is keyed by parameter index; JSON turned those keys into strings."""
    if isinstance(state, dict):
        return {(int(k) if k.isdigit() else k): _int_keys(v) for k, v in state.items()}
    if isinstance(state, list):
        return [_int_keys(v) for v in state]
    return state
