"""The listing commands: cells, tasks, plugins, zoo and info."""

from __future__ import annotations

from typing import Any

import click

from rnnzoo.cli.common import note_broken_plugins, print_json, print_table


@click.command(short_help="List the registered cells.")
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


@click.command(short_help="List the registered tasks.")
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


@click.command(short_help="List the plugins, what each registered, load errors.")
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


@click.command(short_help="List the trained models on the shelf.")
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


@click.command(short_help="A cell or task: parameters, recommended training.")
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
