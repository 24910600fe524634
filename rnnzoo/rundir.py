"""The run directory: its files, the training config type, and loading a trained run.

``runs/NAME/`` holds, each written atomically (``rnnzoo.checkpoint``):

- ``config.json``: the ``TrainConfig`` — everything needed to rebuild the model and continue;
- ``data.json``: the sha256 of each data file the model depends on;
- ``model.safetensors``: the best weights so far (what evaluate and export use);
- ``checkpoint.safetensors``: the last epoch's weights, optimizer, scheduler and RNG state;
- ``metrics.jsonl``: one line per epoch; ``summary.json``: the final metrics;
- ``curve.png``, ``predictions.png``: plots;
- ``.lock``: held by the process training into it (an OS lock: a dead process holds nothing);
- ``.previous/``: with ``--overwrite``, the replaced run's files until the new run's first
  checkpoint is written (any later command puts them back if the new run died before that).

In Python::

    run = rnnzoo.load_run("runs/sine-lstm")   # validated config, task, data, trained model
    run.model(run.splits["test"].x[:4])
"""

from __future__ import annotations

import dataclasses
import math
import os
import shlex
import shutil
from dataclasses import MISSING, dataclass, field
from pathlib import Path
from typing import Any

from rnnzoo.card import stack_size
from rnnzoo.errors import UserError
from rnnzoo.files import (
    TEMPORARY,
    Lock,
    file_digest,
    parse_json,
    remove_leftovers,
    sync_folder,
    write_json,
)

SCHEDULES = ("constant", "onecycle")
RESUMABLE_WITH = ("epochs", "patience", "max_steps")  # what --resume may change: how long it runs
COMPILE_MODES = ("auto", "on", "off")  # see rnnzoo.trainer.compiling

# the largest values the options take: far beyond any sensible run, and small enough that a typo
# (an extra zero or two) is refused at once instead of hanging or exhausting the memory
LARGEST = {
    "hidden": 8192,
    "layers": 64,
    "epochs": 1_000_000,
    "batch_size": 1 << 20,
    "tbptt": 1 << 20,
    "patience": 1_000_000,
    "max_steps": 1 << 40,
    "seed": 2**63 - 1,
}


