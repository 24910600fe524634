"""The training loop: backpropagation through time with Adam, gradient clipping, optional
truncated BPTT, evaluation every epoch, early stopping, checkpoints and resume, CPU or CUDA
(with mixed precision), and distributed data parallel under ``torchrun``.

Everything that depends on the kind of model is asked of the task's family
(``rnnzoo.families``): which options it honours, the model, the prediction trained on and the
one scored. Every file lives in a ``RunDir``, and nothing is written there before the config
is validated, the data loaded and the model built.

Reproducible: the data order of each epoch comes from ``(seed, epoch)`` alone and the RNG state
is saved with every checkpoint, so a run killed mid-epoch and resumed ends with the same
weights as one never interrupted.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import inspect
import json
import math
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import BatchSampler, DataLoader, TensorDataset

from rnnzoo import interrupts, plots
from rnnzoo.card import stack_size
from rnnzoo.cells.contract import after_optimizer_step
from rnnzoo.checkpoint import load_checkpoint, save_checkpoint, save_weights
from rnnzoo.errors import UserError
from rnnzoo.families.base import Family, family_of
from rnnzoo.files import atomic_write, check_folder_path, write_json, write_text
from rnnzoo.registry import create_task
from rnnzoo.rundir import RESUMABLE_WITH, RunDir, TrainConfig
from rnnzoo.tasks.base import Split, Task
from rnnzoo.tracking import Callback, Callbacks
from rnnzoo.trainer import compiling
from rnnzoo.trainer.distributed import Distributed, resolve_device
from rnnzoo.trainer.progress import Progress, summary_in_words
from rnnzoo.trainer.sampler import ShuffledShare
from rnnzoo.trainer.threads import set_threads


class TrainingDiverged(UserError):
    """The loss became NaN or infinite."""


# ---------------------------------------------------------------- predictions and scores


def batches(split: Split, batch_size: int, device: torch.device):
    """The split in order, a batch at a time, as ``(x, y, lengths)`` on ``device``."""
    for start in range(0, len(split), batch_size):
        end = start + batch_size
        lengths = None if split.lengths is None else split.lengths[start:end].to(device)
        yield split.x[start:end].to(device), split.y[start:end].to(device), lengths


@torch.no_grad()
def predict(
    family: Family, model: nn.Module, split: Split, device: torch.device, batch_size: int = 512
) -> Tensor:
    """The family's prediction for a whole split (what ``task.evaluate`` scores), on the CPU."""
    model.eval()
    return torch.cat(
        [
            family.predict(model, x, lengths).float().cpu()
            for x, _, lengths in batches(split, batch_size, device)
        ]
    )


def evaluate(
    family: Family, model: nn.Module, task: Task, split: Split, device: torch.device
) -> dict[str, float]:
    """Every metric of the task on a split."""
    return task.evaluate(predict(family, model, split, device), split.y)


def selection_key(task: Task, metrics: dict[str, float]) -> list[float]:
    """What picks the best epoch: the task's metrics in order, each turned so that higher is
    better. The first decides and the next break its ties — an exact match stuck at 0 early in
    training still lets a better token accuracy choose the checkpoint."""
    first, *rest = task.metrics
    return [
        metrics[m.name] * (1 if m.higher_is_better else -1)
        for m in (first, *(m for m in rest if m.name in metrics))
    ]


# ---------------------------------------------------------------- one step


def make_loader(split: Split, config: TrainConfig, dist: Distributed) -> DataLoader:
    """Batches of this process's share of the split, in an order that depends only on
    ``(seed, epoch)``, generated without listing the examples (``ShuffledShare``). Each batch
    is one indexing of the tensors, not a collation of single examples."""
    dataset = TensorDataset(*split.tensors())
    sampler = ShuffledShare(len(dataset), dist.rank, dist.world_size, config.seed)
    return DataLoader(
        dataset, sampler=BatchSampler(sampler, config.batch_size, False), batch_size=None
    )


def windows(
    x: Tensor, y: Tensor, lengths: Tensor | None, tbptt: int
) -> list[tuple[Tensor, Tensor, Tensor | None]]:
    """What one batch trains on, piece after piece: the whole batch, or with truncated BPTT
    windows of ``tbptt`` steps (the lengths do not apply to a window)."""
    if not tbptt:
        return [(x, y, lengths)]
    return [(x[:, s : s + tbptt], y[:, s : s + tbptt], None) for s in range(0, x.shape[1], tbptt)]


