"""The ``rnnzoo`` command line: parse, call the library, print.

Heavy modules (torch, onnx) are imported inside commands, so ``rnnzoo --help`` stays fast.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from rnnzoo.errors import UserError
from rnnzoo.plugins import PluginError


class Group(click.Group):
    """Turns a user's mistake, or what the machine refused (a full disk, a read-only folder,
    too little memory), into one line on stderr and exit status 2, never a traceback."""

    def make_context(
        self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra
    ) -> click.Context:
        """The top level's own options: no arguments shows the help, a wrong one is one line."""
        if not args and parent is None:
            click.echo(self.get_help(click.Context(self, info_name=info_name)))
            sys.exit(0)
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as error:
            fail(f"{error.format_message()} (see '{info_name or 'rnnzoo'} --help')")

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (UserError, PluginError) as error:
            fail(str(error))
        except click.UsageError as error:
            where = error.ctx.command_path if error.ctx else "rnnzoo"
            fail(f"{error.format_message()} (see '{where} --help')")
        except OSError as error:
            fail(os_error_line(error))
        except MemoryError:
            fail("not enough memory; use smaller sizes (--hidden, --batch-size, --param n_...)")
        except EOFError as error:  # click would take it for Ctrl-D and print "Aborted!"
            fail(f"unexpected end of a file ({error or 'it is empty or cut short'})")
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)


def os_error_line(error: OSError) -> str:
    """What the machine refused, and what to do about it."""
    import errno

    where = f"{error.filename}: " if error.filename else ""
    hint = {
        errno.ENOSPC: "free some space and try again; files written before are intact",
        errno.EDQUOT: "free some space and try again; files written before are intact",
        errno.EROFS: "choose a folder you can write",
        errno.EACCES: "check its permissions or choose another path",
        errno.EPERM: "check its permissions or choose another path",
    }.get(error.errno, "")
    return f"{where}{error.strerror or error}" + (f"; {hint}" if hint else "")


def fail(message: str) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(2)


def note_broken_plugins() -> None:
    """One line on stderr when a plugin failed to load: its cells and tasks are missing."""
    from rnnzoo.registry import plugins

    broken = [p.name for p in plugins() if p.errors]
    if broken:
        click.echo(
            f"note: {len(broken)} plugin(s) failed to load: {', '.join(broken)}; "
            "see 'rnnzoo plugins'",
            err=True,
        )


def print_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, default=str))


def print_table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(str(v) for v in row))
    console = Console()
    if not console.is_terminal:  # a pipe or a log: no 80-column wrapping of long rows
        console = Console(width=max(console.width, 160))
    console.print(table)


def training_option(name: str, help: str, flag: str = "", **kwargs: Any) -> Any:
    """A ``train`` option for a ``TrainConfig`` field. Left out, it is None and the task's
    recommended value, else the trainer's default, applies; ``--help`` says so."""
    from rnnzoo.rundir import option, trainer_defaults

    return click.option(
        flag or option(name),
        default=None,
        help=help,
        show_default=f"task's, else {trainer_defaults()[name]}",
        **kwargs,
    )


runtime_option = click.option(
    "--runtime",
    "runtimes",
    multiple=True,
    metavar="NAME",
    help="Check the files on this runtime besides onnxruntime (repeatable; default: every one "
    "installed: onnx.reference, tract, openvino, onnxruntime-node, onnxruntime-web).",
)


@click.group(
    cls=Group, context_settings={"help_option_names": ["-h", "--help"], "show_default": True}
)
@click.version_option(package_name="rnnzoo")
def cli() -> None:
    """rnnzoo — train any registered recurrent cell on any registered task, export it to ONNX."""


@cli.command(short_help="List the registered cells.")
@click.argument("pattern", default="*")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def cells(pattern: str, as_json: bool) -> None:
    """List registered cells (PATTERN is a wildcard such as 'l*')."""
    from rnnzoo.registry import cell_entry, list_cells

    note_broken_plugins()
    rows = [cell_entry(n) for n in list_cells(pattern)]
    if as_json:
        print_json(
            [{"name": e.name, "plugin": e.plugin, "description": e.description} for e in rows]
        )
    else:
        print_table(
            "cells",
            ["name", "plugin", "description"],
            [[e.name, e.plugin, e.description] for e in rows],
        )


