"""What a trained run did: evaluate, generate, plot and runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from rnnzoo.cli.common import print_json, print_table
from rnnzoo.errors import UserError


def print_metrics(title: str, columns: dict[str, dict[str, float]]) -> None:
    """A table of metrics (rows) for each source (columns: model, baseline, ...)."""
    names = list(dict.fromkeys(k for values in columns.values() for k in values))
    rows = [
        [name, *(f"{values[name]:.4f}" if name in values else "—" for values in columns.values())]
        for name in names
    ]
    print_table(title, ["metric", *columns], rows)


@click.command(short_help="A run's metrics on a split, beside the baseline.")
@click.argument("run_dir", type=click.Path())
@click.option(
    "--split",
    type=click.Choice(["train", "validation", "test"]),
    default="test",
    help="The split to score the best weights on.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def evaluate(run_dir: str, split: str, as_json: bool) -> None:
    """Every metric of a trained run on a split, beside the task's baseline."""
    import torch

    from rnnzoo.rundir import RunDir
    from rnnzoo.trainer import predict

    run = RunDir(run_dir).load()
    data = run.splits[split]
    prediction = predict(run.family, run.model, data, torch.device("cpu"))
    metrics = run.task.evaluate(prediction, data.y)
    baseline = run.task.baseline(run.splits["train"], data)
    if as_json:
        print_json({"run": run_dir, "split": split, "metrics": metrics, "baseline": baseline})
    else:
        print_metrics(
            f"{run.config.task} / {run.config.cell} on {split}",
            {"model": metrics, "baseline": baseline},
        )


PLOT_FORMATS = (".png", ".pdf", ".svg", ".jpg", ".jpeg")


def check_plot_path(path: str) -> Path:
    """An image file to write: a known extension, a folder that exists and can be written."""
    from rnnzoo.files import check_output_path

    if Path(path).suffix.lower() not in PLOT_FORMATS:
        raise UserError(f"--plot {path}: name an image file ending in {', '.join(PLOT_FORMATS)}")
    return check_output_path(path, "--plot")


def save_figure(fig: Any, path: Path) -> None:
    """Save a matplotlib figure atomically (never a half-written image)."""
    from rnnzoo import plots
    from rnnzoo.files import atomic_write

    try:
        atomic_write(path, lambda tmp: fig.savefig(tmp, format=path.suffix[1:].lower(), dpi=100))
    finally:
        plots.pyplot().close(fig)


@click.command(short_help="Roll a trained forecaster forward.")
@click.argument("run_dir", type=click.Path())
@click.option(
    "--steps",
    type=click.IntRange(min=1, max=100_000),
    default=100,
    show_default=True,
    help="Values to generate (at most 100,000).",
)
@click.option(
    "--plot",
    type=click.Path(),
    help="Write a plot (PNG, SVG, PDF) of the seed window, the generated values and the truth.",
    show_default="no plot",
)
@click.option("--json", "as_json", is_flag=True, help="Print the values as JSON.")
def generate(run_dir: str, steps: int, plot: str | None, as_json: bool) -> None:
    """Roll a trained forecaster forward STEPS values from a test window (the creative RNN)."""
    from rnnzoo.rundir import RunDir

    plot_path = check_plot_path(plot) if plot else None
    run = RunDir(run_dir).load()
    seed = run.splits["test"].x[0]
    values = run.family.generate(run.model, run.task, seed, steps)
    if plot_path:
        from rnnzoo import plots

        truth = run.task.continuation("test", 0, steps)
        title = (
            f"{plots.run_label(RunDir(run_dir))} — rolled forward {steps} steps from the first"
            " test window, each value fed back as the next input"
        )
        truth = None if truth is None else truth[:, 0]
        save_figure(plots.generated(seed[:, 0], values[:, 0], truth, title), plot_path)
    if as_json:
        print_json({"seed": seed.tolist(), "generated": values.tolist()})
        return
    click.echo(f"{steps} values generated after the first test window ({len(seed)} steps):")
    column = values[:, 0].tolist()
    for start in range(0, len(column), 10):
        click.echo(f"{start + 1:>6}  " + " ".join(f"{v:8.4f}" for v in column[start : start + 10]))
    if plot_path:
        click.echo(f"plot: {plot_path}")


@click.command(short_help="Learning curves of one or more runs.")
@click.argument("run_dirs", metavar="RUN [RUN ...]", nargs=-1, required=True, type=click.Path())
@click.option(
    "--out",
    type=click.Path(),
    help="Image to write  [default: RUN/curve.png for one run, compare.png beside several]",
)
def plot(run_dirs: tuple[str, ...], out: str | None) -> None:
    """Learning curves of one run, or of several overlaid: training and validation loss,
    the main metric with the baseline and the best epoch marked."""
    from rnnzoo import plots
    from rnnzoo.rundir import RunDir

    runs = [RunDir(path) for path in run_dirs]
    for run in runs:
        run.read_config()  # one line for a folder that is not a run
    if out is None:
        out = str(
            runs[0].file("curve.png") if len(runs) == 1 else runs[0].path.parent / "compare.png"
        )
    path = check_plot_path(out)
    save_figure(plots.curves(runs), path)
    click.echo(f"plot: {path}")


@click.command(short_help="Compare the runs in a folder in one table.")
@click.argument("folder", default="runs", type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def runs(folder: str, as_json: bool) -> None:
    """Compare the runs in FOLDER (default: runs) in one table: task, cell, sizes, best
    epoch, the main test metric beside its baseline, time."""
    from rnnzoo.rundir import compare_runs

    rows = compare_runs(folder)
    if as_json:
        print_json(rows)
        return
    if not rows:
        click.echo(f"no runs in {folder} (train one: rnnzoo train --task sine --cell lstm)")
        return
    print_table(
        f"runs in {folder}",
        ["run", "task", "cell", "size", "epochs", "best", "test metric", "baseline", "seconds"],
        [
            [
                r["run"],
                r["task"],
                r["cell"],
                r["size"],
                r["epochs"],
                r["best_epoch"],
                r["metric"],
                r["baseline"],
                r["seconds"],
            ]
            for r in rows
        ],
    )
