"""The training loop: backpropagation through time with Adam, gradient clipping, optional
truncated BPTT, evaluation every epoch, early stopping, checkpoints and resume, CPU or CUDA
(with mixed precision), and distributed data parallel under ``torchrun``.

Reproducible: the data order of each epoch comes from ``(seed, epoch)`` alone and the RNG state
is saved with every checkpoint, so a run killed mid-epoch and resumed ends with the same
weights as one never interrupted.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import BatchSampler, DataLoader, DistributedSampler, TensorDataset

from rnnzoo.checkpoint import (
    load_checkpoint,
    load_weights,
    save_checkpoint,
    save_weights,
    write_json,
)
from rnnzoo.errors import UserError
from rnnzoo.model import SequenceModel, build_model
from rnnzoo.runs import DATA_RECORD, check_data, create_task, read_run_config, record_data
from rnnzoo.tasks.base import Split, Task


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


RUN_FILES = (
    "config.json",
    DATA_RECORD,
    "model.safetensors",
    "checkpoint.safetensors",
    "metrics.jsonl",
    "summary.json",
    "curve.png",
    "predictions.png",
)


class TrainingDiverged(UserError):
    """The loss became NaN or infinite."""


def config_with_defaults(task: str, cell: str, **given: Any) -> TrainConfig:
    """A config from the given values, else the task's recommended ones, else the defaults.

    ``given`` values that are ``None`` count as not given.
    """
    from rnnzoo.registry import get_task_class

    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = set(given) - fields
    if unknown:
        raise UserError(f"unknown training option(s) {sorted(unknown)}; valid: {sorted(fields)}")
    values = dict(get_task_class(task).defaults)
    values.update({k: v for k, v in given.items() if v is not None})
    return TrainConfig(task=task, cell=cell, **values)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(
            f"--device {name}: PyTorch sees no CUDA GPU here (torch "
            f"{torch.__version__}); use --device cpu or --device auto"
        )
    if name not in ("cpu", "cuda") and not name.startswith("cuda:"):
        raise UserError(f"--device must be auto, cpu, cuda or cuda:N, not {name!r}")
    return torch.device(name)


@dataclass
class Distributed:
    """This process's place under torchrun (world size 1 when run alone)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_environment(cls) -> Distributed:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return cls()
        return cls(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))

    def start(self, device: torch.device) -> torch.device:
        if self.world_size == 1:
            return device
        import torch.distributed as dist

        if device.type == "cuda":
            device = torch.device("cuda", self.local_rank)
            torch.cuda.set_device(device)
        if not dist.is_initialized():
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        return device

    def stop(self) -> None:
        if self.world_size > 1:
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()


def batches(split: Split, batch_size: int, device: torch.device):
    """The split in order, a batch at a time, as ``(x, y, lengths)`` on ``device``."""
    for start in range(0, len(split), batch_size):
        end = start + batch_size
        lengths = None if split.lengths is None else split.lengths[start:end].to(device)
        yield split.x[start:end].to(device), split.y[start:end].to(device), lengths


@torch.no_grad()
def predict(
    model: SequenceModel, split: Split, device: torch.device, batch_size: int = 512
) -> Tensor:
    model.eval()
    return torch.cat(
        [model(x, lengths).float().cpu() for x, _, lengths in batches(split, batch_size, device)]
    )


def evaluate(
    model: SequenceModel, task: Task, split: Split, device: torch.device
) -> dict[str, float]:
    return task.evaluate(predict(model, split, device), split.y)


class Progress:
    """A live progress bar on a terminal; nothing when quiet or not a TTY."""

    def __init__(self, enabled: bool, epochs: int):
        self.bar = None
        if enabled:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self.bar = Progress(
                TextColumn("epoch {task.fields[epoch]}/" + str(epochs)),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("loss {task.fields[loss]:.4g}"),
                TextColumn("{task.fields[speed]:.0f} seq/s"),
                TimeElapsedColumn(),
                transient=True,
            )
            self.bar.start()

    def new_epoch(self, epoch: int, steps: int) -> None:
        if self.bar:
            for t in list(self.bar.task_ids):
                self.bar.remove_task(t)
            self.id = self.bar.add_task(
                "train", total=steps, epoch=epoch + 1, loss=math.nan, speed=0.0
            )

    def advance(self, loss: float, speed: float) -> None:
        if self.bar:
            self.bar.update(self.id, advance=1, loss=loss, speed=speed)

    def log(self, line: str) -> None:
        """A line that stays (above the bar on a terminal)."""
        if self.bar:
            self.bar.console.print(line, highlight=False)
        else:
            print(line, flush=True)

    def close(self) -> None:
        if self.bar:
            self.bar.stop()