@cli.command(short_help="List the registered tasks.")
@click.argument("pattern", default="*")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def tasks(pattern: str, as_json: bool) -> None:
    """List registered tasks (PATTERN is a wildcard)."""
    from rnnzoo.registry import list_tasks, task_entry

    note_broken_plugins()
    rows = [task_entry(n) for n in list_tasks(pattern)]
    if as_json:
        print_json(
            [
                {"name": e.name, "plugin": e.plugin, "kind": e.kind, "description": e.description}
                for e in rows
            ]
        )
    else:
        print_table(
            "tasks",
            ["name", "plugin", "kind", "description"],
            [[e.name, e.plugin, e.kind, e.description] for e in rows],
        )


@cli.command(short_help="List the plugins, what each registered, load errors.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def plugins(as_json: bool) -> None:
    """List loaded plugins, what each registered, and load errors."""
    from rnnzoo.registry import plugins as all_plugins

    infos = all_plugins()
    if as_json:
        print_json(
            [
                {
                    "name": p.name,
                    "version": p.version,
                    "builtin": p.builtin,
                    "registered": p.registered,
                    "status": p.status,
                    "errors": p.errors,
                }
                for p in infos
            ]
        )
    else:
        print_table(
            "plugins",
            ["name", "version", "registered", "status"],
            [
                [
                    p.name,
                    p.version,
                    ", ".join(p.registered),
                    "; ".join(p.errors) if p.errors else "ok",
                ]
                for p in infos
            ],
        )


@cli.command(short_help="List the trained models on the shelf.")
@click.argument("pattern", default="*")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--markdown", is_flag=True, help="Print the shelf's index (exports/README.md).")
def zoo(pattern: str, as_json: bool, markdown: bool) -> None:
    """The trained models on the shelf (PATTERN is a wildcard: rnnzoo zoo '*mnist*'); open
    one by name with `rnnzoo predict NAME` or Model("NAME"). Add shelves with RNNZOO_ZOO."""
    from rnnzoo.runtime import zoo as shelf

    rows = shelf.catalogue(pattern)
    if as_json:
        print_json(rows)
    elif markdown:
        click.echo(shelf.index_markdown(rows), nl=False)
    elif not rows:
        where = ", ".join(map(str, shelf.shelves()))
        click.echo(f"no model matches {pattern!r} on the shelves ({where})")
    else:
        click.echo(
            "verified on: ort = onnxruntime, ref = onnx.reference, ov = openvino,"
            " node/web = onnxruntime-node/-web, .ort = the ORT format"
        )
        print_table(
            "the shelf (" + ", ".join(map(str, shelf.shelves())) + ")",
            ["name", "task", "cell", "size", "test", "baseline", "fp32", "int8", "verified on"],
            [
                [r["name"], r.get("error", "")]
                if "error" in r
                else [
                    r["name"],
                    r["task"],
                    r["cell"],
                    r["size"],
                    f"{r['metric']} {r['test']:.4g}",
                    "-" if r["baseline"] is None else f"{r['baseline']:.4g}",
                    shelf.size_text(r["fp32_bytes"]),
                    shelf.size_text(r["int8_bytes"]),
                    " ".join(shelf.SHORT_RUNTIMES.get(n, n) for n in r["runtimes"]),
                ]
                for r in rows
            ],
        )


@cli.command(short_help="A cell or task: parameters, recommended training.")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def info(name: str, as_json: bool) -> None:
    """Describe a cell or a task and its parameters."""
    from rnnzoo.params import CELL_ARGUMENTS, params_of
    from rnnzoo.registry import any_entry

    note_broken_plugins()
    entry, what = any_entry(name)
    skip = CELL_ARGUMENTS if what == "cell" else ()
    params = params_of(entry.load(), skip=skip)
    doc = {
        "name": entry.name,
        "type": what,
        "plugin": entry.plugin,
        "description": entry.description,
        "params": [{"name": p.name, "type": p.type_name, "default": p.default} for p in params],
    }
    if entry.kind:
        doc["kind"] = entry.kind
    if what == "task":
        doc["training"] = recommended_training(entry.load())
        doc["input_examples"] = entry.load().input_examples()
    if as_json:
        print_json(doc)
        return
    click.echo(f"{what} {entry.name} ({entry.plugin}){' — ' + entry.kind if entry.kind else ''}")
    click.echo(entry.description)
    print_table(
        "parameters (set with --param KEY=VALUE)",
        ["name", "type", "default"],
        [[p.name, p.type_name, p.default] for p in params],
    )
    if what == "task":
        print_table(
            f"training: what `rnnzoo train --task {entry.name}` uses for an option left out",
            ["option", "value", "from"],
            [[r["option"], r["value"], r["from"]] for r in doc["training"]],
        )
        if doc["input_examples"]:
            click.echo("inputs it reads, e.g.: " + " · ".join(doc["input_examples"]))


def recommended_training(task_class: Any) -> list[dict[str, Any]]:
    """Each training option's value when left out: the task's recommendation, else the
    trainer's default."""
    from rnnzoo.rundir import option, trainer_defaults

    return [
        {"option": option(name), "value": task_class.defaults[name], "from": "task"}
        if name in task_class.defaults
        else {"option": option(name), "value": default, "from": "trainer"}
        for name, default in trainer_defaults().items()
    ]


def print_metrics(title: str, columns: dict[str, dict[str, float]]) -> None:
    """A table of metrics (rows) for each source (columns: model, baseline, ...)."""
    names = list(dict.fromkeys(k for values in columns.values() for k in values))
    rows = [
        [name, *(f"{values[name]:.4f}" if name in values else "—" for values in columns.values())]
        for name in names
    ]
    print_table(title, ["metric", *columns], rows)


@cli.command(short_help="Train a cell on a task into a run directory.")
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
@click.option("--out", help="Run directory (default: runs/TASK-CELL, numbered if taken).")
@click.option("--resume", is_flag=True, help="Continue the interrupted run in --out.")
@click.option("--overwrite", is_flag=True, help="Replace a finished run in --out.")
@click.option("--quiet", is_flag=True, help="No progress output.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def train(
    task: str,
    cell: str,
    params: tuple[str, ...],
    out: str | None,
    resume: bool,
    overwrite: bool,
    quiet: bool,
    as_json: bool,
    **options: Any,
) -> None:
    """Train CELL on TASK; writes config, weights, checkpoints, metrics and plots to --out.

    An option left out takes the task's recommended value (`rnnzoo info TASK` lists them),
    else the trainer's default shown here."""
    from rnnzoo.params import split_params
    from rnnzoo.registry import get_cell_class, get_task_class
    from rnnzoo.rundir import RunDir, config_with_defaults
    from rnnzoo.trainer import train as run_training

    note_broken_plugins()
    if not resume and not (task and cell):
        raise UserError("train needs --task and --cell (see `rnnzoo tasks`, `rnnzoo cells`)")
    if resume and not out:
        raise UserError("--resume needs --out, the run directory to continue")
    if resume and (task or cell or params or any(v is not None for v in options.values())):
        raise UserError(
            "--resume continues the run with its saved config.json; drop the other training options"
        )
    config = None
    if not resume:
        cell_params, task_params = split_params(
            list(params), cell, get_cell_class(cell), task, get_task_class(task)
        )
        config = config_with_defaults(
            task, cell, cell_params=cell_params, task_params=task_params, **options
        )
    run = RunDir(out or RunDir.unused(task, cell).path)
    try:
        summary = run_training(
            config, run.path, resume=resume, quiet=quiet or as_json, overwrite=overwrite
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


@cli.command(short_help="A run's metrics on a split, beside the baseline.")
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


@cli.command(short_help="Roll a trained forecaster forward.")
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


@cli.command(short_help="Learning curves of one or more runs.")
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


@cli.command(short_help="Compare the runs in a folder in one table.")
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


@cli.command(short_help="Export a run to ONNX, verified on every runtime.")
@click.argument("run_dir", type=click.Path())
@click.option("--out", required=True, help="Export folder, e.g. exports/NAME.")
@click.option("--opset", type=int, help="ONNX opset, 14 to 23 (default: 19).")
@click.option(
    "--quantize",
    type=click.Choice(["int8"]),
    help="Also write int8 graphs.",
    show_default="fp32 only",
)
@runtime_option
@click.option(
    "--format",
    "formats",
    type=click.Choice(["ort"]),
    multiple=True,
    help="Also write the ORT format (onnxruntime mobile / minimal builds) and its operator config.",
    show_default="ONNX only",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def export(
    run_dir: str,
    out: str,
    opset: int | None,
    quantize: str | None,
    runtimes: tuple[str, ...],
    formats: tuple[str, ...],
    as_json: bool,
) -> None:
    """Export a trained run to ONNX (whole-sequence and step graphs), verified."""
    from rnnzoo.export import TOLERANCE, export_run

    result = export_run(
        run_dir,
        out,
        opset=opset,
        quantize=quantize,
        runtimes=list(runtimes) or None,
        formats=formats,
    )
    files = sorted(p.name for p in result.out.iterdir())
    if as_json:
        print_json(
            {
                "out": str(result.out),
                "files": files,
                "verification": result.card["verification"],
                "runtimes": result.card.get("runtimes"),
                "int8": result.card.get("int8"),
            }
        )
        return
    groups: dict[str, list] = {}
    for check in result.checks:
        groups.setdefault(check.what, []).append(check)
    print_table(
        f"onnxruntime vs PyTorch (max |diff| / (1 + |value|) <= {TOLERANCE:g})",
        ["check", "batches × steps", "max diff", "ok"],
        [
            [
                what,
                ", ".join(f"{c.batch}×{c.steps}" for c in checks),
                f"{max(c.max_diff for c in checks):.1e}",
                "yes" if all(c.ok for c in checks) else "NO",
            ]
            for what, checks in groups.items()
        ],
    )
    print_runtimes(result.card.get("runtimes") or {})
    if quantize:
        q = result.card["int8"]
        metrics = ", ".join(
            f"{k} {v:.4g} (fp32 {q['fp32_test_metrics'][k]:.4g})"
            for k, v in q["test_metrics"].items()
        )
        click.echo(
            f"int8: {q['size_bytes']:,} bytes against {q['fp32_size_bytes']:,} in fp32;"
            f" test {metrics}"
        )
        if q["size_bytes"] >= q["fp32_size_bytes"]:
            click.echo("note: int8 does not pay for a model this small; ship the fp32 files")
    click.echo(f"exported to {result.out}: " + ", ".join(files))
    click.echo(f"Next: rnnzoo predict {result.out} --input {result.out / 'example.json'}")


def print_runtimes(runtimes: dict[str, Any]) -> None:
    """One table, a row per file and a column per runtime (ok, differs or fails), then why
    each failure failed."""
    if not runtimes:
        return
    files = list(dict.fromkeys(f for r in runtimes.values() for f in r.get("files", {})))

    def short(report: dict[str, Any], file: str) -> str:
        if "skipped" in report:
            return "not run (below)"
        status = report["files"].get(file, "—")
        return status if status in ("ok", "—") or status.startswith("differs") else "fails (below)"

    rows = [[file, *(short(r, file) for r in runtimes.values())] for file in files]
    columns = [name for name in runtimes]
    print_table("the same inputs on other runtimes (vs onnxruntime)", ["file", *columns], rows)
    for name, report in runtimes.items():
        if "skipped" in report:
            click.echo(f"{name}: not run ({report['skipped']})")
        else:
            click.echo(f"{name} {report['version']}")
        for file, status in report.get("files", {}).items():
            if status.startswith("fails"):
                click.echo(f"  {file}: {status[:160]}")


@cli.command(short_help="A web page that runs an export in the browser.")
@click.argument("model_path", metavar="EXPORT", type=click.Path())
@click.option("--out", required=True, help="Folder for the page, e.g. web/sine.")
def webpage(model_path: str, out: str) -> None:
    """Write a web page that runs EXPORT in the browser with onnxruntime-web (wasm)."""
    from rnnzoo.runtime.webpage import write_page

    folder = write_page(model_path, out)
    click.echo(f"wrote {folder / 'index.html'} and the files it loads; to try it:")
    click.echo(f"  python3 -m http.server --bind 127.0.0.1 --directory {folder} 8000")
    click.echo("  then open http://127.0.0.1:8000/")


@cli.command(short_help="Run an export on the other runtimes here.")
@click.argument("model_path", metavar="EXPORT", type=click.Path())
@runtime_option
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def verify(model_path: str, runtimes: tuple[str, ...], as_json: bool) -> None:
    """Run an export on the other runtimes installed here (onnx.reference, tract, OpenVINO,
    onnxruntime-node, onnxruntime-web) against onnxruntime, on its example inputs; exit 1 if
    any file differs or fails."""
    from rnnzoo.runtime import Model

    report = Model(model_path).verify(list(runtimes) or None)
    if as_json:
        print_json(report)
    else:
        print_runtimes(report)
    bad = [s for r in report.values() for s in r.get("files", {}).values() if s != "ok"]
    if bad:
        sys.exit(1)


@cli.command(short_help="Run an export (or a shelf model) on onnxruntime.")
@click.argument("model_path", metavar="MODEL", type=click.Path())
@click.option(
    "--input",
    "input_path",
    required=True,
    type=click.Path(),
    help="A .npy, .csv (one sequence) or .json file of arrays (sequences, or images for "
    "captioning); for translation models, texts (one per line, or a JSON list).",
)
@click.option(
    "--output",
    type=click.Path(),
    help="Write predictions to .npy (the array) or .json (answers; also texts).",
    show_default="print only",
)
@click.option("--int8", is_flag=True, help="Use the int8 graphs from the export folder.")
@click.option(
    "--beam",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Beam width for models that decode tokens (1: greedy).",
)
@click.option(
    "--top",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    help="Classifiers: show this many classes, most likely first, with probabilities.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def predict(
    model_path: str,
    input_path: str,
    output: str | None,
    int8: bool,
    beam: int,
    top: int,
    as_json: bool,
) -> None:
    """Run an exported MODEL (an export folder, a .onnx file or a name on the shelf: see
    `rnnzoo zoo`) on onnxruntime, without torch, and print its answers."""
    import numpy as np

    from rnnzoo.files import atomic_write, check_output_path, write_text
    from rnnzoo.runtime import Model

    if output:
        check_output_path(output, "--output")
        if Path(output).suffix.lower() not in (".npy", ".json"):
            raise UserError(f"--output {output}: name a .npy or .json file")
    model = Model(model_path, int8=int8)
    result = model.answer_file(input_path, beam)
    if output and output.lower().endswith(".npy") and result.prediction is not None:

        def write(tmp: str) -> None:
            with open(tmp, "wb") as f:  # a file object: np.save would add ".npy" to a name
                np.save(f, result.prediction)

        atomic_write(Path(output), write)
    elif output:
        write_text(Path(output), json.dumps(result.to_json()) + "\n")
    if as_json:
        print_json(result.to_json())
        return
    if output:
        click.echo(f"wrote {output}", err=True)
    click.echo(model_line(model, int8))
    meaning = model.runner.meaning(result.prediction) if result.prediction is not None else ""
    if meaning:
        click.echo(meaning)
    labels = model.labels
    for index, (shown, answer) in enumerate(zip(result.shown, result.answers)):
        if labels and result.prediction is not None and result.prediction.ndim == 2:
            answer = top_classes(result.prediction[index], labels, top)
        elif not isinstance(answer, str):
            answer = np.round(np.asarray(answer), 4).tolist()
        click.echo(f"{shown}{result.arrow} {answer}")


def model_line(model: Any, int8: bool = False) -> str:
    """Which model answered, and how good it was on its test split."""
    card = model.card
    from rnnzoo.card import stack_size

    size = stack_size(card["layers"], card["hidden"], card["bidirectional"])
    line = f"{model.folder}: {card['cell']} {size} trained on {card['task']}"
    test, baseline = card["metrics"].get("test") or {}, card["metrics"].get("baseline_test") or {}
    if int8 and card.get("int8"):
        line, test = line + ", int8 weights", card["int8"]["test_metrics"]
    if test:
        metric, value = next(iter(test.items()))
        line += f"; test {metric} {value:.4g}"
        if metric in baseline:
            line += f" (baseline {baseline[metric]:.4g})"
    return line


def top_classes(logits: Any, labels: list[str], top: int) -> str:
    """The ``top`` most likely classes of one output, with their softmax probabilities."""
    import numpy as np

    exp = np.exp(logits - logits.max())
    probabilities = exp / exp.sum()
    order = np.argsort(-probabilities)[:top]
    first, *rest = (f"{labels[i]} {probabilities[i]:.3f}" for i in order)
    return first + (f"  ({', '.join(rest)})" if rest else "")


def main() -> None:
    cli(prog_name="rnnzoo")
