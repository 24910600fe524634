"""Checking a cell against the contract of ``rnnzoo.cells.base``, once, when it is built.

A cell that breaks the contract usually fails much later, deep inside unrolling, training or
export, with a traceback that names neither the cell nor the fix. ``build_cell`` checks the
class, builds one cell and runs one step on a batch of 2; each mistake becomes one
``CellContractError`` (a ``UserError``: the CLI prints it as one line) that names the cell, its
plugin and the fix.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import Tensor

from rnnzoo.cells.base import Cell
from rnnzoo.errors import UserError

BATCH = 2  # the batch size of the check's one step

# Configurations that passed the check in this process (class, sizes, parameters), so building
# the same stack again (a model per run, per evaluation, per export) does not repeat the step.
_checked: set[tuple[Any, ...]] = set()


class CellContractError(UserError):
    """A cell breaks the cell contract; the message names the cell, its plugin and the fix."""


def describe(cls: Any, name: str | None) -> str:
    """``cell 'x' (plugin 'p')`` for a registered name, ``cell class module.X`` otherwise."""
    if name is not None:
        from rnnzoo.params import UnknownNameError
        from rnnzoo.registry import cell_entry

        try:
            return f"cell {name!r} (plugin {cell_entry(name).plugin!r})"
        except UnknownNameError:
            return f"cell {name!r}"
    qualname = getattr(cls, "__qualname__", None) or type(cls).__qualname__
    return f"cell class {getattr(cls, '__module__', '?')}.{qualname}"


def _short(value: Any) -> str:
    """A one-line, bounded description of any value, for messages."""
    if isinstance(value, type):
        return f"class {value.__module__}.{value.__qualname__}"
    if inspect.isroutine(value):
        return f"function {getattr(value, '__module__', '?')}.{value.__qualname__}"
    text = (repr(value).splitlines() or [""])[0]
    return text if len(text) <= 60 else text[:57] + "..."


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def _is_size(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def check_cell_class(cls: Any, name: str | None = None) -> None:
    """What can be checked without building a cell: a ``Cell`` subclass with ``step`` and with
    ``state_sizes`` and ``output_size`` as properties (a plugin may register any object)."""
    who = describe(cls, name)
    if not (isinstance(cls, type) and issubclass(cls, Cell)):
        what = f" is registered as {_short(cls)}, which" if name is not None else ""
        raise CellContractError(
            f"{who}{what} is not a subclass of rnnzoo.cells.base.Cell; a cell must subclass "
            "rnnzoo.cells.base.Cell"
        )
    if inspect.isfunction(inspect.getattr_static(cls, "state_sizes", None)):
        raise CellContractError(
            f"{who} defines state_sizes as a method; state_sizes must be a property returning "
            "a tuple of ints, one per state tensor (put @property above it)"
        )
    if inspect.isfunction(inspect.getattr_static(cls, "output_size", None)):
        raise CellContractError(
            f"{who} defines output_size as a method; output_size must be a property returning "
            "an int (put @property above it)"
        )
    if cls.step is Cell.step:
        raise CellContractError(f"{who} does not implement step(x, state) -> (y, new_state)")


def _check_states(
    who: str, what: str, states: Any, shapes: tuple[tuple[int, ...], ...], fix: str
) -> None:
    """``states`` must be a tuple (else ``fix``) with one ``(BATCH, *shape)`` tensor per entry
    of ``shapes``."""
    if not isinstance(states, tuple):
        raise CellContractError(f"{who}: {what} is a {type(states).__name__}, not a tuple; {fix}")
    vectors = all(len(shape) == 1 for shape in shapes)
    declared = f"state_sizes {tuple(s[0] for s in shapes)}" if vectors else f"state_shapes {shapes}"
    what_each = "size" if vectors else "shape"
    in_order = f"{declared.split()[0]} must list the {what_each} of each state tensor, in order"
    if len(states) != len(shapes):
        raise CellContractError(
            f"{who}: {what} has {len(states)} tensor(s) but {declared} declares "
            f"{len(shapes)}; {in_order}"
        )
    for i, (state, shape) in enumerate(zip(states, shapes)):
        got = tuple(state.shape) if isinstance(state, Tensor) else type(state).__name__
        if got != (BATCH, *shape):
            expected = f"(batch, {shape[0]})" if vectors else f"(batch, *{shape})"
            raise CellContractError(
                f"{who}: {what}[{i}] is {got}, expected {expected} = {(BATCH, *shape)} "
                f"from {declared}; {in_order}"
            )


def _is_shape(value: Any) -> bool:
    return isinstance(value, tuple) and bool(value) and all(_is_size(n) for n in value)


def check_cell(cell: Cell, name: str | None = None) -> None:
    """Check a built cell's sizes, ``initial_state`` and one ``step`` on a batch of 2.

    The step runs on zeros, in eval mode, without gradients and with the random number
    generator saved and restored, so checking changes neither the cell nor a seeded run.
    """
    who = describe(type(cell), name)
    try:
        sizes, output_size = cell.state_sizes, cell.output_size
    except Exception as error:
        raise CellContractError(
            f"{who}: reading state_sizes or output_size raised {_first_line(error)}"
        ) from error
    if not (isinstance(sizes, (tuple, list)) and sizes and all(_is_size(size) for size in sizes)):
        raise CellContractError(
            f"{who}: state_sizes is {_short(sizes)}; state_sizes must be a property returning "
            "a tuple of ints, one per state tensor, e.g. (hidden_size,) for h alone"
        )
    try:
        shapes = tuple(tuple(shape) for shape in cell.state_shapes)
    except Exception as error:
        raise CellContractError(
            f"{who}: reading state_shapes raised {_first_line(error)}"
        ) from error
    if not (shapes and all(_is_shape(shape) for shape in shapes)):
        raise CellContractError(
            f"{who}: state_shapes is {_short(cell.state_shapes)}; state_shapes must be a property "
            "returning a tuple of shapes (tuples of ints, no batch axis), one per state tensor"
        )
    if not _is_size(output_size):
        raise CellContractError(
            f"{who}: output_size is {_short(output_size)}; it must be a property returning a "
            "positive int, the feature size of y"
        )
    parameter = next(cell.parameters(), None)
    device = parameter.device if parameter is not None else None
    dtype = parameter.dtype if parameter is not None else torch.get_default_dtype()
    training = cell.training
    cell.eval()
    try:
        cuda = [device] if device is not None and device.type == "cuda" else []
        with torch.no_grad(), torch.random.fork_rng(devices=cuda):
            stage = f"initial_state({BATCH}, device, dtype)"
            try:
                state = cell.initial_state(BATCH, device, dtype)
            except Exception as error:
                raise CellContractError(f"{who}: {stage} raised {_first_line(error)}") from error
            _check_states(
                who,
                stage,
                state,
                shapes,
                "it must return a tuple of (batch, *shape) tensors, one per state tensor",
            )
            x = torch.zeros(BATCH, cell.input_size, device=device, dtype=dtype)
            try:
                result = cell.step(x, state)
            except Exception as error:
                raise CellContractError(
                    f"{who}: step(x, state) raised {_first_line(error)} on x of shape "
                    f"{tuple(x.shape)} and state shapes {[tuple(s.shape) for s in state]}"
                ) from error
    finally:
        cell.train(training)
    returns = (
        "step must return (y, new_state) with new_state a tuple of tensors, e.g. `return h, (h,)`"
    )
    if not (isinstance(result, tuple) and len(result) == 2):
        raise CellContractError(f"{who}: step returned a {type(result).__name__}; {returns}")
    y, new_state = result
    _check_states(who, "step's new_state", new_state, shapes, returns)
    try:
        with torch.no_grad():
            made = cell.state_from(state)
    except Exception as error:
        raise CellContractError(f"{who}: state_from(state) raised {_first_line(error)}") from None
    _check_states(
        who,
        "state_from(state)",
        made,
        shapes,
        "state_from must return a valid state shaped like its input, a tuple of tensors",
    )
    expected = (BATCH, output_size)
    shape = tuple(y.shape) if isinstance(y, Tensor) else type(y).__name__
    if shape != expected:
        fix = (
            f"make output_size return {shape[1]}, the feature size of y"
            if isinstance(y, Tensor) and y.ndim == 2 and y.shape[0] == BATCH
            else returns
        )
        raise CellContractError(
            f"{who}: step returned y of shape {shape}, expected (batch, output_size) = "
            f"{expected}; {fix}"
        )
    for what, tensor in [("y", y), *((f"new_state[{i}]", t) for i, t in enumerate(new_state))]:
        if tensor.dtype != x.dtype or tensor.device != x.device:
            raise CellContractError(
                f"{who}: step returned {what} as {tensor.dtype} on {tensor.device} for x of "
                f"{x.dtype} on {x.device}; compute in the dtype and on the device of x and state"
            )


def layer_blocks(cls: type[Cell], size: int, count: int, name: str | None = None) -> list:
    """The ``count`` blocks ``cls.layer_block(size)`` declares between stacked layers (none
    when it returns None), the first checked: a module mapping ``(..., size)`` to ``(...,
    size)`` that treats each time step on its own (as streaming will)."""
    who = describe(cls, name)
    fix = "layer_block(size) must return None or an nn.Module mapping (..., size) to (..., size)"
    try:
        blocks = [cls.layer_block(size) for _ in range(count)]
    except Exception as error:
        raise CellContractError(f"{who}: layer_block({size}) raised {_first_line(error)}") from None
    if not blocks or blocks[0] is None:
        return []
    block = blocks[0]
    if not isinstance(block, torch.nn.Module):
        raise CellContractError(f"{who}: layer_block returned {_short(block)}; {fix}")
    training = block.training
    block.eval()
    try:
        with torch.no_grad(), torch.random.fork_rng():
            x = torch.randn(BATCH, 3, size)
            whole, one = block(x), block(x[:, 1])
    except Exception as error:
        raise CellContractError(
            f"{who}: its layer block raised {_first_line(error)} on (batch, time, {size}) "
            f"inputs; {fix}"
        ) from None
    finally:
        block.train(training)
    shapes = [tuple(getattr(t, "shape", ())) for t in (whole, one)]
    if shapes != [(BATCH, 3, size), (BATCH, size)]:
        raise CellContractError(
            f"{who}: its layer block maps (2, 3, {size}) and (2, {size}) to {shapes[0]} and "
            f"{shapes[1]}; {fix}"
        )
    gap = float((whole[:, 1] - one).abs().max())
    if gap > 1e-5:
        raise CellContractError(
            f"{who}: its layer block mixes time steps (step 1 of a sequence differs from the "
            f"step alone by {gap:.1e}); a block between layers must act on each step alone, "
            "as streaming feeds it one step"
        )
    return blocks


def build_cell(cell: str | type[Cell], input_size: int, hidden_size: int, **params: Any) -> Cell:
    """Build one cell from a registered name or a class, checking it against the contract.

    Unknown parameters are refused with the valid ones listed; the class, the constructor and
    one step are checked once per configuration in a process.
    """
    from rnnzoo.params import CELL_ARGUMENTS, check_params, check_values, params_of
    from rnnzoo.registry import get_cell_class

    name = cell if isinstance(cell, str) else None
    cls = get_cell_class(cell) if isinstance(cell, str) else cell
    check_cell_class(cls, name)
    takes_any = any(
        p.kind is p.VAR_KEYWORD for p in inspect.signature(cls.__init__).parameters.values()
    )
    if not takes_any:  # a constructor with **kwargs takes anything; the class checks them
        label = name or cls.__qualname__
        declared = params_of(cls, skip=CELL_ARGUMENTS)
        check_params("cell", label, params, declared)
        check_values("cell", label, params, declared)
    try:
        built = cls(input_size, hidden_size, **params)
    except Exception as error:
        given = ", ".join(
            [f"input_size={input_size}", f"hidden_size={hidden_size}"]
            + [f"{key}={_short(value)}" for key, value in params.items()]
        )
        hint = ""
        if "Module.__init__() call" in str(error):
            hint = "; call super().__init__(input_size, hidden_size) first in __init__"
        raise CellContractError(
            f"{describe(cls, name)} could not be built with {given}: {_first_line(error)}{hint}"
        ) from error
    key = (cls, input_size, hidden_size, repr(sorted(params.items())))
    if key not in _checked:
        check_cell(built, name)
        _checked.add(key)
    return built


def after_optimizer_step(model: torch.nn.Module) -> None:
    """Each cell's ``after_optimizer_step`` (a constraint on its weights), without gradients;
    a hook that raises is one error naming the cell."""
    for module in model.modules():
        if isinstance(module, Cell) and type(module).after_optimizer_step is not (
            Cell.after_optimizer_step
        ):
            try:
                with torch.no_grad():
                    module.after_optimizer_step()
            except Exception as error:
                raise CellContractError(
                    f"{describe(type(module), module.name or None)}: after_optimizer_step raised "
                    f"{_first_line(error)}; it must change the cell's weights in place and return "
                    "None"
                ) from error