def all_finite(loss: Tensor) -> bool:
    """Whether the loss is finite on every process (all must skip the step together, or the
    others would wait forever in DDP's gradient all-reduce)."""
    finite = torch.isfinite(loss.detach()).float()
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.all_reduce(finite, op=torch.distributed.ReduceOp.MIN)
    return bool(finite.item())


def train_step(
    family: Family,
    model: nn.Module,
    task: Task,
    batch: list[Tensor],
    config: TrainConfig,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    device: torch.device,
) -> float:
    """One optimizer step (one per window with truncated BPTT, the family's state carried
    from window to window, detached); returns the mean loss, or the first non-finite one."""
    x, y, *rest = (t.to(device, non_blocking=True) for t in batch)
    state, losses = None, []
    for x_part, y_part, lengths in windows(x, y, rest[0] if rest else None, config.tbptt):
        with torch.autocast(device.type, enabled=config.amp and device.type == "cuda"):
            prediction, state = family.train_forward(model, x_part, y_part, lengths, state)
            loss = task.loss(prediction.float(), y_part)
        state = tuple(s.detach() for s in state) if config.tbptt and state else None
        if not all_finite(loss):
            return loss.item()
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        if config.clip:
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip)
        try:
            scaler.step(optimizer)
        except RuntimeError as error:  # an update too large for float32 (a huge --lr)
            if "overflow" not in str(error):
                raise
            return math.inf
        scaler.update()
        after_optimizer_step(model)
        losses.append(loss.item())
    return sum(losses) / len(losses)


# ---------------------------------------------------------------- a run


@dataclass
class Counters:
    """Where a run stands; saved in every checkpoint (``counters``)."""

    epoch: int = 0  # epochs finished
    step: int = 0  # batches trained on (each one optimizer step per window)
    best: list[float] | None = None  # the selection key of the best epoch
    best_epoch: int = -1
    bad_epochs: int = 0  # epochs since the best one

    def __post_init__(self) -> None:
        """Refuse counters of the wrong types (a damaged or edited checkpoint)."""
        whole = (self.epoch, self.step, self.best_epoch, self.bad_epochs)
        if not all(type(n) is int for n in whole) or min(self.epoch, self.step) < 0:
            raise ValueError(f"counters must be whole numbers, not {whole}")
        best = self.best
        if best is not None and not (
            isinstance(best, list) and all(type(v) in (int, float) for v in best)
        ):
            raise ValueError(f"counters: best must be a list of numbers, not {best!r}")

    def end_epoch(self, key: list[float]) -> bool:
        """Count a finished epoch that scored ``key``; whether it is the best so far."""
        improved = self.best is None or key > self.best
        if improved:
            self.best, self.best_epoch, self.bad_epochs = key, self.epoch + 1, 0
        else:
            self.bad_epochs += 1
        self.epoch += 1
        return improved

    def reached(self, max_steps: int) -> bool:
        return bool(max_steps) and self.step >= max_steps


@dataclass
class Setup:
    """A validated run: where it goes, what it trains on, and where."""

    run: RunDir
    config: TrainConfig
    task: Task
    splits: dict[str, Split]
    family: Family
    device: torch.device
    dist: Distributed
    callbacks: Callbacks = field(default_factory=Callbacks)  # the main process's only
    threads: tuple[int, str] | None = None  # on a CPU: intra-op threads and why that many


