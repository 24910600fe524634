"""A kit for cell authors: every check of the cell contract, on any cell, in one call.

    from rnnzoo.testing import check_cell
    check_cell("mingru")                       # raises CellCheckError at the first failure

or, in a plugin's tests, one pytest case per check (as scikit-learn's
``parametrize_with_checks`` does for estimators)::

    from rnnzoo.testing import parametrize_with_checks

    @parametrize_with_checks(["mingru"])
    def test_cell_contract(cell, check):
        check(cell)

The checks, cheapest first: the contract's one step (``contract``), ``shapes`` of a stack of
layers in both directions, ``batch_independence``, ``determinism``, ``gradients`` reaching
every parameter, ``sample_state`` giving valid states, ``padding`` (``lengths``: zeros past
each row's end, the state frozen there), ``parallel_form`` (the cell's whole-sequence form
equals its step loop over ``STEPS`` steps, padded, from sampled states), ``constraint`` (the
``after_optimizer_step`` hook), and ``export``: a small model trained for a few steps, exported
(whole sequences, padded batches, one step, int8) and verified against PyTorch on onnxruntime,
streamed step by step against the whole sequence, then run on every other installed runtime.
A failing check raises ``CellCheckError`` with one line: the cell, the check, what was wrong
and the fix.
"""

from __future__ import annotations

import functools
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from rnnzoo.cells.base import Cell, State
from rnnzoo.cells.contract import CellContractError, after_optimizer_step, build_cell, describe

INPUT, HIDDEN, BATCH = 3, 8, 3
STEPS = 1000  # the parallel form against the step loop
TOLERANCE = 1e-4  # |diff| / (1 + |value|): a scan in float32 is not bit-equal to the loop

CellLike = str | type[Cell]


class CellCheckError(AssertionError):
    """One check failed; the message is one line naming the cell, the check and the fix."""


def fail(cell: CellLike, check: str, what: str) -> CellCheckError:
    name = cell if isinstance(cell, str) else None
    cls = None if isinstance(cell, str) else cell
    return CellCheckError(f"{describe(cls, name)}, check {check!r}: {what}")


def make(cell: CellLike, params: dict[str, Any] | None = None, input_size: int = INPUT) -> Cell:
    torch.manual_seed(0)
    return build_cell(cell, input_size, HIDDEN, **(params or {})).eval()


def inputs(steps: int, batch: int = BATCH, seed: int = 1) -> Tensor:
    return torch.randn(batch, steps, INPUT, generator=torch.Generator().manual_seed(seed))


def worst(expected: Tensor, got: Tensor) -> float:
    return float(((expected - got).abs() / (1 + expected.abs())).max())


# ------------------------------------------------------------------ the checks


def check_contract(cell: CellLike, params: dict[str, Any] | None = None) -> None:
    """The class, its constructor and one step on a batch of 2 (``build_cell``)."""
    try:
        make(cell, params)
    except CellContractError as error:
        raise CellCheckError(str(error)) from error


def check_shapes(cell: CellLike, params: dict[str, Any] | None = None) -> None:
    """Two layers, both directions, padded: outputs and states of the documented shapes."""
    from rnnzoo.recurrent import Recurrent

    torch.manual_seed(0)
    stack = Recurrent(cell, INPUT, HIDDEN, num_layers=2, bidirectional=True, **(params or {}))
    y, state = stack(inputs(5), torch.tensor([5, 2, 1]))
    if tuple(y.shape) != (BATCH, 5, stack.output_size):
        raise fail(cell, "shapes", f"a 2-layer bidirectional stack gave y {tuple(y.shape)}")
    for slot, size in zip(state, stack.state_sizes):
        if tuple(slot.shape) != (4, BATCH, size):
            raise fail(
                cell, "shapes", f"a stack's state is {tuple(slot.shape)}, not (4, {BATCH}, {size})"
            )


def check_batch_independence(cell: CellLike, params: dict[str, Any] | None = None) -> None:
    """A row's outputs do not depend on the other rows of its batch."""
    built = make(cell, params)
    x = inputs(6)
    other = x.clone()
    other[1:] = torch.randn_like(other[1:])
    with torch.no_grad():
        a, _ = built.loop(x, built.initial_state(BATCH))
        b, _ = built.loop(other, built.initial_state(BATCH))
    if worst(a[0], b[0]) > 1e-6:
        raise fail(
            cell,
            "batch_independence",
            f"row 0's outputs changed by {worst(a[0], b[0]):.1e} when only rows 1-2 did; "
            "compute each row from its own x and state (no mean or norm over the batch axis)",
        )


