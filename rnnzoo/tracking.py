"""Experiment tracking: what the trainer tells whoever follows a run (``Callback``), and the
two trackers behind ``rnnzoo train --log``: TensorBoard and MLflow, each an optional extra.

The trainer calls a callback on the main process only (under ``torchrun``, rank 0): ``start``
once, ``step`` after every optimizer step, ``epoch`` after each epoch's metrics line and
checkpoint are written, ``finish`` with the summary, then always ``close``. A callback may
end the run by raising from ``epoch`` (``rnnzoo.tuning`` prunes a poor trial that way).

The trackers open their files or their store at the first finished epoch — a run that fails
before it has a checkpoint leaves nothing behind, as it leaves no run files — and a tracker
that fails later (a store that went away) stops with one note while the run goes on.

- TensorBoard: ``RUN/tensorboard/``: the loss and learning rate every step, the epoch metrics,
  the plots as images and the hyperparameters with the final metrics (``tensorboard --logdir
  runs``).
- MLflow: the store that ``MLFLOW_TRACKING_URI`` names, else a SQLite file beside the run
  (``runs/mlflow.db``, artifacts in ``runs/mlartifacts/``: ``mlflow ui --backend-store-uri
  sqlite:///runs/mlflow.db``); a run named after the run directory, with the parameters, the
  metrics per epoch, the final ones, the run's files and plots; ``rnnzoo export`` adds the
  export (``log_export``). ``RUN/mlflow.json`` says which MLflow run it is.

Imports nothing of rnnzoo's but its error type: the trainer imports this module, never the
reverse.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import math
import os
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rnnzoo.errors import UserError

# --log NAME: (the module it needs, the extra that installs it)
TRACKERS = {"tensorboard": ("tensorboard", "tensorboard"), "mlflow": ("mlflow", "mlflow")}
PLOTS = ("curve.png", "predictions.png")  # drawn by the trainer into the run directory
RUN_FILES = ("config.json", "summary.json", "metrics.jsonl", *PLOTS)


def require(module: str, extra: str, what: str) -> None:
    """Refuse, in one line naming the pip command, a feature whose optional extra is missing."""
    if importlib.util.find_spec(module) is None:
        raise UserError(
            f"{what} needs {module}, which is not installed: pip install 'rnnzoo[{extra}]'"
        )


class Callback:
    """What the trainer calls while a run trains; each method does nothing here."""

    def start(self, run: Path, config: dict[str, Any], step: int) -> None:
        """The run starts (or resumes after ``step`` optimizer steps) in ``run``."""

    def step(self, step: int, loss: float, lr: float) -> None:
        """Optimizer step ``step`` (counted from 1) trained with ``loss`` at ``lr``."""

    def epoch(self, record: dict[str, Any]) -> None:
        """An epoch ended: its line of ``metrics.jsonl`` (``epoch``, ``step``, ``train_loss``,
        ``validation_*``, ``lr``...), already written with its checkpoint."""

    def finish(self, summary: dict[str, Any]) -> None:
        """The run ended: its summary and plots are written."""

    def close(self, error: BaseException | None) -> None:
        """Always last: ``error`` is what ended the run early, if anything."""


class Callbacks(Callback):
    """Several callbacks as one, called in order."""

    def __init__(self, callbacks: Iterable[Callback] = ()):
        self.callbacks = list(callbacks)

    def start(self, run: Path, config: dict[str, Any], step: int) -> None:
        for callback in self.callbacks:
            callback.start(run, config, step)

    def step(self, step: int, loss: float, lr: float) -> None:
        for callback in self.callbacks:
            callback.step(step, loss, lr)

    def epoch(self, record: dict[str, Any]) -> None:
        for callback in self.callbacks:
            callback.epoch(record)

    def finish(self, summary: dict[str, Any]) -> None:
        for callback in self.callbacks:
            callback.finish(summary)

    def close(self, error: BaseException | None) -> None:
        for callback in self.callbacks:
            callback.close(error)


def trackers(names: Iterable[str]) -> list[Callback]:
    """The trackers ``--log`` names, their extras checked before any training work."""
    chosen = list(dict.fromkeys(names))
    for name in chosen:
        if name not in TRACKERS:
            raise UserError(f"--log {name}: unknown tracker; choose from {', '.join(TRACKERS)}")
        module, extra = TRACKERS[name]
        require(module, extra, f"--log {name}")
    return [{"tensorboard": TensorBoardTracker, "mlflow": MlflowTracker}[n]() for n in chosen]


def flat_params(config: dict[str, Any]) -> dict[str, Any]:
    """A run's config as ``name: value`` pairs, the cell's and task's parameters prefixed
    (``cell.activation``, ``task.data``), values as numbers, booleans or text."""
    params = {}
    for key, value in config.items():
        if key in ("cell_params", "task_params"):
            scope = key.split("_")[0]
            params.update({f"{scope}.{k}": v for k, v in value.items()})
        else:
            params[key] = value
    return {k: v if isinstance(v, (bool, int, float, str)) else str(v) for k, v in params.items()}


def numbers(record: dict[str, Any]) -> dict[str, float]:
    """The finite numbers of a record (no counters, no text)."""
    return {
        k: float(v)
        for k, v in record.items()
        if isinstance(v, (int, float))
        and not isinstance(v, bool)
        and k not in ("epoch", "step")
        and math.isfinite(v)
    }


def final_metrics(summary: dict[str, Any]) -> dict[str, float]:
    """The summary's metrics as ``best_validation_X``, ``test_X`` and ``baseline_test_X``."""
    final = {}
    for part, prefix in (("validation", "best_validation"), ("test", "test")):
        final.update({f"{prefix}_{k}": v for k, v in numbers(summary.get(part) or {}).items()})
    final.update(
        {f"baseline_test_{k}": v for k, v in numbers(summary.get("baseline_test") or {}).items()}
    )
    return final


