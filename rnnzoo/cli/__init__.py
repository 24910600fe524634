"""The ``rnnzoo`` command line: parse, call the library, print.

One module per command or group of related commands; what they share is in ``common``.
Heavy modules (torch, onnx) are imported inside commands, so ``rnnzoo --help`` stays fast.
"""

from __future__ import annotations

import click

from rnnzoo import interrupts
from rnnzoo.cli import evaluate, export, listing, new, predict, train, tune
from rnnzoo.cli.common import Group


@click.group(
    cls=Group, context_settings={"help_option_names": ["-h", "--help"], "show_default": True}
)
@click.version_option(package_name="rnnzoo")
def cli() -> None:
    """rnnzoo — train any registered recurrent cell on any registered task, export it to ONNX."""


cli.add_command(listing.cells)
cli.add_command(listing.tasks)
cli.add_command(listing.plugins)
cli.add_command(listing.targets)
cli.add_command(listing.zoo)
cli.add_command(listing.info)
cli.add_command(train.train)
cli.add_command(tune.tune)
cli.add_command(evaluate.evaluate)
cli.add_command(evaluate.generate)
cli.add_command(evaluate.plot)
cli.add_command(evaluate.runs)
cli.add_command(export.export)
cli.add_command(export.webpage)
cli.add_command(export.verify)
cli.add_command(predict.predict)
cli.add_command(new.new)


def main() -> None:
    interrupts.install()
    cli(prog_name="rnnzoo")
