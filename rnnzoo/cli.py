"""The ``rnnzoo`` command line: parse, call the library, print.

Heavy modules (torch, onnx) are imported inside commands, so ``rnnzoo --help`` stays fast.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from rnnzoo.errors import UserError
from rnnzoo.plugins import PluginError


class Group(click.Group):
    """Turns a user's mistake into one line on stderr and exit status 2, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (UserError, PluginError) as error:
            click.echo(f"Error: {error}", err=True)
            sys.exit(2)


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
    Console().print(table)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="rnnzoo")
def cli() -> None:
    """rnnzoo — train any registered recurrent cell on any registered task, export it to ONNX."""


@cli.command()
@click.argument("pattern", default="*")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def cells(pattern: str, as_json: bool) -> None:
    """List registered cells (PATTERN is a wildcard such as 'l*')."""
    from rnnzoo.registry import cell_entry, list_cells

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


@cli.command()
@click.argument("pattern", default="*")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def tasks(pattern: str, as_json: bool) -> None:
    """List registered tasks (PATTERN is a wildcard)."""
    from rnnzoo.registry import list_tasks, task_entry

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


@cli.command()
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


@cli.command()
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def info(name: str, as_json: bool) -> None:
    """Describe a cell or a task and its parameters."""
    from rnnzoo.registry import (
        UnknownNameError,
        _unknown,
        cell_entry,
        list_cells,
        list_tasks,
        params_of,
        task_entry,
    )

    if name in list_cells():
        entry, what, skip = cell_entry(name), "cell", ("input_size", "hidden_size")
    elif name in list_tasks():
        entry, what, skip = task_entry(name), "task", ()
    else:
        error = _unknown("cell or task", name, list_cells() + list_tasks())
        raise UnknownNameError(str(error))
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
    if as_json:
        print_json(doc)
        return
    click.echo(f"{what} {entry.name} ({entry.plugin}){' — ' + entry.kind if entry.kind else ''}")
    click.echo(entry.description)
    print_table(
        "parameters",
        ["name", "type", "default"],
        [[p.name, p.type_name, p.default] for p in params],
    )


def main() -> None:
    cli(prog_name="rnnzoo")