class Tracker(Callback):
    """A tracker opened at the first finished epoch; an error of its own is one note on
    stderr and the end of its tracking, never of the run."""

    name = ""

    def __init__(self) -> None:
        self.run: Path | None = None
        self.config: dict[str, Any] = {}
        self.first_step = 0
        self.opened = False
        self.broken = False
        self.pending: list[tuple[int, float, float]] = []  # steps before it opened

    def start(self, run: Path, config: dict[str, Any], step: int) -> None:
        self.run, self.config, self.first_step = Path(run), config, step

    def step(self, step: int, loss: float, lr: float) -> None:
        if self.opened:
            self.guarded(self.log_steps, [(step, loss, lr)])
        else:
            self.pending.append((step, loss, lr))

    def epoch(self, record: dict[str, Any]) -> None:
        self.open_once()
        self.guarded(self.log_epoch, record)

    def finish(self, summary: dict[str, Any]) -> None:
        self.open_once()  # a resumed run that was already at its end
        self.guarded(self.log_finish, summary)

    def open_once(self) -> None:
        if not self.opened and not self.broken:
            self.opened = self.guarded(self.open)
            self.guarded(self.log_steps, self.pending)
            self.pending = []

    def close(self, error: BaseException | None) -> None:
        if self.opened:
            self.guarded(self.log_close, error)

    def guarded(self, action: Any, *args: Any) -> bool:
        if self.broken:
            return False
        try:
            action(*args)
            return True
        except Exception as failure:
            self.broken = True
            line = (str(failure).splitlines() or [type(failure).__name__])[0][:300]
            print(f"note: --log {self.name} stopped ({line}); the run goes on", file=sys.stderr)
            return False

    def open(self) -> None:
        raise NotImplementedError

    def log_steps(self, steps: list[tuple[int, float, float]]) -> None:
        """Nothing per step (MLflow: a write per step would slow training down)."""

    def log_epoch(self, record: dict[str, Any]) -> None:
        raise NotImplementedError

    def log_finish(self, summary: dict[str, Any]) -> None:
        raise NotImplementedError

    def log_close(self, error: BaseException | None) -> None:
        raise NotImplementedError


class TensorBoardTracker(Tracker):
    """Event files in ``RUN/tensorboard/``, every value at its optimizer step."""

    name = "tensorboard"
    FOLDER = "tensorboard"

    def open(self) -> None:
        from torch.utils.tensorboard import SummaryWriter

        # purge_step hides an earlier attempt's events from the first step this one writes:
        # those past a resumed checkpoint, or all of a replaced run's
        self.writer = SummaryWriter(str(self.run / self.FOLDER), purge_step=self.first_step + 1)
        self.last_step = self.first_step

    def log_steps(self, steps: list[tuple[int, float, float]]) -> None:
        for step, loss, lr in steps:
            self.writer.add_scalar("step/train_loss", loss, step)
            self.writer.add_scalar("step/lr", lr, step)
            self.last_step = step

    def log_epoch(self, record: dict[str, Any]) -> None:
        step = record["step"]
        for key, value in numbers(record).items():
            group, _, metric = key.partition("_")
            tag = f"{group}/{metric}" if group in ("train", "validation") else f"epoch/{key}"
            self.writer.add_scalar(tag, value, step)
        self.writer.add_scalar("epoch/epoch", record["epoch"], step)
        self.writer.flush()

    def log_finish(self, summary: dict[str, Any]) -> None:
        from matplotlib.image import imread

        step = summary.get("steps", self.last_step)
        for name in PLOTS:
            path = self.run / name
            if path.is_file():
                image = imread(path)[..., :3]  # RGB of the RGBA PNG
                self.writer.add_image(f"plots/{path.stem}", image, step, dataformats="HWC")
        self.writer.add_hparams(
            flat_params(self.config),
            {f"hparam/{k}": v for k, v in final_metrics(summary).items()},
            run_name=".",  # beside the run's own events: one run in TensorBoard
            global_step=step,
        )

    def log_close(self, error: BaseException | None) -> None:
        self.writer.close()