def check_determinism(cell: CellLike, params: dict[str, Any] | None = None) -> None:
    """In eval mode the same input gives the same output."""
    built = make(cell, params)
    x = inputs(6)
    with torch.no_grad():
        a, _ = built.loop(x, built.initial_state(BATCH))
        b, _ = built.loop(x, built.initial_state(BATCH))
    if not torch.equal(a, b):
        raise fail(
            cell,
            "determinism",
            "two runs on the same input differ in eval mode; draw randomness (dropout, noise) "
            "only when self.training",
        )


def check_gradients(cell: CellLike, params: dict[str, Any] | None = None) -> None:
    """Every parameter gets a finite, non-zero gradient through the step loop."""
    built = make(cell, params).train()
    y, state = built.loop(inputs(5), built.sample_state(BATCH, torch.Generator().manual_seed(2)))
    (y.square().mean() + sum(s.square().mean() for s in state)).backward()
    for name, parameter in built.named_parameters():
        grad = parameter.grad
        if grad is None or not bool(grad.ne(0).any()):
            raise fail(
                cell,
                "gradients",
                f"parameter {name!r} gets no gradient through step; use it in step or remove it",
            )
        if not bool(torch.isfinite(grad).all()):
            raise fail(cell, "gradients", f"parameter {name!r} gets a non-finite gradient")


def check_sample_state(cell: CellLike, params: dict[str, Any] | None = None) -> None:
    """``sample_state`` gives states of the declared shapes from which steps stay finite."""
    built = make(cell, params)
    try:
        state = built.sample_state(BATCH, torch.Generator().manual_seed(3))
    except Exception as error:
        what = f"sample_state(batch, generator) raised {error!r}"
        raise fail(cell, "sample_state", what) from error
    shapes = [tuple(s.shape) for s in state] if isinstance(state, tuple) else None
    wanted = [(BATCH, *shape) for shape in built.state_shapes]
    if shapes != wanted:
        raise fail(
            cell,
            "sample_state",
            f"sample_state returned {shapes or type(state).__name__}, expected a tuple of "
            f"{wanted}; return one (batch, *shape) tensor per state",
        )
    with torch.no_grad():
        y, new = built.loop(inputs(20), state)
    if not all(bool(torch.isfinite(t).all()) for t in (y, *new)):
        raise fail(
            cell,
            "sample_state",
            "steps from sample_state's states give inf or nan; sample only valid states "
            "(e.g. a normaliser that must stay positive) by overriding sample_state",
        )


def alone(built: Cell, x: Tensor, state: State, lengths: Tensor, row: int) -> tuple[Tensor, State]:
    """Row ``row`` run by itself over its own length, unpadded."""
    n = int(lengths[row])
    return built.loop(x[row : row + 1, :n], tuple(s[row : row + 1] for s in state))


def check_padding(cell: CellLike, params: dict[str, Any] | None = None) -> None:
    """Padded steps output zeros and leave the state as it was at each row's end, in the step
    loop and in the parallel form."""
    built = make(cell, params)
    x, lengths = inputs(7), torch.tensor([7, 3, 1])
    state = built.sample_state(BATCH, torch.Generator().manual_seed(4))
    forms: list[tuple[str, Callable]] = [("the step loop", built.loop)]
    if built.has_fused:
        forms.append(("fused_sequence", built.fused_sequence))
    with torch.no_grad():
        for label, form in forms:
            y, final = form(x, state, lengths)
            for row in range(BATCH):
                n = int(lengths[row])
                if bool(y[row, n:].ne(0).any()):
                    raise fail(
                        cell,
                        "padding",
                        f"{label} outputs non-zeros past a row's length; output zeros at steps "
                        "t >= lengths[b] (rnnzoo.cells.scan.zero_padding) and freeze the state",
                    )
                expected_y, expected_state = alone(built, x, state, lengths, row)
                gaps = [worst(expected_y[0], y[row, :n])]
                gaps += [worst(e[0], f[row]) for e, f in zip(expected_state, final)]
                if max(gaps) > TOLERANCE:
                    raise fail(
                        cell,
                        "padding",
                        f"{label} on a padded batch differs from each row run alone by "
                        f"{max(gaps):.1e}; freeze the state past lengths (a=1, b=0) and zero y",
                    )


