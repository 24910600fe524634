"""``rnnzoo train``: a cell on a task into a run directory."""

from __future__ import annotations

import sys
from typing import Any

import click

from rnnzoo.cli.common import note_broken_plugins, print_json, training_option
from rnnzoo.errors import UserError


@click.command(short_help="Train a cell on a task into a run directory.")
@click.option(
    "--task",
    help="A registered task (see `rnnzoo tasks`).",
    show_default="required, but with --resume",
)
@click.option(
    "--cell",
    help="A registered cell (see `rnnzoo cells`).",
    show_default="required, but with --resume",
)
@training_option("hidden", "Units per layer and direction.", type=int)
@training_option("layers", "Stacked recurrent layers.", type=int)
@training_option("bidirectional", "Run both directions.", flag="--bidirectional/--unidirectional")
@training_option("dropout", "Dropout between layers.", type=float)
@training_option("epochs", "Passes over the training split.", type=int)
@training_option("batch_size", "Sequences per optimizer step.", type=int)
@training_option("lr", "Learning rate (Adam; AdamW with --weight-decay).", type=float)
@training_option("weight_decay", "Decoupled weight decay (AdamW); 0: plain Adam.", type=float)
@training_option("schedule", "LR schedule.", type=click.Choice(["constant", "onecycle"]))
@training_option("clip", "Max gradient norm (0: no clipping).", type=float)
@training_option("tbptt", "Truncated BPTT window in steps (seq2seq tasks; 0: full BPTT).", type=int)
@training_option(
    "patience", "Stop after this many epochs without improvement (0: never).", type=int
)
@training_option("max_steps", "Stop after this many optimizer steps (0: no limit).", type=int)
@training_option("device", "auto (cuda when available), cpu, cuda or cuda:N.")
@click.option("--amp", is_flag=True, default=None, help="Mixed precision on CUDA.")
@training_option(
    "compile",
    "torch.compile the step loop (auto: for cells without a fused kernel on long runs).",
    type=click.Choice(["auto", "on", "off"]),
)
@training_option("seed", "Seed of the weights, the batch order and dropout.", type=int)
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="KEY=VALUE",
    help="A cell or task parameter (see `rnnzoo info`); repeatable.",
    show_default="the parameters' own defaults",
)
@click.option(
    "--data",
    metavar="FILE",
    help="Your data, for the tasks that read it (classify, regress, forecast): "
    "the same as --param data=FILE.",
    show_default="none: the task's own data",
)
@click.option("--out", help="Run directory (default: runs/TASK-CELL, numbered if taken).")
@click.option(
    "--resume",
    is_flag=True,
    help="Continue the run in --out with its saved options; with --epochs N (or --patience, "
    "--max-steps) train a finished or interrupted run on to N epochs. A one-cycle schedule "
    "is stretched to the new length from the step reached; a constant one goes on.",
)
@click.option("--overwrite", is_flag=True, help="Replace a finished run in --out.")
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    help="CPU threads for the operators.",
    show_default="auto: the cores other processes leave free (or OMP_NUM_THREADS)",
)
@click.option("--quiet", is_flag=True, help="No progress output.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option(
    "--log",
    "--track",
    "trackers",
    multiple=True,
    type=click.Choice(["tensorboard", "mlflow"]),
    help="Track the run in TensorBoard (RUN/tensorboard/) or MLflow (MLFLOW_TRACKING_URI, "
    "else runs/mlflow.db); repeatable. Needs rnnzoo[tensorboard] / rnnzoo[mlflow]. Under "
    "torchrun write --track (torchrun takes --log for its --log-dir).",
    show_default="none",
)
def train(
    task: str,
    cell: str,
    params: tuple[str, ...],
    data: str | None,
    out: str | None,
    resume: bool,
    overwrite: bool,
    quiet: bool,
    as_json: bool,
    trackers: tuple[str, ...],
    threads: int | None,
    **options: Any,
) -> None:
    """Train CELL on TASK; writes config, weights, checkpoints, metrics and plots to --out.

    An option left out takes the task's recommended value (`rnnzoo info TASK` lists them),
    else the trainer's default shown here."""
    from rnnzoo.params import params_of, split_params
    from rnnzoo.registry import get_cell_class, get_task_class
    from rnnzoo.rundir import RESUMABLE_WITH, RunDir, config_with_defaults, option
    from rnnzoo.tracking import trackers as make_trackers
    from rnnzoo.trainer import train as run_training

    callbacks = make_trackers(trackers)  # a missing extra: one line, before any work
    note_broken_plugins()
    if not resume and not (task and cell):
        raise UserError("train needs --task and --cell (see `rnnzoo tasks`, `rnnzoo cells`)")
    if resume and not out:
        raise UserError("--resume needs --out, the run directory to continue")
    longer = {k: options[k] for k in RESUMABLE_WITH if options[k] is not None}
    if resume:
        given = {"task": task, "cell": cell, "param": params, "data": data}
        others = [f"--{k}" for k, v in given.items() if v]
        others += [option(k) for k, v in options.items() if v is not None and k not in longer]
        if others:
            raise UserError(
                "--resume continues the run with its saved config.json and takes only "
                f"{', '.join(map(option, RESUMABLE_WITH))}; drop {', '.join(others)}"
            )
    config = None
    if not resume:
        if data is not None:
            if "data" not in {p.name for p in params_of(get_task_class(task))}:
                raise UserError(
                    f"--data: task {task!r} makes its own data; the tasks that read your file "
                    "are classify, regress and forecast (see `rnnzoo tasks`)"
                )
            params = (*params, f"task.data={data}")
        cell_params, task_params = split_params(
            list(params), cell, get_cell_class(cell), task, get_task_class(task)
        )
        config = config_with_defaults(
            task, cell, cell_params=cell_params, task_params=task_params, **options
        )
    run = RunDir(out or RunDir.unused(task, cell).path)
    try:
        summary = run_training(
            config,
            run.path,
            resume=resume,
            quiet=quiet or as_json,
            overwrite=overwrite,
            longer=longer,
            callbacks=callbacks,
            threads=threads,
        )
    except KeyboardInterrupt:
        if not run.has_checkpoint():
            click.echo("interrupted before the first epoch ended; nothing was kept", err=True)
        else:
            epochs = run.read_metrics()
            after = f" after epoch {epochs[-1]['epoch']}" if epochs else ""
            click.echo(
                f"interrupted{after}; continue with: rnnzoo train --resume --out {run}", err=True
            )
        sys.exit(130)
    if as_json:
        print_json(summary)
