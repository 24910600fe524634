"""Hyperparameter search over ``train`` with Optuna (the ``tune`` extra): ``rnnzoo tune``.

A study lives in ``TUNE_DIR/study.db`` (SQLite); each trial is a normal run directory,
``TUNE_DIR/trial-NNNN``, ready for ``rnnzoo export``. TPE samples the space; a trial whose
validation metric falls below the median of earlier trials at the same epoch is pruned (the
trainer reports every epoch to ``Pruning``, a ``rnnzoo.tracking.Callback``). ``--trials N`` is
the number of finished trials (complete or pruned) the study should hold: the same command run
again after a kill continues the study, and a trial the kill interrupted resumes from its last
checkpoint. ``--jobs J`` runs J worker processes on the same study.

The search space: names of training options (``lr``, ``hidden``...) and of the cell's and
task's typed parameters, each a range (``low:high``, ``:log`` for a log scale) or choices
(``a,b,c``; one value fixes it).
"""

from __future__ import annotations

import difflib
import json
import multiprocessing
import os
import sys
import warnings
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from rnnzoo.errors import UserError
from rnnzoo.files import Lock, check_folder_path, write_json
from rnnzoo.params import CELL_ARGUMENTS, UnknownNameError, params_of, parse_value
from rnnzoo.registry import get_cell_class, get_task_class
from rnnzoo.rundir import RunDir, TrainConfig, config_with_defaults
from rnnzoo.tracking import Callback, require, trackers
from rnnzoo.trainer import TrainingDiverged, train
from rnnzoo.trainer.threads import usable_cores

STUDY = "study.db"
NAME = "rnnzoo"  # the study's name inside study.db
# what a tune searches unless --space says otherwise
DEFAULT_SPACE = ("lr=1e-4:3e-2:log", "hidden=16:256:log", "layers=1:3", "dropout=0:0.5")
# training options a space cannot hold: what the model is, where it runs, and the budget's
# own pieces are set by the tune itself
NOT_SEARCHED = ("task", "cell", "task_params", "cell_params", "device", "amp", "compile")


@dataclass(frozen=True)
class Dimension:
    """One searched name: a range of numbers or a list of choices, and whose it is."""

    name: str
    scope: str  # train, cell or task
    kind: str  # int, float or choice
    low: float = 0.0
    high: float = 0.0
    log: bool = False
    choices: tuple[Any, ...] = ()

    def suggest(self, trial: Any) -> Any:
        key = self.name if self.scope == "train" else f"{self.scope}.{self.name}"
        if self.kind == "choice":
            return trial.suggest_categorical(key, list(self.choices))
        if self.kind == "int":
            return trial.suggest_int(key, int(self.low), int(self.high), log=self.log)
        return trial.suggest_float(key, self.low, self.high, log=self.log)


def known_names(cell: str, task: str) -> dict[str, tuple[str, Any]]:
    """``name: (scope, type)`` for every name a space may hold; a cell's or task's parameter
    also as ``cell.NAME`` / ``task.NAME``."""
    names: dict[str, tuple[str, Any]] = {}
    for scope, cls, skip in (
        ("cell", get_cell_class(cell), CELL_ARGUMENTS),
        ("task", get_task_class(task), ()),
    ):
        for param in params_of(cls, skip=skip):
            names[f"{scope}.{param.name}"] = (scope, param)
            names.setdefault(param.name, (scope, param))
    for spec in fields(TrainConfig):  # training options win a bare name
        if spec.name not in NOT_SEARCHED:
            names[spec.name] = ("train", spec.type)
    return names


def parse_space(texts: list[str], cell: str, task: str) -> list[Dimension]:
    """The default space with each ``--space NAME=...`` replacing or adding a name."""
    from rnnzoo.params import Param

    known = known_names(cell, task)
    chosen: dict[tuple[str, str], Dimension] = {}
    for text in (*DEFAULT_SPACE, *texts):
        key, sep, value = text.partition("=")
        if not sep or not key or not value:
            raise UserError(f"--space takes NAME=LOW:HIGH[:log] or NAME=A,B,C, not {text!r}")
        if key not in known:
            close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.0)
            raise UnknownNameError(
                f"--space {key}: no training option or parameter of cell {cell!r} or task "
                f"{task!r} by that name; the closest is {close[0]} (see `rnnzoo info {task}`)"
            )
        scope, declared = known[key]
        bare = key.rpartition(".")[2]
        param = declared if isinstance(declared, Param) else Param(bare, eval_type(declared), None)
        chosen[(scope, bare)] = dimension(param, scope, value, text)
    return list(chosen.values())