def check_parallel_form(cell: CellLike, params: dict[str, Any] | None = None) -> None:
    """The parallel form (``fused_sequence``) equals the step loop over ``STEPS`` steps, padded,
    from sampled states (skipped by a cell without one)."""
    built = make(cell, params)
    if not built.has_fused:
        return
    x = inputs(STEPS)
    lengths = torch.tensor([STEPS, STEPS // 2, 7])
    state = built.sample_state(BATCH, torch.Generator().manual_seed(5))
    with torch.no_grad():
        expected, expected_state = built.loop(x, state, lengths)
        got, got_state = built.fused_sequence(x, state, lengths)
    per_step = ((expected - got).abs() / (1 + expected.abs())).amax(dim=(0, 2))
    gap = max([float(per_step.max())] + [worst(e, g) for e, g in zip(expected_state, got_state)])
    if gap > TOLERANCE:
        bad = (per_step > TOLERANCE).nonzero()
        start = f", from step {int(bad[0])}" if len(bad) else " (in the final state)"
        raise fail(
            cell,
            "parallel_form",
            f"fused_sequence differs from the step loop by up to {gap:.1e} over {STEPS} steps"
            f"{start} (tolerance {TOLERANCE:g}); make it compute the same recurrence, or "
            "return False from has_fused",
        )


def check_constraint(cell: CellLike, params: dict[str, Any] | None = None) -> None:
    """``after_optimizer_step`` runs after an optimiser step and leaves finite weights."""
    built = make(cell, params).train()
    optimizer = torch.optim.SGD(built.parameters(), lr=10.0)  # a big step, to meet the limits
    y, _ = built.loop(inputs(5), built.initial_state(BATCH))
    y.square().mean().backward()
    optimizer.step()
    try:
        after_optimizer_step(built)
    except CellContractError as error:
        raise CellCheckError(str(error)) from error
    for name, parameter in built.named_parameters():
        if not bool(torch.isfinite(parameter).all()):
            raise fail(cell, "constraint", f"parameter {name!r} is not finite after a step")


def check_export(cell: CellLike, params: dict[str, Any] | None = None) -> None:
    """A small classifier of padded sequences (reber), trained for a few steps, exported with
    int8 weights and verified on onnxruntime, streamed, and run on every installed runtime."""
    if not isinstance(cell, str):
        raise fail(cell, "export", "exports need a registered cell; pass its name")
    from rnnzoo.errors import UserError
    from rnnzoo.export import export_run
    from rnnzoo.trainer import TrainConfig, train

    with tempfile.TemporaryDirectory() as folder:
        run, out = Path(folder) / "run", Path(folder) / "export"
        config = TrainConfig(
            task="reber",
            cell=cell,
            cell_params=dict(params or {}),
            task_params={"n_train": 64, "n_test": 16},
            hidden=HIDDEN,
            epochs=1,
            batch_size=32,
            device="cpu",
            compile="off",
        )
        try:
            train(config, run, quiet=True)
            result = export_run(run, out, quantize="int8")
        except UserError as error:
            raise fail(cell, "export", str(error)) from error
        bad = {
            runtime: {f: status for f, status in report["files"].items() if status != "ok"}
            for runtime, report in result.card.get("runtimes", {}).items()
            if isinstance(report, dict) and "files" in report
        }
        bad = {runtime: files for runtime, files in bad.items() if files}
        if bad:
            runtime, files = next(iter(bad.items()))
            file, status = next(iter(files.items()))
            raise fail(
                cell,
                "export",
                f"{runtime} disagrees with onnxruntime on {file} ({status}); use operators "
                "every runtime has (see the card's runtimes)",
            )


CHECKS: dict[str, Callable[[CellLike, dict[str, Any] | None], None]] = {
    "contract": check_contract,
    "shapes": check_shapes,
    "batch_independence": check_batch_independence,
    "determinism": check_determinism,
    "gradients": check_gradients,
    "sample_state": check_sample_state,
    "padding": check_padding,
    "parallel_form": check_parallel_form,
    "constraint": check_constraint,
    "export": check_export,
}


def check_cell(
    cell: CellLike, params: dict[str, Any] | None = None, checks: list[str] | None = None
) -> None:
    """Run ``checks`` (default: every one, in order) on a registered cell name or a ``Cell``
    class with ``params``; raises ``CellCheckError`` at the first failure."""
    for name in checks or list(CHECKS):
        CHECKS[name](cell, params)


def parametrize_with_checks(cells: list[CellLike], params: dict[str, Any] | None = None):
    """A pytest decorator: one case per cell and check, ``check(cell)`` runs it."""
    import pytest

    cases = [
        pytest.param(
            cell,
            functools.partial(CHECKS[name], params=params),
            id=f"{cell if isinstance(cell, str) else cell.__name__}-{name}",
        )
        for cell in cells
        for name in CHECKS
    ]
    return pytest.mark.parametrize(("cell", "check"), cases)
