"""Rebuilding tasks and models from names, parameters and run directories."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from rnnzoo.errors import UserError
from rnnzoo.registry import check_params, get_task_class, params_of

RUN_KEYS = (
    "task",
    "task_params",
    "cell",
    "cell_params",
    "hidden",
    "layers",
    "bidirectional",
    "dropout",
)


def create_task(name: str, params: dict[str, Any] | None = None):
    """Build a registered task by name, refusing parameters it does not declare."""
    cls = get_task_class(name)
    params = params or {}
    check_params("task", name, params, params_of(cls))
    return cls(**params)


DATA_RECORD = "data.json"


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def data_digests(task) -> dict[str, str]:
    """``{path: sha256}`` of the task's data files (after ``task.load()``)."""
    return {str(path): file_digest(Path(path)) for path in task.data_files()}


def record_data(run_dir: str | Path, task) -> None:
    """Write the digests of the files a run was trained on (``data.json``)."""
    from rnnzoo.checkpoint import write_json

    write_json(Path(run_dir) / DATA_RECORD, data_digests(task))


def check_data(run_dir: str | Path, task) -> None:
    """Refuse data files whose contents changed since the run recorded them."""
    path = Path(run_dir) / DATA_RECORD
    if not path.is_file():
        return
    try:
        recorded = json.loads(path.read_text())
    except ValueError as error:
        raise UserError(f"{path}: not valid JSON ({error})") from None
    for name, digest in data_digests(task).items():
        if recorded.get(name, digest) != digest:
            raise UserError(
                f"{name} changed since {run_dir} was trained on it (its sha256 differs); "
                "the model depends on its contents: use the same file, or train again"
            )


def read_run_config(run_dir: str | Path) -> dict[str, Any]:
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        raise UserError(
            f"{run_dir}: not a run directory (no config.json); train one with "
            "'rnnzoo train --task T --cell C --out DIR'"
        )
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise UserError(f"{path}: not valid JSON ({error})") from error


def load_run(run_dir: str | Path, weights: str = "model.safetensors"):
    """The task (with its data loaded), the trained model in eval mode, and the config."""
    from rnnzoo.checkpoint import load_weights
    from rnnzoo.model import build_model

    config = read_run_config(run_dir)
    missing = [k for k in RUN_KEYS if k not in config]
    if missing:
        raise UserError(f"{run_dir}/config.json lacks {', '.join(missing)}; not an rnnzoo run")
    task = create_task(config["task"], config["task_params"])
    splits = task.load()
    check_data(run_dir, task)
    model = build_model(
        task,
        config["cell"],
        config["hidden"],
        config["layers"],
        config["bidirectional"],
        config["dropout"],
        config["cell_params"],
    )
    path = Path(run_dir) / weights
    if not path.is_file():
        raise UserError(f"{path}: no weights yet; the run has not finished an epoch")
    try:
        load_weights(path, model)
    except Exception as error:  # a corrupt file, or weights of another model
        raise UserError(
            f"{path}: cannot load these weights into the model that config.json "
            f"describes ({str(error).splitlines()[0][:200]})"
        ) from None
    return task, splits, model.eval(), config
