"""``rnnzoo tune``: an Optuna study over ``train`` into a tune folder."""

from __future__ import annotations

from typing import Any

import click

from rnnzoo.cli.common import note_broken_plugins, print_json, print_table


@click.command(short_help="Search training options and parameters with Optuna.")
@click.option("--task", required=True, help="A registered task (see `rnnzoo tasks`).")
@click.option("--cell", required=True, help="A registered cell (see `rnnzoo cells`).")
@click.option("--trials", default=20, type=int, help="Finished trials the study should hold.")
@click.option("--out", required=True, help="Tune folder: study.db, trial-NNNN/ runs, plots.")
@click.option(
    "--space",
    multiple=True,
    metavar="NAME=LOW:HIGH[:log]|A,B,C",
    help="Search NAME (a training option or a cell or task parameter) over a range or "
    "choices; one value fixes it; repeatable.",
    show_default="lr=1e-4:3e-2:log hidden=16:256:log layers=1:3 dropout=0:0.5",
)
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="KEY=VALUE",
    help="A fixed cell or task parameter, as for train; repeatable.",
    show_default="the parameters' own defaults",
)
@click.option(
    "--data",
    metavar="FILE",
    help="Your data, as for train (--param data=FILE).",
    show_default="none: the task's own data",
)
@click.option("--epochs", type=int, help="Epochs per trial.", show_default="the task's")
@click.option("--device", help="auto, cpu, cuda or cuda:N.", show_default="auto")
@click.option("--jobs", default=1, type=int, help="Trials run at once (worker processes).")
@click.option("--seed", default=0, type=int, help="Seed of the sampler.")
@click.option(
    "--log",
    "trackers",
    multiple=True,
    type=click.Choice(["tensorboard", "mlflow"]),
    help="Track every trial, as train --log does.",
    show_default="none",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def tune(
    task: str,
    cell: str,
    trials: int,
    out: str,
    space: tuple[str, ...],
    params: tuple[str, ...],
    data: str | None,
    epochs: int | None,
    device: str | None,
    jobs: int,
    seed: int,
    trackers: tuple[str, ...],
    as_json: bool,
) -> None:
    """Tune CELL on TASK: TPE sampling, poor trials pruned by their validation metric each
    epoch. Each trial is a run directory in --out; the same command run again continues the
    study (a trial cut short resumes from its checkpoint)."""
    from rnnzoo.params import split_params
    from rnnzoo.registry import get_cell_class, get_task_class
    from rnnzoo.tracking import require
    from rnnzoo.tuning import Settings, parse_space
    from rnnzoo.tuning import tune as run_tune

    require("optuna", "tune", "rnnzoo tune")  # before any work
    note_broken_plugins()
    task_class = get_task_class(task)
    if data is not None:
        params = (*params, f"task.data={data}")
    cell_params, task_params = split_params(
        list(params), cell, get_cell_class(cell), task, task_class
    )
    options: dict[str, Any] = {
        k: v for k, v in (("epochs", epochs), ("device", device)) if v is not None
    }
    metric = task_class.metrics[0]
    settings = Settings(
        task,
        cell,
        parse_space(list(space), cell, task),
        options,
        cell_params,
        task_params,
        metric.name,
        metric.higher_is_better,
    )
    result = run_tune(settings, out, trials, jobs=jobs, seed=seed, log=list(trackers))
    if as_json:
        print_json(result)
        return
    print_table(
        f"{len(result['trials'])} trials, {result['metric']}",
        ["trial", "state", "value", "epochs", "params", "run"],
        [
            [
                row["trial"],
                row["state"],
                "-" if row["value"] is None else f"{row['value']:.4g}",
                row["epochs"],
                ", ".join(f"{k}={short(v)}" for k, v in row["params"].items()),
                row["run"],
            ]
            for row in result["trials"]
        ],
    )
    best = result["best"]
    if best:
        click.echo(
            f"best: trial {best['trial']}, {result['metric']} {best['value']:.4g}: {best['run']}"
        )
        click.echo(f"Next: rnnzoo export {best['run']} --out exports/NAME")
    if result["plots"]:
        click.echo("plots: " + ", ".join(result["plots"]))


def short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)