class MlflowTracker(Tracker):
    """One MLflow run per run directory, continued on resume."""

    name = "mlflow"
    RECORD = "mlflow.json"

    def open(self) -> None:
        from mlflow import MlflowClient

        logging.getLogger("mlflow").setLevel(logging.WARNING)  # no notes on creating tables

        uri = os.environ.get("MLFLOW_TRACKING_URI") or default_store(self.run)
        self.finished = False
        self.client = MlflowClient(uri)
        saved = read_record(self.run)
        if self.first_step and saved.get("tracking_uri") == uri:  # resumed: the same run
            self.run_id = saved["run_id"]
            self.client.update_run(self.run_id, status="RUNNING")
            return
        experiment = experiment_id(self.client, uri)
        self.run_id = self.client.create_run(
            experiment,
            run_name=str(self.run),
            tags={"rnnzoo.task": self.config["task"], "rnnzoo.cell": self.config["cell"]},
        ).info.run_id
        from mlflow.entities import Param

        params = [Param(k, str(v)) for k, v in flat_params(self.config).items()]
        self.client.log_batch(self.run_id, params=params)
        record = {"tracking_uri": uri, "run_id": self.run_id}
        (self.run / self.RECORD).write_text(json.dumps(record, indent=2) + "\n")

    def log_metrics(self, values: dict[str, float], step: int) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [Metric(k, v, now, step) for k, v in values.items()]
        self.client.log_batch(self.run_id, metrics=metrics)

    def log_epoch(self, record: dict[str, Any]) -> None:
        if record["epoch"]:
            self.log_metrics(numbers(record), record["epoch"])

    def log_finish(self, summary: dict[str, Any]) -> None:
        self.log_metrics(final_metrics(summary), summary.get("epochs", 0))
        for name in RUN_FILES:
            if (self.run / name).is_file():
                self.client.log_artifact(self.run_id, str(self.run / name))
        self.client.set_terminated(self.run_id, "FINISHED")
        self.finished = True

    def log_close(self, error: BaseException | None) -> None:
        if not self.finished:
            status = "FAILED" if isinstance(error, Exception) else "KILLED"  # Ctrl-C, a signal
            self.client.set_terminated(self.run_id, status)


def default_store(run: Path) -> str:
    """``sqlite:///…/mlflow.db`` in the folder that holds the run (``runs/``)."""
    return "sqlite:///" + str(run.resolve().parent / "mlflow.db")


def experiment_id(client: Any, uri: str) -> str:
    """The experiment ``MLFLOW_EXPERIMENT_NAME`` names, else ``rnnzoo``; created if new, its
    artifacts beside a SQLite store (``runs/mlartifacts``; MLflow's own choice would be
    ``./mlruns`` wherever the command runs), else where the server says."""
    name = os.environ.get("MLFLOW_EXPERIMENT_NAME") or "rnnzoo"
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    location = None
    if uri.startswith("sqlite:///"):
        location = (Path(uri[len("sqlite:///") :]).parent / "mlartifacts").as_uri()
    return client.create_experiment(name, artifact_location=location)


def read_record(run: Path) -> dict[str, Any]:
    """``RUN/mlflow.json`` (empty when missing or unreadable)."""
    try:
        record = json.loads((Path(run) / MlflowTracker.RECORD).read_text())
    except (OSError, ValueError):
        return {}
    ok = isinstance(record, dict) and all(
        isinstance(record.get(k), str) for k in ("tracking_uri", "run_id")
    )
    return record if ok else {}


def log_export(run: str | Path, folder: str | Path) -> str:
    """Add an export of ``run`` to the run's MLflow run, if it was tracked there (its files as
    artifacts under ``export/``); a line saying what happened, or ``""`` when not tracked."""
    record = read_record(Path(run))
    if not record:
        return ""
    if importlib.util.find_spec("mlflow") is None:
        return "note: the run was tracked with MLflow, which is not installed: export not logged"
    from mlflow import MlflowClient

    logging.getLogger("mlflow").setLevel(logging.WARNING)

    try:
        client = MlflowClient(record["tracking_uri"])
        client.log_artifacts(record["run_id"], str(folder), artifact_path="export")
    except Exception as failure:
        line = (str(failure).splitlines() or [type(failure).__name__])[0][:300]
        return f"note: the export was not logged to MLflow ({line})"
    return f"logged to MLflow run {record['run_id']} ({record['tracking_uri']})"
