"""The listing commands: cells, tasks, plugins, zoo and info."""

from __future__ import annotations

from typing import Any

import click

from rnnzoo.cli.common import print_json, print_table
from rnnzoo.errors import UserError
from rnnzoo.plugins import PluginError

check_option = click.option(
    "--check",
    is_flag=True,
    help="Also build each cell and run one step, as `rnnzoo train` would, and show what breaks "
    "the cell contract (imports torch: slower).",
)


@click.command(short_help="List the registered cells.")
@click.argument("pattern", default="*")
@check_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def cells(pattern: str, check: bool, as_json: bool) -> None:
    """List registered cells (PATTERN is a wildcard such as 'l*').

    Plugins that failed (their cells are missing) and cells ignored because another plugin
    took the name are listed under the table (on stderr with --json). Listing imports no
    torch, so a cell that breaks the contract shows only with --check (a "contract" column:
    ok, or the one-line error training would give); `rnnzoo info CELL` always checks.
    """
    from rnnzoo.registry import cell_entry, list_cells

    rows = [cell_entry(n) for n in list_cells(pattern)]
    docs = [{"name": e.name, "plugin": e.plugin, "description": e.description} for e in rows]
    if check:
        for doc in docs:
            doc["contract"] = contract_problem(doc["name"]) or "ok"
    if as_json:
        print_json(docs)
    else:
        columns = ["name", "plugin", "description", *(["contract"] if check else [])]
        print_table("cells", columns, [list(doc.values()) for doc in docs])
    say_problems(plugin_problems("cell"), as_json)


@click.command(short_help="List the registered tasks.")
@click.argument("pattern", default="*")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def tasks(pattern: str, as_json: bool) -> None:
    """List registered tasks (PATTERN is a wildcard).

    Plugins that failed (their tasks are missing) and tasks ignored because another plugin
    took the name are listed under the table (on stderr with --json).
    """
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
    say_problems(plugin_problems("task", "family"), as_json)


@click.command(short_help="List the edge targets export --format writes.")
@click.argument("pattern", default="*")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def targets(pattern: str, as_json: bool) -> None:
    """List the registered edge targets (PATTERN is a wildcard): what each writes, the model
    families it takes, and what is missing here to write or run its files."""
    from rnnzoo.registry import list_targets, target

    rows = []
    for name in list_targets(pattern):
        found = target(name)
        rows.append({
            "name": name,
            "plugin": getattr(found, "plugin", ""),
            "families": list(found.families),
            "description": found.description,
            "missing": found.missing() or "",
        })  # fmt: skip
    if as_json:
        print_json(rows)
    else:
        print_table(
            "edge targets",
            ["name", "plugin", "families", "description", "missing here"],
            [[r["name"], r["plugin"], ", ".join(r["families"]), r["description"], r["missing"]]
             for r in rows],
        )  # fmt: skip
    say_problems(plugin_problems("target"), as_json)


@click.command(short_help="List the plugins, what each registered, their problems.")
@check_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def plugins(check: bool, as_json: bool) -> None:
    """List loaded plugins, what each registered, and what went wrong: status "error" when a
    plugin failed to load, a hook raised or a registration was refused; "warning" when a name
    it registered was ignored, being taken already. With --check, a cell of the plugin that
    breaks the cell contract is an error too."""
    from rnnzoo.registry import plugins as all_plugins

    docs = []
    for p in all_plugins():
        contract = {}
        if check:
            names = [r.split(":", 1)[1] for r in p.registered if r.startswith("cell:")]
            contract = {n: line for n in names if (line := contract_problem(n)) is not None}
        status = "error" if contract else p.status
        docs.append(
            {
                "name": p.name,
                "version": p.version,
                "builtin": p.builtin,
                "registered": p.registered,
                "status": status,
                "errors": p.errors + list(contract.values()),
                "ignored": p.ignored,
            }
        )
    if as_json:
        print_json(docs)
    else:
        print_table(
            "plugins",
            ["name", "version", "registered", "status"],
            [
                [
                    d["name"],
                    d["version"],
                    ", ".join(d["registered"]),
                    "; ".join(d["errors"] + d["ignored"]) or "ok",
                ]
                for d in docs
            ],
        )


CHECK_INPUT, CHECK_HIDDEN = 3, 8  # the sizes a listing builds a cell with to check it


def contract_problem(name: str) -> str | None:
    """None when the cell ``name`` builds with its default parameters and one step keeps the
    cell contract, else the one line ``rnnzoo train`` would fail with."""
    from rnnzoo.cells.contract import build_cell

    try:
        build_cell(name, CHECK_INPUT, CHECK_HIDDEN)
    except (UserError, PluginError) as error:
        return str(error)
    except Exception as error:  # not the contract's own words: still one line, naming the cell
        reason = (str(error).strip().splitlines() or [""])[0]
        return f"cell {name!r}: {type(error).__name__}: {reason}"
    return None


def plugin_problems(*kinds: str) -> list[str]:
    """One line per plugin problem that leaves out or ignores names of these kinds: a plugin
    that did not load, a hook that raised, a registration refused or ignored."""
    from rnnzoo.registry import plugins as all_plugins

    lines = []
    for info in all_plugins():
        for problem in info.problems:
            if problem.ignored and problem.about in kinds:
                lines.append(problem.message)  # it names both plugins itself
            elif problem.about in ("plugin", *kinds):
                lines.append(f"plugin {info.name!r}: {problem.message}")
    return lines


def say_problems(lines: list[str], as_json: bool) -> None:
    """Under a table, or as notes on stderr when stdout is JSON."""
    if not lines:
        return
    if as_json:
        for line in lines:
            click.echo(f"note: {line}", err=True)
        return
    click.echo("not listed (see 'rnnzoo plugins'):")
    for line in lines:
        click.echo(f"  {line}")


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
            [
                "name",
                "task",
                "cell",
                "size",
                "test",
                "baseline",
                "fp32",
                "int8",
                "verified on",
                "edge",
            ],
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
                    "; ".join(r["edge"]) or "-",
                ]
                for r in rows
            ],
        )


@click.command(short_help="A cell or task: parameters, recommended training.")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def info(name: str, as_json: bool) -> None:
    """Describe a cell or a task and its parameters. A cell is built and stepped once, as
    `rnnzoo train` would: "contract" says ok, or the one-line error training would give."""
    from rnnzoo.params import CELL_ARGUMENTS, params_of
    from rnnzoo.registry import any_entry

    entry, what = any_entry(name)
    target = entry.load()
    doc: dict[str, Any] = {
        "name": entry.name,
        "type": what,
        "plugin": entry.plugin,
        "description": entry.description,
    }
    if what == "cell":
        doc["contract"] = contract_problem(entry.name) or "ok"
    skip = CELL_ARGUMENTS if what == "cell" else ()
    params = params_of(target, skip=skip) if isinstance(target, type) else []
    doc["params"] = [{"name": p.name, "type": p.type_name, "default": p.default} for p in params]
    if entry.kind:
        doc["kind"] = entry.kind
    if what == "task":
        doc["training"] = recommended_training(target)
        doc["input_examples"] = target.input_examples()
    if as_json:
        print_json(doc)
        return
    click.echo(f"{what} {entry.name} ({entry.plugin}){' — ' + entry.kind if entry.kind else ''}")
    click.echo(entry.description)
    if what == "cell":
        click.echo(f"contract: {doc['contract']}")
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