@dataclass
class TrainConfig:
    """Everything a run needs; saved as ``config.json``."""

    task: str
    cell: str
    task_params: dict[str, Any] = field(default_factory=dict)
    cell_params: dict[str, Any] = field(default_factory=dict)
    hidden: int = 128
    layers: int = 1
    bidirectional: bool = False
    dropout: float = 0.0
    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.0
    schedule: str = "constant"  # or "onecycle"
    clip: float = 1.0  # max gradient norm; 0 turns clipping off
    tbptt: int = 0  # truncated BPTT window in steps (seq2seq tasks); 0 = full BPTT
    patience: int = 0  # early stopping: epochs without improvement; 0 = never stop early
    max_steps: int = 0  # stop after this many optimizer steps; 0 = no limit
    seed: int = 0
    device: str = "auto"
    amp: bool = False
    compile: str = "auto"  # torch.compile: auto (where it pays), on or off

    def __post_init__(self) -> None:
        self.check()

    def planned_epochs(self, steps_per_epoch: int) -> int:
        """The epochs the run will train: ``epochs``, or fewer where ``max_steps`` ends it
        first (what the header, the time left and ``rnnzoo runs`` count to)."""
        if not self.max_steps or steps_per_epoch < 1:
            return self.epochs
        return min(self.epochs, -(-self.max_steps // steps_per_epoch))

    def check(self) -> None:
        """Refuse a wrong type or value with one line naming the option."""
        for spec in dataclasses.fields(self):
            value = getattr(self, spec.name)
            wanted = {"int": int, "float": float, "bool": bool, "str": str}.get(str(spec.type))
            if spec.name in ("task_params", "cell_params"):
                wanted = dict
            ok = isinstance(value, wanted) and not (wanted is int and isinstance(value, bool))
            if wanted is float and isinstance(value, int) and not isinstance(value, bool):
                ok = True
            if not ok:
                raise UserError(f"{option(spec.name)} must be {wanted.__name__}, not {value!r}")
            if wanted is float and not math.isfinite(value):
                raise UserError(f"{option(spec.name)} must be a finite number, not {value}")
        if self.compile not in COMPILE_MODES:
            raise UserError(f"--compile must be auto, on or off, not {self.compile!r}")
        if self.schedule not in SCHEDULES:
            raise UserError(f"--schedule must be constant or onecycle, not {self.schedule!r}")
        for name in ("hidden", "layers", "epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise UserError(f"{option(name)} must be at least 1")
        if self.lr <= 0:
            raise UserError("--lr must be positive")
        for name in ("weight_decay", "clip", "tbptt", "patience", "max_steps", "seed"):
            if getattr(self, name) < 0:
                raise UserError(f"{option(name)} must be zero or more")
        for name, largest in LARGEST.items():
            if getattr(self, name) > largest:
                raise UserError(
                    f"{option(name)} must be at most {largest}, not {getattr(self, name)}"
                )
        if not 0 <= self.dropout < 1:
            raise UserError(f"--dropout must be in [0, 1), not {self.dropout}")

    @classmethod
    def from_dict(cls, data: Any, source: str = "config") -> TrainConfig:
        """A config from ``config.json``'s contents: unknown or missing keys, wrong types
        and values are one line naming ``source``."""
        if not isinstance(data, dict):
            raise UserError(f"{source}: expected a JSON object of training options")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise UserError(f"{source}: unknown training option(s) {', '.join(unknown)}")
        missing = [n for n in ("task", "cell") if n not in data]
        if missing:
            raise UserError(f"{source}: lacks {', '.join(missing)}; not an rnnzoo run")
        try:
            return cls(**data)
        except UserError as error:
            raise UserError(f"{source}: {error}") from None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def command(self, out: str) -> str:
        """The ``rnnzoo train`` command line that trains this config again into ``out``:
        every option spelled out, so that later changes to a task's recommended values do
        not change what it trains. (``device``, ``amp`` and ``compile`` are left to the
        machine it runs on.)"""
        words = ["rnnzoo", "train", "--task", self.task, "--cell", self.cell]
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in ("task", "cell", "task_params", "cell_params", "device", "amp", "compile"):
                continue
            if isinstance(value, bool):
                words.append("--bidirectional" if value else "--unidirectional")
            else:
                words += [option(f.name), str(value)]
        for scope, params in (("cell", self.cell_params), ("task", self.task_params)):
            for key, value in params.items():
                text = str(value).lower() if isinstance(value, bool) else str(value)
                words += ["--param", f"{scope}.{key}={text}"]
        return shlex.join([*words, "--out", out])


def trainer_defaults() -> dict[str, Any]:
    """Each training option's default when neither the user nor the task sets it."""
    return {f.name: f.default for f in dataclasses.fields(TrainConfig) if f.default is not MISSING}


def option(name: str) -> str:
    """The command-line spelling of a config field."""
    return "--" + name.replace("_", "-")


def config_with_defaults(task: str, cell: str, **given: Any) -> TrainConfig:
    """A config from the given values, else the task's recommended ones, else the defaults.

    ``given`` values that are ``None`` count as not given.
    """
    from rnnzoo.registry import get_task_class

    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = set(given) - fields
    if unknown:
        raise UserError(f"unknown training option(s) {sorted(unknown)}; valid: {sorted(fields)}")
    task_class = get_task_class(task)
    values = dict(task_class.defaults)
    values.update({k: v for k, v in given.items() if v is not None})
    params = values.get("task_params")
    if isinstance(params, dict):  # absolute: the run works from any folder
        values["task_params"] = {
            k: os.path.abspath(os.path.expanduser(v))
            if k in task_class.path_params and isinstance(v, str) and v
            else v
            for k, v in params.items()
        }
    if isinstance(values.get("compile"), bool):  # rnnzoo.train(..., compile=True)
        values["compile"] = "on" if values["compile"] else "off"
    return TrainConfig(task=task, cell=cell, **values)


@dataclass
class LoadedRun:
    """A trained run in memory: its config, task, data, family and model (eval mode)."""

    path: Path
    config: TrainConfig
    task: Any
    splits: dict[str, Any]
    family: Any
    model: Any
    summary: dict[str, Any]


class RunDir:
    """One run directory and the names of its files."""

    CONFIG = "config.json"
    DATA = "data.json"
    WEIGHTS = "model.safetensors"
    CHECKPOINT = "checkpoint.safetensors"
    METRICS = "metrics.jsonl"
    SUMMARY = "summary.json"
    CURVE = "curve.png"
    PREDICTIONS = "predictions.png"
    FILES = (CONFIG, DATA, WEIGHTS, CHECKPOINT, METRICS, SUMMARY, CURVE, PREDICTIONS)
    LOCK = ".lock"
    PREVIOUS = ".previous"

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def __str__(self) -> str:
        return str(self.path)

    def file(self, name: str) -> Path:
        return self.path / name

    @property
    def config_path(self) -> Path:
        return self.path / self.CONFIG

    @property
    def weights_path(self) -> Path:
        return self.path / self.WEIGHTS

    @property
    def checkpoint_path(self) -> Path:
        return self.path / self.CHECKPOINT

    @property
    def metrics_path(self) -> Path:
        return self.path / self.METRICS

    @property
    def summary_path(self) -> Path:
        return self.path / self.SUMMARY

    @classmethod
    def unused(cls, task: str, cell: str, root: str | Path = "runs") -> RunDir:
        """``runs/TASK-CELL``, or the first free ``runs/TASK-CELL-N``."""
        base = Path(root) / f"{task}-{cell}"
        candidate, n = base, 1
        while candidate.exists():
            n += 1
            candidate = base.with_name(f"{base.name}-{n}")
        return cls(candidate)

    def has_checkpoint(self) -> bool:
        return self.checkpoint_path.is_file()

    def check_files_are_files(self) -> None:
        """Refuse a run whose files are there but are not files (a folder in their place):
        resuming it would start over as if they were missing, or fail after writing."""
        for name in self.FILES:
            path = self.file(name)
            if path.exists() and not path.is_file():
                raise UserError(
                    f"{path}: not a file; restore it (or move it away) to resume, or train "
                    "again with --overwrite"
                )

    def existing_files(self) -> list[str]:
        """The names of the run files present."""
        return [name for name in self.FILES if self.file(name).exists()]

    def check_new(self, overwrite: bool) -> None:
        """Refuse to start a new run here when the folder holds run files, unless
        ``overwrite`` and they are an rnnzoo run's; never touch a user's own files."""
        existing = self.existing_files()
        if not existing:
            return
        try:
            self.read_config()
        except UserError as error:
            raise UserError(
                f"{self.path} holds {', '.join(existing)} but is not an rnnzoo run ({error}); "
                "nothing was changed: choose another --out"
            ) from None
        if not overwrite:
            state = "a run" if self.has_checkpoint() else "an unfinished run (no checkpoint)"
            raise UserError(
                f"{self.path} already holds {state}; pass --resume to continue it, "
                "--overwrite to replace it, or choose another --out"
            )

    def lock(self) -> Lock:
        """The lock a process holds while it writes this run."""
        return Lock(self.file(self.LOCK), f"run directory {self.path}")

    def move_aside(self) -> None:
        """Move the run files into ``.previous/`` (replaced by a new run): they come back if
        the new run fails before its first checkpoint (``restore_previous``, ``recover``)."""
        previous = self.file(self.PREVIOUS)
        previous.mkdir()
        for name in self.existing_files():
            os.replace(self.file(name), previous / name)
        sync_folder(self.path)

    def drop_previous(self) -> None:
        """The new run has a checkpoint: the replaced one's files can go."""
        shutil.rmtree(self.file(self.PREVIOUS), ignore_errors=True)

    def restore_previous(self) -> None:
        """Remove the unfinished new run's files and put the replaced run's back."""
        previous = self.file(self.PREVIOUS)
        self.remove_files()
        for path in previous.iterdir():
            os.replace(path, self.file(path.name))
        previous.rmdir()
        sync_folder(self.path)

    def remove_files(self) -> None:
        """Delete the run's files and temporary files (by the holder of the lock)."""
        for name in self.FILES:
            self.file(name).unlink(missing_ok=True)
        remove_leftovers(self.path)

    def recover(self) -> None:
        """Finish what a killed command left: put back a replaced run whose successor never
        wrote a checkpoint (or drop it if it did), and delete temporary files. Only when no
        other process holds the run's lock (it may be writing them)."""
        if not self.file(self.PREVIOUS).is_dir() and not any(self.path.glob(TEMPORARY)):
            return  # nothing to do (and no lock file made in a folder that may be read-only)
        lock = self.lock()
        if not lock.try_acquire():
            return
        try:
            self.recover_locked()
        finally:
            lock.release()

    def recover_locked(self) -> None:
        """``recover`` for the holder of the lock."""
        if self.file(self.PREVIOUS).is_dir():
            if self.has_checkpoint():
                self.drop_previous()
            else:
                self.restore_previous()
        remove_leftovers(self.path)

    def read_config(self) -> TrainConfig:
        if not self.config_path.is_file():
            raise UserError(
                f"{self.path}: not a run directory (no config.json); train one with "
                "'rnnzoo train --task T --cell C --out DIR'"
            )
        try:
            data = parse_json(self.config_path.read_text())
        except (ValueError, UnicodeDecodeError) as error:
            raise UserError(f"{self.config_path}: not valid JSON ({error})") from None
        return TrainConfig.from_dict(data, str(self.config_path))

    def write_config(self, config: TrainConfig) -> None:
        write_json(self.config_path, config.to_dict())

    def read_summary(self) -> dict[str, Any]:
        """``summary.json``, or ``{}`` when missing or unreadable (the metrics are optional
        wherever it is read; the weights are what matter)."""
        try:
            summary = parse_json(self.summary_path.read_text())
        except (OSError, ValueError):
            return {}
        return summary if isinstance(summary, dict) else {}

    def read_metrics(self) -> list[dict[str, Any]]:
        """The records of ``metrics.jsonl`` (none when it is missing), skipping any line that
        is not one (a line a kill tore)."""
        if not self.metrics_path.is_file():
            return []
        records = []
        for line in self.metrics_path.read_text(errors="replace").splitlines():
            try:
                record = parse_json(line)
            except ValueError:
                continue
            if isinstance(record, dict) and isinstance(record.get("epoch"), int):
                records.append(record)
        return records

    def record_data(self, task: Any) -> None:
        """Write the digests of the files the run is trained on (``data.json``)."""
        write_json(self.file(self.DATA), _data_digests(task))

    def check_data(self, task: Any) -> None:
        """Refuse data files whose contents changed since the run recorded them."""
        path = self.file(self.DATA)
        if not path.is_file():
            return
        try:
            recorded = parse_json(path.read_text())
        except ValueError as error:
            raise UserError(f"{path}: not valid JSON ({error})") from None
        if not isinstance(recorded, dict):
            raise UserError(f"{path}: expected a JSON object of file digests")
        for name, digest in _data_digests(task).items():
            if recorded.get(name, digest) != digest:
                raise UserError(
                    f"{name} changed since {self.path} was trained on it (its sha256 differs); "
                    "the model depends on its contents: use the same file, or train again"
                )

    def load_weights(self, model: Any, name: str = WEIGHTS) -> None:
        """Put the run's weights file ``name`` into ``model``; a missing, damaged or
        mismatched file is one line."""
        from rnnzoo.checkpoint import load_weights

        path = self.file(name)
        if not path.is_file():
            raise UserError(f"{path}: no weights yet; the run has not finished an epoch")
        try:
            load_weights(path, model)
        except UserError:  # damaged: said by the reader
            raise
        except Exception as error:  # weights of another model
            lines = [line.strip() for line in str(error).splitlines() if line.strip()]
            detail = " ".join(lines[1:2] or lines[:1])[:200]  # the first mismatch, not a header
            raise UserError(
                f"{path}: cannot load these weights into the model that config.json "
                f"describes ({detail})"
            ) from None

    def load(self, weights: str = WEIGHTS) -> LoadedRun:
        """The run's task (data loaded and checked), its trained model in eval mode, and the
        rest of what export, evaluate and generate need."""
        from rnnzoo.families.base import family_of
        from rnnzoo.registry import create_task

        self.recover()
        config = self.read_config()
        task = create_task(config.task, config.task_params)
        splits = task.load()
        self.check_data(task)
        family = family_of(task)
        model = family.build(task, config)
        self.load_weights(model, weights)
        return LoadedRun(self.path, config, task, splits, family, model.eval(), self.read_summary())


def _data_digests(task: Any) -> dict[str, str]:
    """``{path: sha256}`` of the task's data files (after ``task.load()``); a folder of class
    folders by every file in it."""
    found = {}
    for path in map(Path, task.data_files()):
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        found.update({str(file): file_digest(file) for file in files})
    return found


def load_run(path: str | Path) -> LoadedRun:
    """A trained run, ready to use: ``load_run("runs/sine-lstm").model``."""
    return RunDir(path).load()


def compare_runs(folder: str | Path) -> list[dict[str, Any]]:
    """A row per run directory directly in ``folder`` (sorted by name): its config, epochs,
    best epoch, the main test metric beside its baseline and the time; an unfinished run
    shows the epochs done so far. Folders that are not runs are left out."""
    rows = []
    root = Path(folder)
    if not root.is_dir():
        raise UserError(f"{folder}: no such folder")
    for path in sorted(p for p in root.iterdir() if (p / RunDir.CONFIG).is_file()):
        run = RunDir(path)
        try:
            config = run.read_config()
        except UserError:
            continue
        summary, records = run.read_summary(), run.read_metrics()
        versus = summary.get("against_baseline") or summary_versus(summary)
        metric = versus.get("metric")
        rows.append(
            {
                "run": path.name,
                "task": config.task,
                "cell": config.cell,
                "size": stack_size(config.layers, config.hidden, config.bidirectional),
                "epochs": f"{records[-1]['epoch'] if records else 0}/{planned(config, records)}",
                "best_epoch": summary.get("best_epoch", "-"),
                "metric": f"{metric} {versus['model']:.4g}" if metric else "unfinished",
                "baseline": f"{versus['baseline']:.4g}"
                if versus.get("baseline") is not None
                else "-",
                "seconds": summary.get("wall_seconds", "-"),
            }
        )
    return rows


def planned(config: TrainConfig, records: list[dict[str, Any]]) -> int:
    """A run's planned epochs from its config and its first epoch's steps."""
    first = records[0] if records else {}
    return config.planned_epochs(first.get("step", 0) // max(first.get("epoch", 1), 1))


def summary_versus(summary: dict[str, Any]) -> dict[str, Any]:
    """The first test metric and its baseline from a summary written before summaries
    carried ``against_baseline``."""
    test, baseline = summary.get("test"), summary.get("baseline_test") or {}
    if not isinstance(test, dict) or not test:
        return {}
    metric = next(iter(test))
    return {"metric": metric, "model": test[metric], "baseline": baseline.get(metric)}
