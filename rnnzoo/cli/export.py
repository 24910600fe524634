"""ONNX out of a run, and checked: export, verify and webpage."""

from __future__ import annotations

import sys
from typing import Any

import click

from rnnzoo.cli.common import print_json, print_table, runtime_option


@click.command(short_help="Export a run to ONNX, verified on every runtime.")
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
    multiple=True,
    metavar="TARGET",
    help="Also write the files of an edge target (repeatable; `rnnzoo targets` lists them): "
    "ort (onnxruntime mobile / minimal builds), litert (needs rnnzoo[litert]), micro (TensorFlow "
    "Lite Micro, needs rnnzoo[micro]), executorch (needs rnnzoo[executorch]), c (plain C99, run "
    "on emulated Cortex-M cores where the Arm toolchain and QEMU are installed).",
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
    from rnnzoo.closeness import RULE
    from rnnzoo.export import export_run

    result = export_run(
        run_dir,
        out,
        opset=opset,
        quantize=quantize,
        runtimes=list(runtimes) or None,
        formats=formats,
    )
    files = sorted(p.name for p in result.out.iterdir())
    if result.card["metrics"].get("note"):
        click.echo(f"note: {result.card['metrics']['note']}", err=True)
    from rnnzoo.tracking import log_export

    tracked = log_export(run_dir, result.out)  # to the run's MLflow run, if it had one
    if tracked:
        click.echo(tracked, err=True)
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
        f"onnxruntime vs PyTorch ({RULE})",
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
    print_targets(result.card)
    click.echo(f"exported to {result.out}: " + ", ".join(files))
    click.echo(f"Next: rnnzoo predict {result.out} --input {result.out / 'example.json'}")


def print_targets(card: dict[str, Any]) -> None:
    """What each edge target wrote, in its own words (sizes, arena, integer metrics, chip)."""
    from rnnzoo.registry import target

    for name, entry in (card.get("targets") or {}).items():
        for line in target(name).summary(entry):
            click.echo(line)


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
        return "fails (below)" if status.startswith("fails") else status

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


@click.command(short_help="A web page that runs an export in the browser.")
@click.argument("model_path", metavar="EXPORT", type=click.Path())
@click.option("--out", required=True, help="Folder for the page, e.g. web/sine.")
def webpage(model_path: str, out: str) -> None:
    """Write a web page that runs EXPORT in the browser with onnxruntime-web (wasm)."""
    from rnnzoo.runtime.webpage import write_page

    folder = write_page(model_path, out)
    click.echo(f"wrote {folder / 'index.html'} and the files it loads; to try it:")
    click.echo(f"  python3 -m http.server --bind 127.0.0.1 --directory {folder} 8000")
    click.echo("  then open http://127.0.0.1:8000/")


@click.command(short_help="Run an export on the other runtimes here.")
@click.argument("model_path", metavar="EXPORT", type=click.Path())
@runtime_option
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def verify(model_path: str, runtimes: tuple[str, ...], as_json: bool) -> None:
    """Run an export on the other runtimes installed here (onnx.reference, tract, OpenVINO,
    onnxruntime-node, onnxruntime-web) and its edge targets' files (LiteRT, TensorFlow Lite
    Micro, ExecuTorch, C on this machine and on emulated Cortex-M cores) against onnxruntime,
    on its example inputs; exit 1 if any file differs or fails."""
    from rnnzoo.runtime import Model

    report = Model(model_path).verify(list(runtimes) or None)
    if as_json:
        print_json(report)
    else:
        print_runtimes(report)
    bad = [s for r in report.values() for s in r.get("files", {}).values() if s != "ok"]
    if bad:
        sys.exit(1)