def eval_type(annotation: Any) -> Any:
    """A dataclass field's type from its annotation text (``from __future__ annotations``)."""
    return {"int": int, "float": float, "bool": bool, "str": str}.get(str(annotation), str)


def dimension(param: Any, scope: str, value: str, text: str) -> Dimension:
    """A range when the value holds ``:`` and the type is a number, else choices."""
    parts = value.split(":")
    if len(parts) > 1 and param.type in (int, float):
        log = parts[-1] == "log"
        bounds = parts[:-1] if log else parts
        if len(bounds) != 2:
            raise UserError(f"--space {text}: a range is LOW:HIGH or LOW:HIGH:log")
        low, high = (parse_value(param, b) for b in bounds)
        if not low < high or (log and low <= 0):
            raise UserError(
                f"--space {text}: LOW must be below HIGH"
                + (" and above 0 on a log scale" if log else "")
            )
        return Dimension(param.name, scope, param.type.__name__, low, high, log)
    choices = tuple(parse_value(param, c) for c in value.split(","))
    return Dimension(param.name, scope, "choice", choices=choices)


@dataclass
class Settings:
    """What a tune is: the same settings continue a study, other ones are refused."""

    task: str
    cell: str
    space: list[Dimension]
    options: dict[str, Any] = field(default_factory=dict)  # fixed training options
    cell_params: dict[str, Any] = field(default_factory=dict)  # fixed
    task_params: dict[str, Any] = field(default_factory=dict)  # fixed
    metric: str = ""
    higher_is_better: bool = True

    def key(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, default=str)

    def config(self, trial: Any) -> TrainConfig:
        """The trial's config: the task's recommended values under the fixed ones under the
        sampled ones."""
        sampled: dict[str, dict[str, Any]] = {"train": {}, "cell": {}, "task": {}}
        for dim in self.space:
            sampled[dim.scope][dim.name] = dim.suggest(trial)
        return config_with_defaults(
            self.task,
            self.cell,
            cell_params={**self.cell_params, **sampled["cell"]},
            task_params={**self.task_params, **sampled["task"]},
            **{**self.options, **sampled["train"]},
        )


class Pruning(Callback):
    """Report each epoch's validation metric to the trial; end it when the pruner says so."""

    def __init__(self, trial: Any, metric: str):
        self.trial, self.key = trial, f"validation_{metric}"

    def epoch(self, record: dict[str, Any]) -> None:
        import optuna

        self.trial.report(record[self.key], record["epoch"])
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"pruned at epoch {record['epoch']}")


def objective(
    trial: Any, settings: Settings, folder: Path, log: list[str], threads: int | None = None
) -> float:
    """Train the trial's run (or resume the one a kill interrupted) with ``threads`` CPU
    threads (None: the free cores); its best validation metric."""
    import optuna

    config = settings.config(trial)
    resumed = trial.user_attrs.get("resume")
    run = RunDir(resumed if resumed else folder / f"trial-{trial.number:04d}")
    resume = bool(resumed) and run.has_checkpoint()
    if not resumed and run.path.exists():  # a trial folder is never trained over
        raise UserError(
            f"{run} exists though study.db has no trial that made it; the study and the trial "
            "folders disagree: restore study.db, or choose another --out"
        )
    trial.set_user_attr("run", str(run))
    pruning = Pruning(trial, settings.metric)
    if resume:  # the epochs the interrupted trial had reported
        for record in run.read_metrics():
            trial.report(record[pruning.key], record["epoch"])
    try:
        summary = train(
            None if resume else config,
            run.path,
            resume=resume,
            quiet=True,
            overwrite=bool(resumed) and not resume,  # its own, killed before a checkpoint
            callbacks=[*trackers(log), pruning],
            threads=threads,
        )
    except TrainingDiverged as error:  # a poor trial, not a failed tune
        trial.set_user_attr("diverged", str(error))
        raise optuna.TrialPruned(str(error)) from None
    except KeyboardInterrupt:  # optuna marks the trial failed: queue it again, to resume
        trial.study.enqueue_trial(trial.params, user_attrs={"resume": str(run)})
        raise
    return summary["validation"][settings.metric]


