"""What the commands share: a mistake as one line and exit status 2, JSON and tables, the
option helpers, and how a model and its answers are printed."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from rnnzoo import interrupts
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
        _notes.clear()  # left by an earlier command that failed in this process
        try:
            result = super().invoke(ctx)
            interrupts.check()  # a Ctrl-C that a library swallowed: never an exit status 0
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
        say_notes()
        return result


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


LONGEST_WORD = 300  # a value quoted from a file (a 200 KB field) is shortened in an error line


def fail(message: str) -> None:
    import re

    from rnnzoo.escaping import printable

    def shorten(word: re.Match) -> str:
        text = word.group()
        return f"{text[:60]}…({len(text):,} characters)…{text[-20:]}"

    message = re.sub(rf"\S{{{LONGEST_WORD + 1},}}", shorten, message)
    click.echo(f"Error: {printable(message)}", err=True)
    sys.exit(2)


# Notes for stderr, said once the command has succeeded: never before an error, which stays
# one line (an unknown cell or task names the failed plugins in that line itself).
_notes: list[str] = []


def note_broken_plugins() -> None:
    """Say, once the command has succeeded, that plugins failed: their cells and tasks are
    missing."""
    from rnnzoo.registry import failed_plugins

    broken = [p.name for p in failed_plugins("plugin", "cell", "task", "family")]
    line = (
        f"note: {len(broken)} plugin(s) failed: {', '.join(broken)}; see 'rnnzoo plugins'"
        if broken
        else ""
    )
    if line and line not in _notes:
        _notes.append(line)


def say_notes() -> None:
    while _notes:
        click.echo(_notes.pop(0), err=True)


def print_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, default=str))


def print_table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from rnnzoo.escaping import printable

    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        # text, not markup (names may hold [ ]), and no terminal escapes (labels may hold ESC)
        table.add_row(*(Text(printable(v)) for v in row))
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