@dataclass
class Parts:
    """The model and what trains it."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler | None
    scaler: torch.amp.GradScaler
    loader: DataLoader
    compile: bool = False  # through torch.compile (rnnzoo.trainer.compiling)
    compile_reason: str = "off"
    compile_seconds: float = 0.0


def train(
    config: TrainConfig | None,
    out: str | Path,
    resume: bool = False,
    quiet: bool = False,
    overwrite: bool = False,
    longer: dict[str, int] | None = None,
    callbacks: Iterable[Callback] = (),
    threads: int | None = None,
) -> dict[str, Any]:
    """Train ``config.cell`` on ``config.task`` into the run directory ``out``; with ``resume``,
    continue the run in ``out`` with its saved config (``config`` is then ignored), changed by
    ``longer`` (``RESUMABLE_WITH``: more epochs, another patience or step limit); with
    ``overwrite``, replace the run in ``out``. ``callbacks`` (``rnnzoo.tracking``: trackers,
    a tuner's pruner) follow the run on the main process. ``threads``: the CPU's intra-op
    threads (default: the free cores, ``rnnzoo.trainer.threads``).

    Returns the summary (best validation metrics, test metrics, baseline, timings).
    """
    dist = Distributed.from_environment()
    run = RunDir(check_folder_path(out, "--out"))
    if dist.is_main:
        run.recover()  # what a killed command left: its temporary files, a replaced run
    config = run_config(run, config, resume, overwrite, longer or {})
    device = dist.start(resolve_device(config.device))
    cpu_threads = set_threads(threads) if device.type == "cpu" else None
    try:
        setup = prepare(run, config, resume, device, dist)
        setup.threads = cpu_threads
        parts = build(setup, quiet)  # the last step that may refuse the run
        with claimed(setup, resume, overwrite):
            counters = restore_checkpoint(run, config, parts) if resume else Counters()
            check_longer(longer or {}, counters)
            if resume and not counters.epoch and dist.is_main and not quiet:
                print(
                    f"note: {run} has no checkpoint yet; training it from the start",
                    file=sys.stderr,
                )
            if dist.is_main:
                start_files(setup, counters.epoch)
                setup.callbacks = Callbacks(callbacks)
            with followed(setup.callbacks, run, setup.config, counters.step):
                started = time.perf_counter()
                train_epochs(setup, parts, counters, quiet)
                wall_seconds = time.perf_counter() - started
                summary = finish(setup, parts, counters, wall_seconds)
                setup.callbacks.finish(summary)
            if dist.is_main and not quiet:
                print(summary_in_words(run, setup.config, summary), flush=True)
            return summary
    finally:
        dist.stop()


def run_config(
    run: RunDir,
    config: TrainConfig | None,
    resume: bool,
    overwrite: bool,
    longer: dict[str, int],
) -> TrainConfig:
    """The config to train with: the run's saved one on resume (changed by ``longer``), else
    ``config``, checked; a new run refuses a directory that holds one unless ``overwrite``.
    Writes nothing."""
    if resume:  # a run killed before its first checkpoint starts again from its config
        return dataclasses.replace(run.read_config(), **longer)
    if config is None:
        raise ValueError("train() needs a TrainConfig unless it resumes a run")
    config.check()
    run.check_new(overwrite)  # early, for a quick answer; again under the lock
    return config


def check_longer(longer: dict[str, int], counters: Counters) -> None:
    """Refuse to resume for an end the run has already passed."""
    if "epochs" in longer and longer["epochs"] <= counters.epoch:
        raise UserError(
            f"--epochs {longer['epochs']}: the run has trained {counters.epoch} epochs already; "
            "give more to train it longer"
        )
    if longer.get("max_steps") and longer["max_steps"] <= counters.step:
        raise UserError(
            f"--max-steps {longer['max_steps']}: the run has taken {counters.step} steps already; "
            "give more, or 0 for no limit"
        )


def prepare(
    run: RunDir, config: TrainConfig, resume: bool, device: torch.device, dist: Distributed
) -> Setup:
    """The task with its data loaded (on resume, checked against the run's record) and its
    family, which refuses options it cannot honour. Writes nothing."""
    task = create_task(config.task, config.task_params)
    splits = task.load()
    if resume:
        run.check_data(task)
    family = family_of(task)
    family.check(config, task)
    return Setup(run, config, task, splits, family, device, dist)


def build(setup: Setup, quiet: bool) -> Parts:
    """The model (from the seed), its optimizer, LR schedule, gradient scaler and the data
    loader. Writes nothing."""
    config, device = setup.config, setup.device
    torch.manual_seed(config.seed)
    model = setup.family.build(setup.task, config).to(device)
    loader = make_loader(setup.splits["train"], config, setup.dist)
    optimizer_class = torch.optim.AdamW if config.weight_decay else torch.optim.Adam
    optimizer = optimizer_class(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = None
    if config.schedule == "onecycle":
        # stepped once per batch (a batch makes several optimizer steps with --tbptt), ending
        # where the run ends: after the last epoch or at --max-steps
        steps = config.epochs * len(loader)
        steps = min(steps, config.max_steps) if config.max_steps else steps
        scheduler = one_cycle(optimizer, config, steps)
    amp = config.amp and device.type == "cuda"
    scaler = torch.amp.GradScaler(device.type, enabled=amp)
    if config.amp and not amp and setup.dist.is_main and not quiet:
        print("note: --amp applies on CUDA only; training in fp32 on the CPU", file=sys.stderr)
    steps = (config.epochs * len(loader)) if not config.max_steps else config.max_steps
    use_compile, reason = compiling.decide(config.compile, model, steps, device)
    return Parts(model, optimizer, scheduler, scaler, loader, use_compile, reason)


def one_cycle(
    optimizer: torch.optim.Optimizer, config: TrainConfig, steps: int, done: int = 0
) -> torch.optim.lr_scheduler.OneCycleLR:
    """The one-cycle schedule of a run of ``steps`` batches, ``done`` of them trained."""
    return torch.optim.lr_scheduler.OneCycleLR(
        optimizer, config.lr, total_steps=steps, last_epoch=done - 1
    )


def restore_checkpoint(run: RunDir, config: TrainConfig, parts: Parts) -> Counters:
    """Put back the weights, optimizer, schedule, scaler and RNG state of the run's checkpoint;
    returns its counters (none: a run killed in its first epoch starts again)."""
    run.check_files_are_files()
    if not run.has_checkpoint():
        trained = [p.name for p in (run.weights_path, run.summary_path) if p.exists()]
        if trained or run.read_metrics():
            what = ", ".join(trained) or "metrics.jsonl's epochs"
            raise UserError(
                f"{run} has {what} but no {run.checkpoint_path.name} to continue from: "
                "--resume would train it from the start over its weights; put the checkpoint "
                "back, or train it anew with --overwrite"
            )
        return Counters()  # a run killed in its first epoch starts again
    try:
        saved = load_checkpoint(run.checkpoint_path)
        parts.model.load_state_dict(saved["model"])
        parts.optimizer.load_state_dict(saved["optimizer"])
        counters = Counters(**saved["counters"])
        check_config(config, saved.get("config"))
        check_restored(run.read_config(), counters, parts.optimizer)
        if parts.scheduler is not None:
            steps = parts.scheduler.total_steps  # as long as the run is now
            parts.scheduler.load_state_dict(saved["scheduler"])
            if parts.scheduler.total_steps != steps:  # resumed to train longer: stretched
                parts.scheduler = one_cycle(parts.optimizer, config, steps, counters.step)
        if saved.get("scaler"):
            parts.scaler.load_state_dict(saved["scaler"])
        torch.set_rng_state(saved["rng"]["torch"])
    except UserError:  # a damaged file: said by the reader
        raise
    except Exception as error:  # safetensors, JSON, key and shape errors alike
        raise UserError(
            f"{run.checkpoint_path} cannot be resumed from: "
            f"{(str(error).splitlines() or [type(error).__name__])[0]}"
        ) from None
    if run.weights_path.exists():  # the best weights, read at the end: check them now
        run.load_weights(copy.deepcopy(parts.model))
    return counters


def check_config(config: TrainConfig, saved: dict[str, Any] | None) -> None:
    """Refuse a ``config.json`` that is not the one the checkpoint was trained with (the
    checkpoint keeps a copy under its checksum), but for what ``--resume`` may change
    (``RESUMABLE_WITH``). Checkpoints written before they kept it have nothing to compare."""
    if saved is None:
        return
    now = json.loads(json.dumps(config.to_dict()))
    changed = sorted(
        k for k in set(now) | set(saved) if k not in RESUMABLE_WITH and now.get(k) != saved.get(k)
    )
    if changed:
        raise ValueError(  # said as one line naming the checkpoint by restore_checkpoint
            f"config.json's {', '.join(changed)} differ from what it was trained with; "
            "config.json was edited or damaged: restore it, or train again with --overwrite"
        )


def check_restored(
    config: TrainConfig, counters: Counters, optimizer: torch.optim.Optimizer
) -> None:
    """Refuse a checkpoint whose state cannot be the run's (edited, or damaged in a way the
    checksum does not see: one written before it covered the metadata)."""
    wrong = ""
    if not counters.best_epoch <= counters.epoch <= config.epochs:
        wrong = f"epoch {counters.epoch} (best {counters.best_epoch}) of {config.epochs}"
    for group in optimizer.param_groups:
        lr = group["lr"]
        if not (isinstance(lr, float) and 0 < lr <= config.lr * (1 + 1e-6)):
            wrong = f"learning rate {lr!r}, above --lr {config.lr}"
    if wrong:
        raise ValueError(  # said as one line naming the file by restore_checkpoint
            f"its {wrong} cannot be the run's; the file was edited or damaged: restore it, "
            "or train again with --overwrite"
        )


@contextlib.contextmanager
def claimed(setup: Setup, resume: bool, overwrite: bool) -> Iterator[None]:
    """Train into the run directory under its lock (the main process; the others write
    nothing). A new run replacing an old one moves the old files aside; if it fails or is
    interrupted before its first checkpoint, its files go and the old ones come back — a fresh
    run that fails that early leaves nothing."""
    run = setup.run
    if not setup.dist.is_main:
        yield
        return
    created = not run.path.exists()
    lock = run.lock()
    try:
        lock.acquire()
    except BaseException:  # busy, or a Ctrl-C just after the folder was made
        if created:
            with contextlib.suppress(OSError):
                run.path.rmdir()  # only if empty
        raise
    try:
        run.recover_locked()
        if not resume:
            run.check_new(overwrite)
            if run.existing_files():
                run.move_aside()
        yield
    except BaseException:
        if not resume and not run.has_checkpoint():
            if run.file(RunDir.PREVIOUS).is_dir():
                run.restore_previous()
            else:
                run.remove_files()
        raise
    finally:
        lock.release()
        if created and not run.existing_files():  # a fresh run that left nothing
            run.file(RunDir.LOCK).unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                run.path.rmdir()


@contextlib.contextmanager
def followed(callbacks: Callbacks, run: RunDir, config: TrainConfig, step: int) -> Iterator[None]:
    """Tell the callbacks that the run starts, and always that it ended, and how."""
    callbacks.start(run.path, config.to_dict(), step)
    try:
        yield
    except BaseException as error:
        callbacks.close(error)
        raise
    callbacks.close(None)


def start_files(setup: Setup, epoch: int) -> None:
    """Write the config and the data record; drop the metrics lines of epochs past
    ``epoch``, the checkpoint's."""
    run = setup.run
    run.write_config(setup.config)
    run.record_data(setup.task)
    keep_metrics_before(run, epoch)


def keep_metrics_before(run: RunDir, epoch: int) -> None:
    """On resume, drop lines of epochs that the checkpoint does not include, and any line a
    kill tore while it was being appended (it is not JSON, or not a record); say so when lines
    of epochs the checkpoint includes are missing too (damaged)."""
    kept = [record for record in run.read_metrics() if record["epoch"] <= epoch]
    lost = sorted(set(range(1, epoch + 1)) - {record["epoch"] for record in kept})
    if lost:  # the checkpoint holds the run: only these records are gone
        print(
            f"note: {run.metrics_path} lacks the records of epoch(s) "
            f"{', '.join(map(str, lost))} (damaged or deleted); the run continues from its "
            f"checkpoint at epoch {epoch}, and its curve has a gap there",
            file=sys.stderr,
        )
    if not run.metrics_path.exists():
        return
    if kept:
        write_text(run.metrics_path, "".join(json.dumps(r) + "\n" for r in kept))
    else:  # no empty file: the next epoch starts it again
        run.metrics_path.unlink()


def train_epochs(setup: Setup, parts: Parts, counters: Counters, quiet: bool) -> None:
    """Epoch after epoch from the counters' one, each scored on the validation split and
    recorded, until the last, ``max_steps`` or ``patience`` ends the run."""
    config, dist = setup.config, setup.dist
    trained = dist.wrap(parts.model, setup.device)
    if parts.compile:
        trained = compiling.compiled(trained)
        if dist.is_main and not quiet:
            print("compiling the model (once; cached for later runs)...", file=sys.stderr)
        parts.compile_seconds = compile_now(setup, parts, trained)
        if dist.is_main and not quiet:
            print(f"compiled in {parts.compile_seconds:.1f} s", file=sys.stderr)
    progress = Progress(
        dist.is_main and not quiet,
        config.planned_epochs(len(parts.loader)),
        counters.epoch,
        measured_on=setup.task.validation_measured_on,
    )
    progress.log(header(setup, parts, counters))
    for note in setup.task.notes():
        progress.log(f"note: {note}")
    try:
        for epoch in range(counters.epoch, config.epochs):
            loss, seen, seconds = run_epoch(setup, parts, trained, counters, epoch, progress)
            metrics = evaluate(
                setup.family, parts.model, setup.task, setup.splits["validation"], setup.device
            )
            check_finite(setup.run, parts.model, metrics, epoch, counters)
            improved = counters.end_epoch(selection_key(setup.task, metrics))
            record = {
                "epoch": counters.epoch,
                "step": counters.step,
                "train_loss": loss,
                **{f"validation_{k}": v for k, v in metrics.items()},
                "lr": parts.optimizer.param_groups[0]["lr"],
                "seconds": round(seconds, 3),
                "sequences_per_second": round(seen / seconds, 1),
            }
            if dist.is_main:
                save_epoch(setup.run, setup.config, parts, counters, record, improved)
                setup.run.drop_previous()  # the replaced run, if any: the new one has a checkpoint
                progress.end_epoch(record, improved)
                setup.callbacks.epoch(record)
            if counters.reached(config.max_steps):
                break
            if config.patience and counters.bad_epochs >= config.patience:
                break
    finally:
        progress.close()


def header(setup: Setup, parts: Parts, counters: Counters) -> str:
    """One line that says what is trained, how big, for how long and where it goes."""
    config = setup.config
    size = stack_size(config.layers, config.hidden, config.bidirectional)
    weights = sum(p.numel() for p in parts.model.parameters())
    start = f" from epoch {counters.epoch + 1}" if counters.epoch else ""
    planned = config.planned_epochs(len(parts.loader))
    epochs = f"{planned} epoch{'s' if planned != 1 else ''}"
    if planned < config.epochs:
        epochs += f" (--max-steps {config.max_steps:,})"
    threads = ""
    if setup.threads:
        count, why = setup.threads
        threads = f" ({count} thread{'s' if count > 1 else ''}, {why})"
    return (
        f"training {config.cell} on {config.task}: {size}, {weights:,} parameters;"
        f" {epochs}{start} of {len(parts.loader):,} steps (batch {config.batch_size})"
        f" on {setup.device}{threads} -> {setup.run}"
    )


def compile_now(setup: Setup, parts: Parts, trained: nn.Module) -> float:
    """Compile ``trained`` on a first batch (forward and backward), changing nothing; the
    seconds it took."""
    x, y, *rest = (t.to(setup.device) for t in next(iter(parts.loader)))
    x, y, lengths = windows(x, y, rest[0] if rest else None, setup.config.tbptt)[0]

    def forward_backward() -> None:
        prediction, _ = setup.family.train_forward(trained, x, y, lengths, None)
        setup.task.loss(prediction.float(), y).backward()

    return compiling.warm_up(forward_backward, parts.model, setup.device)


def run_epoch(
    setup: Setup,
    parts: Parts,
    trained: nn.Module,
    counters: Counters,
    epoch: int,
    progress: Progress,
) -> tuple[float, int, float]:
    """Train ``trained`` (the model, or its DDP wrapper) on one epoch of batches; returns the
    mean loss, the sequences seen by all processes and the seconds taken."""
    config = setup.config
    fresh = setup.task.train_split(epoch)
    if fresh is not None:  # new examples this epoch (a task that composes them)
        parts.loader = make_loader(fresh, config, setup.dist)
    parts.loader.sampler.sampler.set_epoch(epoch)
    progress.new_epoch(epoch, len(parts.loader))
    parts.model.train()
    start, seen, losses = time.perf_counter(), 0, []
    for batch in parts.loader:
        interrupts.check()  # a Ctrl-C that a library swallowed (rnnzoo.interrupts)
        lr = parts.optimizer.param_groups[0]["lr"]  # what this step trains with
        loss = train_step(
            setup.family,
            trained,
            setup.task,
            batch,
            config,
            parts.optimizer,
            parts.scaler,
            setup.device,
        )
        if not math.isfinite(loss):
            raise diverged(
                setup.run, f"the loss became {loss}", epoch, counters, f", step {counters.step + 1}"
            )
        if parts.scheduler is not None:
            parts.scheduler.step()
        counters.step += 1
        setup.callbacks.step(counters.step, loss, lr)
        seen += len(batch[0]) * setup.dist.world_size
        losses.append(loss)
        progress.advance(loss, seen / (time.perf_counter() - start))
        if counters.reached(config.max_steps):
            break
    return sum(losses) / max(1, len(losses)), seen, time.perf_counter() - start


def diverged(
    run: RunDir, what: str, epoch: int, counters: Counters, where: str = ""
) -> TrainingDiverged:
    kept = (
        f"{run} keeps the last good checkpoint (epoch {counters.epoch})"
        if counters.epoch
        else "no epoch had finished, so nothing was kept"
    )
    return TrainingDiverged(
        f"{what} at epoch {epoch + 1}{where}; {kept}; lower --lr or keep --clip on, and train again"
    )


def check_finite(
    run: RunDir, model: nn.Module, metrics: dict[str, float], epoch: int, counters: Counters
) -> None:
    """Refuse to keep an epoch whose weights or validation metrics are NaN or infinite: a
    loss can stay finite while an overflowing step has already ruined the weights."""
    bad = [name for name, p in model.state_dict().items() if not torch.isfinite(p).all()]
    if bad:
        raise diverged(run, f"the weights became NaN or infinite ({bad[0]})", epoch, counters)
    bad = [name for name, value in metrics.items() if not math.isfinite(value)]
    if bad:
        raise diverged(run, f"validation {bad[0]} became {metrics[bad[0]]}", epoch, counters)


def save_epoch(
    run: RunDir,
    config: TrainConfig,
    parts: Parts,
    counters: Counters,
    record: dict[str, Any],
    improved: bool,
) -> None:
    """The epoch's metrics line, the weights when best so far, and the checkpoint (with the
    config it trains, which ``--resume`` checks ``config.json`` against) — the line first: on
    resume, lines past the checkpoint are dropped."""
    with open(run.metrics_path, "a") as f:
        f.write(json.dumps(record) + "\n")
    if improved:
        save_weights(run.weights_path, parts.model)
    save_checkpoint(
        run.checkpoint_path,
        {
            "model": parts.model.state_dict(),
            "optimizer": parts.optimizer.state_dict(),
            "scheduler": parts.scheduler.state_dict() if parts.scheduler else {},
            "scaler": parts.scaler.state_dict(),
            "rng": {"torch": torch.get_rng_state()},
            "counters": asdict(counters),
            "config": config.to_dict(),
        },
    )


def finish(setup: Setup, parts: Parts, counters: Counters, wall_seconds: float) -> dict[str, Any]:
    """The summary; the main process adds the best weights' validation and test metrics and
    the baseline, and writes it with the plots."""
    run, task, splits, model = setup.run, setup.task, setup.splits, parts.model
    summary: dict[str, Any] = {
        "run": str(run),
        "epochs": counters.epoch,
        "steps": counters.step,
        "best_epoch": counters.best_epoch,
        "wall_seconds": round(wall_seconds, 2),
        "compile": parts.compile_reason,
        "compile_seconds": round(parts.compile_seconds, 2),
    }
    if not setup.dist.is_main:
        return summary
    run.load_weights(model)
    summary["validation"] = evaluate(setup.family, model, task, splits["validation"], setup.device)
    test_prediction = predict(setup.family, model, splits["test"], setup.device)
    summary["test"] = task.evaluate(test_prediction, splits["test"].y)
    summary["baseline_test"] = task.baseline(splits["train"], splits["test"])
    summary["against_baseline"] = against_baseline(task, summary["test"], summary["baseline_test"])
    write_json(run.summary_path, summary)
    draw(run.file(RunDir.CURVE), lambda path: plots.save(plots.curves([run]), path))
    draw(
        run.file(RunDir.PREDICTIONS),
        lambda path: task.plot_predictions(test_prediction, splits["test"], path),
    )
    return summary


def against_baseline(
    task: Task, test: dict[str, float], baseline: dict[str, float]
) -> dict[str, Any]:
    """The task's first metric beside its baseline's, and whether the model beat it: a run
    that diverged or did not learn ends worse, and says so rather than just exiting 0."""
    metric = task.metrics[0]
    model, base = test[metric.name], baseline.get(metric.name)
    better = base is None or (model > base if metric.higher_is_better else model < base)
    doc = (inspect.getdoc(type(task).baseline) or "").split("\n")[0].rstrip(".")
    return {
        "metric": metric.name,
        "higher_is_better": metric.higher_is_better,
        "model": model,
        "baseline": base,
        "baseline_is": doc[:1].lower() + doc[1:] if doc else "the task's baseline",
        "better": better,
    }


def draw(path: Path, plot: Callable[[str], object]) -> None:
    """Write a plot atomically; one that fails is a note on stderr, not a failed run (the
    weights and metrics are already saved)."""
    try:
        atomic_write(path, plot, keep_suffix=True)
    except Exception as error:
        print(f"note: could not draw {path.name}: {type(error).__name__}: {error}", file=sys.stderr)