def open_study(settings: Settings, folder: Path, seed: int) -> Any:
    """The study in ``folder`` (made if new), refusing one of other settings."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    path = folder.resolve() / STUDY
    if not path.is_file() or path.stat().st_size == 0:  # a new study: no trials yet
        check_trial_folders(folder, [])
    try:
        study = optuna.create_study(
            study_name=NAME,
            storage=optuna.storages.RDBStorage(
                f"sqlite:///{path}", engine_kwargs={"connect_args": {"timeout": 2}}
            ),
            direction="maximize" if settings.higher_is_better else "minimize",
            sampler=optuna.samplers.TPESampler(seed=seed),
            pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1),
            load_if_exists=True,
        )
        saved = study.user_attrs.get("settings")
        trials = study.get_trials(deepcopy=False)
    except Exception as error:  # SQLAlchemy's and Optuna's own words, on one line
        said = " ".join(str(error).split("\n")[0].split())[:160]
        raise UserError(
            f"{path} cannot be read as rnnzoo's study ({said}): it is damaged, locked by "
            "another program or not a study; restore it, or choose another --out"
        ) from None
    check_trial_folders(folder, trials)
    if saved is None:
        study.set_user_attr("settings", settings.key())
    elif saved != settings.key():
        raise UserError(
            f"{folder} holds a study of other settings (task, cell, --space, --param or fixed "
            "options differ); run the same command to continue it, or choose another --out"
        )
    return study


def check_trial_folders(folder: Path, trials: list[Any]) -> None:
    """Refuse a study that does not know every trial folder beside it (``study.db`` deleted,
    emptied or replaced): continuing would number trials from 0 again, over finished runs."""
    known = {Path(t.user_attrs["run"]).name for t in trials if t.user_attrs.get("run")}
    unknown = sorted(p.name for p in folder.glob("trial-*") if p.name not in known)
    if unknown:
        more = f" and {len(unknown) - 3} more" if len(unknown) > 3 else ""
        raise UserError(
            f"{folder} holds trial folders that its {STUDY} does not know "
            f"({', '.join(unknown[:3])}{more}): the study was deleted, emptied or replaced; "
            f"restore {STUDY}, or choose another --out (nothing was trained)"
        )


def requeue_interrupted(study: Any) -> int:
    """Trials left running by a killed tune (none runs now: the caller holds the lock) are
    marked failed and queued again with the same parameters, to resume from their
    checkpoints. How many."""
    from optuna.trial import TrialState

    stale = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    requeued = 0
    for trial in stale:
        try:
            study.tell(trial.number, state=TrialState.FAIL)
        except RuntimeError:  # finished meanwhile (a worker of a killed tune, before it died)
            continue
        study.enqueue_trial(trial.params, user_attrs={"resume": trial.user_attrs.get("run", "")})
        requeued += 1
    return requeued


def finished(study: Any) -> int:
    from optuna.trial import TrialState

    return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))


def work(
    settings: Settings, folder: Path, trials: int, seed: int, log: list[str], threads: int
) -> None:
    """One worker: trials until the study holds ``trials`` finished ones."""
    import optuna
    from optuna.study import MaxTrialsCallback
    from optuna.trial import TrialState

    study = open_study(settings, folder, seed)
    # a continued study: not the same random draws again as when it started
    study.sampler = optuna.samplers.TPESampler(seed=seed + len(study.trials))
    study.optimize(
        lambda trial: objective(trial, settings, folder, log, threads or None),
        n_trials=max(0, trials - finished(study)),
        callbacks=[MaxTrialsCallback(trials, states=(TrialState.COMPLETE, TrialState.PRUNED))],
        gc_after_trial=True,
    )


def die_with_parent() -> None:
    """Ask Linux to kill this process when the tune that started it dies: a worker must not
    train on without the folder's lock (``prctl(PR_SET_PDEATHSIG, SIGKILL)``; its trial is left
    running in the study, and the next tune queues it again to resume)."""
    import ctypes
    import signal

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the worker outlives a killed parent
        return
    if os.getppid() == 1:  # the parent died before the request
        os._exit(1)


def worker_main(*args: Any) -> None:
    """A worker process: a mistake is one line and exit status 2, as in the CLI."""
    die_with_parent()
    try:
        work(*args)
    except UserError as error:
        print(f"Error: {error}", file=sys.stderr)
        sys.exit(2)


def tune(
    settings: Settings,
    out: str | Path,
    trials: int,
    jobs: int = 1,
    seed: int = 0,
    log: list[str] | None = None,
) -> dict[str, Any]:
    """Run (or continue) the study in ``out`` until it holds ``trials`` finished trials; write
    ``best.json`` and the plots; returns the trials, the best one and what was written."""
    require("optuna", "tune", "rnnzoo tune")
    log = list(log or [])
    trackers(log)  # their extras, checked before any work
    if trials < 1 or jobs < 1:
        raise UserError("--trials and --jobs must be at least 1")
    folder = check_folder_path(out, "--out")
    folder.mkdir(parents=True, exist_ok=True)
    lock = Lock(folder / ".lock", f"tune folder {folder}")
    lock.acquire()
    try:
        study = open_study(settings, folder, seed)
        requeued = requeue_interrupted(study)
        if jobs == 1:
            work(settings, folder, trials, seed, log, 0)
        else:
            run_workers(settings, folder, trials, seed, log, jobs)
        study = open_study(settings, folder, seed)
        result = report(study, settings, folder)
        result["resumed_trials"] = requeued
        return result
    finally:
        lock.release()


def run_workers(
    settings: Settings, folder: Path, trials: int, seed: int, log: list[str], jobs: int
) -> None:
    """``jobs`` worker processes on one study, the usable cores shared among them."""
    context = multiprocessing.get_context("spawn")
    threads = max(1, usable_cores() // jobs)
    workers = [
        context.Process(target=worker_main, args=(settings, folder, trials, seed + i, log, threads))
        for i in range(jobs)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    failed = sum(w.exitcode != 0 for w in workers)
    if failed:
        raise UserError(
            f"{failed} of {jobs} tune workers failed (said above); run again to continue"
        )


def report(study: Any, settings: Settings, folder: Path) -> dict[str, Any]:
    """The trials, the best one (``best.json``) and the plots written in ``folder``."""
    from optuna.trial import TrialState

    rows = []
    for trial in study.get_trials(deepcopy=False):
        if trial.state == TrialState.WAITING:
            continue
        epochs = RunDir(trial.user_attrs["run"]).read_metrics() if "run" in trial.user_attrs else []
        rows.append(
            {
                "trial": trial.number,
                "state": trial.state.name.lower(),
                "value": trial.value,
                "epochs": epochs[-1]["epoch"] if epochs else 0,
                "params": trial.params,
                "run": trial.user_attrs.get("run", ""),
            }
        )
    result: dict[str, Any] = {
        "metric": f"validation {settings.metric}",
        "trials": rows,
        "best": None,
    }
    complete = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    if complete:
        best = study.best_trial
        result["best"] = {
            "trial": best.number,
            "value": best.value,
            "params": best.params,
            "run": best.user_attrs["run"],
        }
        write_json(folder / "best.json", result["best"])
    result["plots"] = plots(study, folder)
    return result


def plots(study: Any, folder: Path) -> list[str]:
    """Optuna's optimization history and parameter importances as PNGs; one that cannot be
    drawn yet (too few trials) is left out."""
    import optuna.visualization.matplotlib as vis

    from rnnzoo.plots import pyplot

    written = []
    for name, draw in (
        ("history.png", vis.plot_optimization_history),
        ("importances.png", vis.plot_param_importances),
    ):
        plt = pyplot()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # optuna's ExperimentalWarning
                axes = draw(study)
            figure = axes.figure if hasattr(axes, "figure") else axes[0].figure
            figure.tight_layout()
            figure.savefig(folder / name, dpi=100)
            written.append(str(folder / name))
        except (ValueError, RuntimeError, ZeroDivisionError):
            pass  # e.g. importances need two complete trials that differ
        finally:
            plt.close("all")
    return written
