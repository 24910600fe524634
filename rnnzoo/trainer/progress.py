"""What a run shows while it trains: a live progress bar, one line per epoch, and the
learning curves (``curve.png``) at the end."""

from __future__ import annotations

import math
from typing import Any

from rnnzoo.files import parse_json
from rnnzoo.rundir import RunDir


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


def format_record(record: dict[str, Any]) -> str:
    """An epoch's metrics line as the console shows it."""
    shown = {k: v for k, v in record.items() if k not in ("step", "lr")}
    return "  ".join(
        f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in shown.items()
    )


def plot_curves(run: RunDir, path: str) -> bool:
    """The run's learning curves: training loss and the validation metrics per epoch;
    whether there was anything to draw."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = read_metrics(run)
    if not records:
        return False
    epochs = [r["epoch"] for r in records]
    keys = [k for k in records[0] if k.startswith("validation_")]
    fig, axes = plt.subplots(1, 1 + len(keys), figsize=(4 * (1 + len(keys)), 3.2))
    for ax, key in zip(axes, ["train_loss", *keys]):
        ax.plot(epochs, [r[key] for r in records], "o-")
        ax.set_title(key)
        ax.set_xlabel("epoch")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def read_metrics(run: RunDir) -> list[dict]:
    """The records of ``metrics.jsonl``, skipping any line that is not one (a torn line)."""
    records = []
    for line in run.metrics_path.read_text(errors="replace").splitlines():
        try:
            record = parse_json(line)
        except ValueError:
            continue
        if isinstance(record, dict) and isinstance(record.get("epoch"), int):
            records.append(record)
    return records
