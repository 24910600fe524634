"""``rnnzoo predict``: an export, or a model on the shelf, answers on onnxruntime."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import click

from rnnzoo.cli.common import model_line, print_json, top_classes
from rnnzoo.errors import UserError


@click.command(short_help="Run an export (or a shelf model) on onnxruntime.")
@click.argument("model_path", metavar="MODEL", type=click.Path())
@click.option(
    "--input",
    "input_path",
    required=True,
    type=click.Path(),
    help="A .npy, .csv (one sequence) or .json file of arrays (sequences, or images for "
    "captioning); for translation models, texts (one per line, or a JSON list); for models "
    "trained on your data (classify, regress, forecast), a file in that data's format.",
)
@click.option(
    "--output",
    type=click.Path(),
    help="Write predictions to .npy (the array), .json (answers; also texts) or .csv (a row "
    "per id: models trained on your data).",
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

    from rnnzoo.escaping import printable
    from rnnzoo.files import atomic_write, check_output_path, write_text
    from rnnzoo.runtime import Model

    if output:
        check_output_path(output, "--output")
        if Path(output).suffix.lower() not in (".npy", ".json", ".csv"):
            raise UserError(f"--output {output}: name a .npy, .json or .csv file")
    model = Model(model_path, int8=int8)
    result = model.answer_file(input_path, beam)
    if output and output.lower().endswith(".npy") and result.prediction is not None:

        def write(tmp: str) -> None:
            with open(tmp, "wb") as f:  # a file object: np.save would add ".npy" to a name
                np.save(f, result.prediction)

        atomic_write(Path(output), write)
    elif output and output.lower().endswith(".csv"):
        if result.table is None:
            raise UserError(
                f"--output {output}: a table of answers by id comes from a data file of the "
                "format the model was trained on; write .json or .npy for this input"
            )
        write_text(Path(output), csv_text(*result.table))
    elif output:
        write_text(Path(output), json.dumps(result.to_json()) + "\n")
    if as_json:
        print_json(result.to_json())
        return
    if output:
        click.echo(f"wrote {output}", err=True)
    click.echo(printable(model_line(model, int8)))
    meaning = model.runner.meaning(result.prediction) if result.prediction is not None else ""
    if meaning:
        click.echo(printable(meaning))
    labels = model.labels
    for index, (shown, answer) in enumerate(zip(result.labels(), result.answers)):
        if labels and result.prediction is not None and result.prediction.ndim == 2:
            answer = top_classes(result.prediction[index], labels, top)
        elif not isinstance(answer, str):
            answer = np.round(np.asarray(answer), 4).tolist()
        click.echo(printable(f"{shown}{result.arrow} {answer}"))


def csv_text(header: list[str], rows: list[list]) -> str:
    """A table as CSV text."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()
