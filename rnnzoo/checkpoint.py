"""Writing run files atomically (temporary file + rename), never as pickles: JSON, weights as
safetensors, and checkpoints — weights, optimizer, scheduler and RNG state in one safetensors
file, with the JSON-able rest of the training state in its metadata, so one rename makes the
whole checkpoint visible at once. Each file records a sha256 of its tensors in its metadata,
checked whenever it is read, so damaged weights are refused rather than used. Which files a run
has is ``rnnzoo.rundir.RunDir``'s business."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save_file

from rnnzoo.errors import UserError
from rnnzoo.files import atomic_write, parse_json

CHECKSUM = "rnnzoo_sha256"
METADATA_CHECKSUM = "rnnzoo_metadata_sha256"  # files written before it have tensors' only


def tensors_digest(tensors: dict[str, torch.Tensor]) -> str:
    """sha256 of every tensor's name, dtype, shape and bytes, in name order: recorded in the
    file's metadata when it is written, recomputed when it is read."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        tensor = tensors[name].detach().cpu().contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def metadata_digest(metadata: dict[str, str]) -> str:
    """sha256 of the metadata but its checksums (a checkpoint's counters, learning rates and
    schedule live there)."""
    rest = {k: v for k, v in metadata.items() if k not in (CHECKSUM, METADATA_CHECKSUM)}
    return hashlib.sha256(json.dumps(rest, sort_keys=True).encode()).hexdigest()


def save_tensors(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> None:
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    metadata = {
        **metadata,
        CHECKSUM: tensors_digest(tensors),
        METADATA_CHECKSUM: metadata_digest(metadata),
    }

    def write(tmp: str) -> None:
        try:
            save_file(tensors, tmp, metadata=metadata)
        except SafetensorError as error:  # an I/O error (a full disk) inside the Rust writer
            found = re.search(r"os error (\d+)", str(error))
            code = int(found.group(1)) if found else errno.EIO
            raise OSError(code, os.strerror(code), str(path)) from None

    atomic_write(path, write)


def load_tensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """The tensors and metadata of a safetensors file, checked against the recorded checksum;
    any damage is one ``UserError`` naming the file."""
    try:
        tensors = load_file(path)
        with safe_open(path, framework="pt") as f:
            metadata = f.metadata() or {}
    except (SafetensorError, OSError, ValueError, RuntimeError) as error:
        detail = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise UserError(f"{path}: not a readable safetensors file ({detail[:200]})") from None
    recorded = metadata.get(CHECKSUM)
    if recorded is not None and recorded != tensors_digest(tensors):
        raise UserError(
            f"{path}: its tensors do not match the checksum recorded when it was written; "
            "the file is corrupted (restore it from a backup, or train again)"
        )
    recorded = metadata.get(METADATA_CHECKSUM)
    if recorded is not None and recorded != metadata_digest(metadata):
        raise UserError(
            f"{path}: its metadata do not match the checksum recorded when it was written; "
            "the file is corrupted or was edited (restore it from a backup, or train again)"
        )
    return tensors, metadata


def save_weights(
    path: Path, module: torch.nn.Module, metadata: dict[str, str] | None = None
) -> None:
    save_tensors(path, module.state_dict(), metadata or {})


def load_weights(path: Path, module: torch.nn.Module) -> None:
    module.load_state_dict(load_tensors(path)[0])


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
    save_tensors(path, tensors, {"state": json.dumps(rest)})


def load_checkpoint(path: Path) -> dict[str, Any]:
    tensors, metadata = load_tensors(path)
    try:
        rest = parse_json(metadata["state"])
        return _int_keys(_join_state(rest, tensors))
    except (KeyError, ValueError, TypeError, AttributeError) as error:
        raise UserError(f"{path}: not an rnnzoo checkpoint (its state: {error!r})") from None


def _int_keys(state: Any) -> Any:
    """Optimizer state is keyed by parameter index; JSON turned those keys into strings."""
    if isinstance(state, dict):
        return {(int(k) if k.isdigit() else k): _int_keys(v) for k, v in state.items()}
    if isinstance(state, list):
        return [_int_keys(v) for v in state]
    return state