def make_loader(split: Split, config: TrainConfig, dist: Distributed) -> DataLoader:
    """Batches of this process's share of the split, in an order that depends only on
    ``(seed, epoch)`` (a ``DistributedSampler`` serves a single process too). Each batch is
    one indexing of the tensors, not a collation of single examples."""
    dataset = TensorDataset(*split.tensors())
    sampler = DistributedSampler(
        dataset, num_replicas=dist.world_size, rank=dist.rank, shuffle=True, seed=config.seed
    )
    return DataLoader(
        dataset, sampler=BatchSampler(sampler, config.batch_size, False), batch_size=None
    )


def train_step(
    model: torch.nn.Module,
    task: Task,
    batch: list[Tensor],
    config: TrainConfig,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    device: torch.device,
) -> float:
    """One optimizer step (several with truncated BPTT); returns the mean loss."""
    x, y, *rest = (t.to(device, non_blocking=True) for t in batch)
    lengths = rest[0] if rest else None
    windows = [(0, x.shape[1])]
    if config.tbptt:
        windows = [
            (s, min(s + config.tbptt, x.shape[1])) for s in range(0, x.shape[1], config.tbptt)
        ]
    state, losses = None, []
    for start, end in windows:
        with torch.autocast(device.type, enabled=config.amp and device.type == "cuda"):
            if config.tbptt:
                prediction, state = model(x[:, start:end], None, state, return_state=True)
                state = tuple(s.detach() for s in state)
            elif task.kind in ("encdec", "vec2seq"):  # teacher forcing
                prediction = model(x, lengths, target=y)
            else:
                prediction = model(x, lengths)
            loss = task.loss(prediction.float(), y[:, start:end] if config.tbptt else y)
        if not all_finite(loss):
            return loss.item()
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        if config.clip:
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip)
        scaler.step(optimizer)
        scaler.update()
        losses.append(loss.item())
    return sum(losses) / len(losses)


def selection_key(task: Task, metrics: dict[str, float]) -> list[float]:
    """What picks the best epoch: the task's metrics in order, each turned so that higher is
    better. The first decides and the next break its ties — an exact match stuck at 0 early in
    training still lets a better token accuracy choose the checkpoint."""
    first, *rest = task.metrics
    return [
        metrics[m.name] * (1 if m.higher_is_better else -1)
        for m in (first, *(m for m in rest if m.name in metrics))
    ]


def all_finite(loss: Tensor) -> bool:
    """Whether the loss is finite on every process (all must skip the step together, or the
    others would wait forever in DDP's gradient all-reduce)."""
    finite = torch.isfinite(loss.detach()).float()
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.all_reduce(finite, op=torch.distributed.ReduceOp.MIN)
    return bool(finite.item())


def check_config(config: TrainConfig, task: Task) -> None:
    if config.schedule not in ("constant", "onecycle"):
        raise UserError(f"--schedule must be constant or onecycle, not {config.schedule!r}")
    for name in ("hidden", "layers", "epochs", "batch_size"):
        if getattr(config, name) < 1:
            raise UserError(f"--{name.replace('_', '-')} must be at least 1")
    for name in ("lr", "weight_decay", "clip", "tbptt", "patience", "max_steps"):
        if getattr(config, name) < 0 or (name == "lr" and config.lr == 0):
            raise UserError(
                f"--{name.replace('_', '-')} must be "
                f"{'positive' if name == 'lr' else 'zero or more'}"
            )
    if not 0 <= config.dropout < 1:
        raise UserError(f"--dropout must be in [0, 1), not {config.dropout}")
    if config.tbptt and (task.kind != "seq2seq" or config.bidirectional):
        raise UserError("--tbptt needs a seq2seq task and a unidirectional model")
    if config.bidirectional and task.kind == "vec2seq":
        raise UserError("--bidirectional needs a sequence to read; a vec2seq model has none")


