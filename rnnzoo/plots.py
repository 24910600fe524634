"""The figures rnnzoo draws: learning curves of one run or several overlaid (``curve.png``,
``rnnzoo plot``) and a forecaster rolled forward (``rnnzoo generate --plot``). Each function
returns a matplotlib ``Figure`` (what the tests inspect); ``save`` writes and closes it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rnnzoo.card import stack_size

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from rnnzoo.rundir import RunDir


def pyplot() -> Any:
    """matplotlib's pyplot on the Agg backend: files only, no window, no display needed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig: Figure, path: str) -> bool:
    fig.savefig(path, dpi=100)
    pyplot().close(fig)
    return True


def log_scale_helps(values: list[float]) -> bool:
    """Losses that fall over more than a decade and a half read better on a log axis."""
    positive = [v for v in values if v is not None and v > 0]
    return len(positive) == len(values) > 1 and max(positive) / min(positive) > 30


def run_label(run: RunDir) -> str:
    config = run.read_config()
    size = stack_size(config.layers, config.hidden, config.bidirectional)
    return f"{config.task} · {config.cell} {size}"


def curves(runs: list[RunDir]) -> Figure:
    """Training and validation loss together (left) and the task's main metric on the
    validation split with its baseline and the best epoch marked (right); several runs
    overlaid in one colour each."""
    plt = pyplot()
    fig, (loss_ax, metric_ax) = plt.subplots(1, 2, figsize=(11, 4))
    loss_values: list[float] = []
    metric_name = ""
    for index, run in enumerate(runs):
        color = f"C{index}"
        records = run.read_metrics()
        if not records:
            continue
        summary = run.read_summary()
        versus = summary.get("against_baseline") or {}
        name = f"{run.path.name}: " if len(runs) > 1 else ""
        epochs = [r["epoch"] for r in records]
        train = [r["train_loss"] for r in records]
        loss_ax.plot(epochs, train, "--", color=color, label=f"{name}training loss")
        loss_values += train
        validation_key = "validation_loss" if "validation_loss" in records[0] else None
        metric = versus.get("metric") or next(
            k.removeprefix("validation_") for k in records[0] if k.startswith("validation_")
        )
        if validation_key is None and not versus.get("higher_is_better", True):
            validation_key = f"validation_{metric}"  # a regression task's loss is its metric
        if validation_key:
            values = [r[validation_key] for r in records]
            loss_ax.plot(epochs, values, "o-", ms=3, color=color, label=f"{name}validation loss")
            loss_values += values
        values = [r[f"validation_{metric}"] for r in records]
        metric_ax.plot(epochs, values, "o-", ms=3, color=color, label=f"{name}validation {metric}")
        best = summary.get("best_epoch")
        if best in epochs:
            value = values[epochs.index(best)]
            right = best > (epochs[0] + epochs[-1]) / 2  # the label goes toward the middle
            high = value > (min(values) + max(values)) / 2
            metric_ax.plot(best, value, "*", ms=14, color=color)
            metric_ax.annotate(
                f"best: epoch {best}",
                (best, value),
                textcoords="offset points",
                xytext=(-8 if right else 8, -10 if high else 10),
                ha="right" if right else "left",
                va="top" if high else "bottom",
                fontsize=8,
            )
        if versus.get("baseline") is not None:
            metric_ax.axhline(
                versus["baseline"],
                ls=":",
                color=color,
                label=f"{name}baseline (test): {versus['baseline']:.4g}",
            )
        metric_name = metric if not metric_name or metric_name == metric else "metric"
    if not loss_values:
        from rnnzoo.errors import UserError

        raise UserError(f"{', '.join(map(str, runs))}: no epoch has finished yet; nothing to plot")
    if log_scale_helps(loss_values):
        loss_ax.set_yscale("log")
    loss_ax.set_ylabel("loss" + (" (log scale)" if loss_ax.get_yscale() == "log" else ""))
    metric_ax.set_ylabel(f"validation {metric_name}")
    from matplotlib.ticker import MaxNLocator

    for ax in (loss_ax, metric_ax):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    loss_ax.set_title("loss per epoch")
    metric_ax.set_title(f"{metric_name} per epoch (* best epoch)")
    title = (
        f"{run_label(runs[0])} — {runs[0]}"
        if len(runs) == 1
        else "; ".join(f"{run.path.name} ({run_label(run)})" for run in runs)
    )
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def generated(seed: Any, values: Any, truth: Any | None, title: str) -> Figure:
    """A seed window, the values a forecaster generated after it and, where the task can
    make it, the true continuation."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(10, 3.6))
    n, steps = len(seed), len(values)
    ax.plot(range(n), seed, "o-", ms=3, color="C0", label="seed window (test data)")
    if truth is not None:
        ax.plot(range(n, n + len(truth)), truth, "-", color="0.6", lw=2, label="true series")
    ax.plot(range(n, n + steps), values, ".-", ms=3, color="C1", label="generated")
    ax.axvline(n - 0.5, ls=":", color="0.4")
    ax.set_xlabel("step")
    ax.set_ylabel("value")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, borderaxespad=0)
    fig.tight_layout()
    return fig
