"""``rnnzoo new cell NAME``: start a cell plugin."""

from __future__ import annotations

from pathlib import Path

import click


@click.group()
def new() -> None:
    """Start a plugin that installs and passes its own tests."""


@new.command("cell")
@click.argument("name")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    help="the folder to write rnnzoo-NAME into",
)
def cell(name: str, out: Path) -> None:
    """Write rnnzoo-NAME/: a pyproject with the cell's entry point, the cell (an Elman cell to
    make yours), tests that run every check of rnnzoo.testing on it, and a README."""
    from rnnzoo.scaffold import new_cell

    path = new_cell(name, out)
    click.echo(f"wrote {path}; next: pip install -e {path} && pytest {path}")
