"""What a run shows while it trains: a header, one line per epoch, a live bar on a
terminal, and at the end its test metrics and a summary in words."""

from __future__ import annotations

import math
import sys
import time
from typing import TYPE_CHECKING, Any

from rnnzoo.card import stack_size

if TYPE_CHECKING:
    from rnnzoo.rundir import RunDir, TrainConfig


class Progress:
    """What a run shows while it trains, as Keras and timm show it: a header naming the run,
    one line per epoch with the time left, and on a terminal a live bar (with the epoch's
    time left) that leaves no trace. Into a pipe or a log file there is no bar; a long epoch
    prints a line every ``every`` seconds instead, so a log never stays silent for long."""

    def __init__(
        self,
        enabled: bool,
        epochs: int,
        first_epoch: int = 0,
        every: float = 30.0,
        measured_on: str = "validation",
    ):
        self.enabled, self.epochs, self.every = enabled, epochs, every
        self.measured_on = measured_on
        self.first_epoch, self.started = first_epoch, time.perf_counter()
        self.bar = None
        if enabled and sys.stdout.isatty():
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )

            self.bar = Progress(
                TextColumn("epoch {task.fields[epoch]}/" + str(epochs)),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("loss {task.fields[loss]:.4g}"),
                TextColumn("{task.fields[speed]:,.0f} seq/s"),
                TimeRemainingColumn(),
                transient=True,
            )
            self.bar.start()

    def log(self, line: str) -> None:
        """A line that stays (above the bar on a terminal)."""
        if not self.enabled:
            return
        if self.bar:
            self.bar.console.print(line, highlight=False)
        else:
            print(line, flush=True)

    def new_epoch(self, epoch: int, steps: int) -> None:
        self.epoch, self.steps, self.done = epoch, steps, 0
        self.epoch_started = self.last_line = time.perf_counter()
        if self.bar:
            for t in list(self.bar.task_ids):
                self.bar.remove_task(t)
            self.id = self.bar.add_task(
                "train", total=steps, epoch=epoch + 1, loss=math.nan, speed=0.0
            )

    def advance(self, loss: float, speed: float) -> None:
        self.done += 1
        if self.bar:
            self.bar.update(self.id, advance=1, loss=loss, speed=speed)
        elif self.enabled and time.perf_counter() - self.last_line >= self.every:
            self.last_line = time.perf_counter()
            left = (self.last_line - self.epoch_started) * (self.steps / self.done - 1)
            self.log(
                f"epoch {self.epoch + 1}/{self.epochs}: step {self.done}/{self.steps}"
                f"  loss {loss:.4g}  {speed:,.0f} seq/s  epoch ends in {duration(left)}"
            )

    def end_epoch(self, record: dict[str, Any], best: bool) -> None:
        """The epoch's line: its metrics, time, speed and the run's time left."""
        done = record["epoch"] - self.first_epoch
        left = (time.perf_counter() - self.started) / max(done, 1) * (self.epochs - record["epoch"])
        eta = f"  eta {duration(left)}" if record["epoch"] < self.epochs else ""
        line = format_record(record, self.epochs, self.measured_on)
        self.log(line + ("  *best" if best else "") + eta)

    def close(self) -> None:
        if self.bar:
            self.bar.stop()


def duration(seconds: float) -> str:
    """Seconds as people read them: 8 s, 2 min 05 s, 1 h 04 min."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def format_record(record: dict[str, Any], epochs: int, measured_on: str = "validation") -> str:
    """An epoch's metrics line as the console shows it, in plain numbers; the ``validation_``
    metrics named for the cases they were ``measured_on``."""
    parts = [f"epoch {record['epoch']}/{epochs}"]
    for key, value in record.items():
        if key in ("epoch", "step", "lr", "seconds", "sequences_per_second"):
            continue
        if key.startswith("validation_"):
            key = measured_on + key.removeprefix("validation")
        parts.append(f"{key} {value:.4g}" if isinstance(value, float) else f"{key} {value}")
    parts.append(f"{record['seconds']:.1f} s")
    parts.append(f"{record['sequences_per_second']:,.0f} seq/s")
    return "  ".join(parts)


def summary_in_words(run: RunDir, config: TrainConfig, summary: dict[str, Any]) -> str:
    """The end of a training as a newcomer wants it: the test metrics beside the baseline's,
    what was trained, how good it is against the baseline, where its files are, and what to
    run next."""
    base_metrics = summary["baseline_test"]
    lines = [
        "test: "
        + "   ".join(
            f"{k} {v:.4g}" + (f" (baseline {base_metrics[k]:.4g})" if k in base_metrics else "")
            for k, v in summary["test"].items()
        )
    ]
    size = stack_size(config.layers, config.hidden, config.bidirectional)
    epochs = summary["epochs"]
    lines.append(
        f"Trained {config.cell} ({size}) on {config.task} in {summary['wall_seconds']:.0f} s:"
        f" {epochs} epoch{'s' if epochs != 1 else ''}, the best weights from epoch"
        f" {summary['best_epoch']}."
    )
    versus = summary["against_baseline"]
    if versus["baseline"] is not None:
        model, base, name = versus["model"], versus["baseline"], versus["metric"]
        baseline = f"{base:.4g} for the baseline ({versus['baseline_is']})"
        if not versus["better"]:
            lines.append(
                f"WARNING: test {name} {model:.4g} is no better than {baseline}: the model did"
                " not learn the task; lower --lr, train longer or change the model."
            )
        elif not versus["higher_is_better"] and model > 0:
            lines.append(f"Test {name} {model:.4g}, {base / model:.1f}x lower than {baseline}.")
        else:
            lines.append(f"Test {name} {model:.4g} against {baseline}.")
    files = [(run.CURVE, "learning curves"), (run.PREDICTIONS, "test predictions")]
    drawn = ", ".join(f"{name} ({what})" for name, what in files if run.file(name).exists())
    lines.append(
        f"In {run}: model.safetensors (best weights), summary.json, metrics.jsonl"
        + (f", {drawn}" if drawn else "")
        + "."
    )
    lines.append(
        f"Next: rnnzoo export {run} --out exports/my-{run.path.name}   |   rnnzoo plot {run}"
        f"   |   rnnzoo runs {run.path.parent}"
    )
    return "\n".join(lines)