def train(
    config: TrainConfig | None,
    out: str | Path,
    resume: bool = False,
    quiet: bool = False,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Train ``config.cell`` on ``config.task`` into the run directory ``out``; with ``resume``,
    continue the run in ``out`` with its saved config (``config`` is then ignored).

    Returns the summary (best validation metrics, test metrics, baseline, timings).
    """
    out = Path(out)
    dist = Distributed.from_environment()
    if resume:
        if not (out / "checkpoint.safetensors").is_file():
            raise UserError(f"--resume: {out} holds no checkpoint to resume from")
        try:
            config = TrainConfig(**read_run_config(out))
        except TypeError as error:
            raise UserError(f"{out}/config.json does not describe a run ({error})") from None
    elif config is None:
        raise ValueError("train() needs a TrainConfig unless it resumes a run")
    elif overwrite:
        if dist.is_main:
            for name in RUN_FILES:
                (out / name).unlink(missing_ok=True)
    elif (out / "checkpoint.safetensors").exists():
        raise UserError(
            f"{out} already holds a run; pass --resume to continue it or choose another --out"
        )
    device = dist.start(resolve_device(config.device))
    task = create_task(config.task, config.task_params)
    check_config(config, task)
    splits = task.load()
    if resume:
        check_data(out, task)
    torch.manual_seed(config.seed)
    model = build_model(
        task,
        config.cell,
        config.hidden,
        config.layers,
        config.bidirectional,
        config.dropout,
        config.cell_params,
    ).to(device)
    loader = make_loader(splits["train"], config, dist)
    optimizer_class = torch.optim.AdamW if config.weight_decay else torch.optim.Adam
    optimizer = optimizer_class(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = None
    if config.schedule == "onecycle":
        # stepped once per batch (a batch makes several optimizer steps with --tbptt)
        steps = config.epochs * len(loader)
        scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, config.lr, total_steps=steps)
    scaler = torch.amp.GradScaler(device.type, enabled=config.amp and device.type == "cuda")
    if config.amp and device.type != "cuda" and dist.is_main and not quiet:
        print("note: --amp applies on CUDA only; training in fp32 on the CPU", file=sys.stderr)

    state = {"epoch": 0, "step": 0, "best": None, "best_epoch": -1, "bad_epochs": 0}
    if resume:
        try:
            saved = load_checkpoint(out / "checkpoint.safetensors")
            model.load_state_dict(saved["model"])
            optimizer.load_state_dict(saved["optimizer"])
        except Exception as error:  # safetensors, JSON and shape errors alike
            raise UserError(
                f"{out}/checkpoint.safetensors cannot be resumed from: {str(error).splitlines()[0]}"
            ) from None
        if scheduler is not None:
            scheduler.load_state_dict(saved["scheduler"])
        if saved.get("scaler"):
            scaler.load_state_dict(saved["scaler"])
        torch.set_rng_state(saved["rng"]["torch"])
        state = saved["counters"]
    if dist.is_main:
        write_json(out / "config.json", dataclasses.asdict(config))
        record_data(out, task)
        keep_metrics_before(out / "metrics.jsonl", state["epoch"])
    train_model = model
    if dist.world_size > 1:
        train_model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
    progress = Progress(dist.is_main and not quiet and sys.stdout.isatty(), config.epochs)
    started = time.perf_counter()
    try:
        for epoch in range(state["epoch"], config.epochs):
            loader.sampler.sampler.set_epoch(epoch)
            progress.new_epoch(epoch, len(loader))
            model.train()
            epoch_start, seen, losses = time.perf_counter(), 0, []
            for batch in loader:
                loss = train_step(train_model, task, batch, config, optimizer, scaler, device)
                if not math.isfinite(loss):
                    kept = (
                        f"{out} keeps the last good checkpoint (epoch {state['epoch']})"
                        if state["epoch"]
                        else "no epoch had finished, so nothing was kept"
                    )
                    raise TrainingDiverged(
                        f"the loss became {loss} at epoch {epoch + 1}, step {state['step'] + 1};"
                        f" {kept}; lower --lr or keep --clip on, and train again"
                    )
                if scheduler is not None:
                    scheduler.step()
                state["step"] += 1
                seen += len(batch[0]) * dist.world_size
                losses.append(loss)
                progress.advance(loss, seen / (time.perf_counter() - epoch_start))
                if config.max_steps and state["step"] >= config.max_steps:
                    break
            train_seconds = time.perf_counter() - epoch_start
            metrics = evaluate(model, task, splits["validation"], device)
            value = selection_key(task, metrics)
            improved = state["best"] is None or value > state["best"]
            if improved:
                state.update(best=value, best_epoch=epoch + 1, bad_epochs=0)
            else:
                state["bad_epochs"] += 1
            state["epoch"] = epoch + 1
            record = {
                "epoch": epoch + 1,
                "step": state["step"],
                "train_loss": sum(losses) / max(1, len(losses)),
                **{f"validation_{k}": v for k, v in metrics.items()},
                "lr": optimizer.param_groups[0]["lr"],
                "seconds": round(train_seconds, 3),
                "sequences_per_second": round(seen / train_seconds, 1),
            }
            if dist.is_main:
                # the metrics line first: on resume, lines past the checkpoint are dropped
                with open(out / "metrics.jsonl", "a") as f:
                    f.write(json.dumps(record) + "\n")
                if improved:
                    save_weights(out / "model.safetensors", model)
                save_checkpoint(
                    out / "checkpoint.safetensors",
                    {
                        "model": model.state_dict(),
                        "optimizer": optimizer.state_dict(),
                        "scheduler": scheduler.state_dict() if scheduler else {},
                        "scaler": scaler.state_dict(),
                        "rng": {"torch": torch.get_rng_state()},
                        "counters": dict(state),
                    },
                )
                if not quiet:
                    progress.log(format_record(record))
            if config.max_steps and state["step"] >= config.max_steps:
                break
            if config.patience and state["bad_epochs"] >= config.patience:
                break
    finally:
        progress.close()
        dist.stop()
    summary = {
        "run": str(out),
        "epochs": state["epoch"],
        "steps": state["step"],
        "best_epoch": state["best_epoch"],
        "wall_seconds": round(time.perf_counter() - started, 2),
    }
    if dist.is_main:
        load_weights(out / "model.safetensors", model)
        summary["validation"] = evaluate(model, task, splits["validation"], device)
        test_prediction = predict(model, splits["test"], device)
        summary["test"] = task.evaluate(test_prediction, splits["test"].y)
        summary["baseline_test"] = task.baseline(splits["train"], splits["test"])
        write_json(out / "summary.json", summary)
        plot_curves(out)
        if hasattr(task, "plot_predictions"):
            task.plot_predictions(test_prediction, splits["test"], str(out / "predictions.png"))
    return summary


def keep_metrics_before(path: Path, epoch: int) -> None:
    """On resume, drop lines of epochs that the checkpoint does not include."""
    if not path.exists():
        return
    lines = [
        line
        for line in path.read_text().splitlines()
        if line.strip() and json.loads(line)["epoch"] <= epoch
    ]
    path.write_text("".join(line + "\n" for line in lines))


def format_record(record: dict[str, Any]) -> str:
    shown = {k: v for k, v in record.items() if k not in ("step", "lr")}
    return "  ".join(
        f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in shown.items()
    )


def plot_curves(out: Path) -> None:
    """``curve.png``: training loss and the validation metrics per epoch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    epochs = [r["epoch"] for r in records]
    keys = [k for k in records[0] if k.startswith("validation_")]
    fig, axes = plt.subplots(1, 1 + len(keys), figsize=(4 * (1 + len(keys)), 3.2))
    for ax, key in zip(axes, ["train_loss", *keys]):
        ax.plot(epochs, [r[key] for r in records], "o-")
        ax.set_title(key)
        ax.set_xlabel("epoch")
    fig.tight_layout()
    fig.savefig(out / "curve.png", dpi=100)
    plt.close(fig)
