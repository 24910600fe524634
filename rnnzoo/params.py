"""Typed parameters of cells and tasks: read from ``__init__`` signatures, checked, and parsed
from ``--param KEY=VALUE`` text. Torch-free."""

from __future__ import annotations

import difflib
import inspect
import types
import typing
from dataclasses import dataclass
from typing import Any

from rnnzoo.errors import UserError

# the positional arguments every cell takes before its parameters
CELL_ARGUMENTS = ("input_size", "hidden_size")


class UnknownNameError(UserError, LookupError):
    """An unknown cell, task or parameter name; the message suggests the closest ones."""


@dataclass(frozen=True)
class Param:
    """One keyword parameter of a cell or task, read from its ``__init__`` signature."""

    name: str
    type: Any
    default: Any

    @property
    def type_name(self) -> str:
        """``int``, ``str`` …; the choices of a ``Literal`` (``word | char``)."""
        if typing.get_origin(self.type) is typing.Literal:
            return " | ".join(str(choice) for choice in typing.get_args(self.type))
        return getattr(self.type, "__name__", str(self.type))


def params_of(cls: type, skip: tuple[str, ...] = ()) -> list[Param]:
    """The keyword parameters of ``cls.__init__`` with their types and defaults. An
    ``__init__`` that takes ``**kwargs`` (and hands them to ``super().__init__``) also has
    the parameters of the class it extends, listed first."""
    try:
        hints = typing.get_type_hints(cls.__init__)
    except Exception as error:  # a name in an annotation that does not resolve, and the like
        raise UserError(
            f"{cls.__module__}.{cls.__qualname__}.__init__'s type annotations cannot be read "
            f"({type(error).__name__}: {error}); fix them in the plugin"
        ) from None
    params, signature = [], inspect.signature(cls.__init__).parameters.values()
    if any(p.kind is p.VAR_KEYWORD for p in signature):
        owner = next(c for c in cls.__mro__ if "__init__" in vars(c))
        parent = cls.__mro__[cls.__mro__.index(owner) + 1]
        own = {p.name for p in signature}
        params = [p for p in params_of(parent, skip) if p.name not in own]
    for p in signature:
        if p.name == "self" or p.name in skip or p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
            continue
        default = None if p.default is inspect.Parameter.empty else p.default
        params.append(
            Param(p.name, hints.get(p.name, type(default) if default is not None else str), default)
        )
    return params


def check_params(what: str, name: str, given: dict[str, Any], params: list[Param]) -> None:
    """Refuse keyword arguments a cell or task does not declare, suggesting the valid ones."""
    valid = [p.name for p in params]
    for key in given:
        if key not in valid:
            close = difflib.get_close_matches(key, valid, n=3, cutoff=0.5)
            hint = f"did you mean {', '.join(close)}? " if close else ""
            raise UnknownNameError(
                f"{what} {name!r} has no parameter {key!r}; {hint}"
                f"valid: {', '.join(valid) or '(none)'}"
            )


def accepts(kind: Any, value: Any) -> bool:
    """Whether ``value`` fits a parameter's declared type (an int for a float, not a bool for
    an int; a type it cannot check, such as a class of the task's own, accepts anything)."""
    origin = typing.get_origin(kind)
    if origin is typing.Literal:
        return value in typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        return any(accepts(choice, value) for choice in typing.get_args(kind))
    if kind is type(None):
        return value is None
    if kind is bool:
        return isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is str:
        return isinstance(value, str)
    return True


# the largest magnitude a parameter may have: float32's range for numbers, int32's for counts
# and sizes (what a tensor or a numpy generator can take without overflowing)
LARGEST_FLOAT = 3.4e38
LARGEST_INT = 2**31 - 1


def check_values(what: str, name: str, given: dict[str, Any], params: list[Param]) -> None:
    """Refuse a parameter value of the wrong type (from Python or a run's config.json), or a
    number no tensor could hold: a float that is not finite in float32, an int beyond int32,
    a negative seed."""
    declared = {p.name: p for p in params}
    for key, value in given.items():
        param = declared.get(key)
        if param is not None and not accepts(param.type, value):
            raise UserError(
                f"{what} {name!r}: parameter {key!r} takes {param.type_name}, not {value!r}"
            )
        problem = number_problem(key, value)
        if problem:
            raise UserError(f"{what} {name!r}: parameter {key!r} {problem}, not {value!r}")


def number_problem(key: str, value: Any) -> str:
    """Why a number cannot be a parameter's value ('' when it can)."""
    if isinstance(value, bool):
        return ""
    if isinstance(value, float) and not -LARGEST_FLOAT <= value <= LARGEST_FLOAT:
        return f"must be a finite number within ±{LARGEST_FLOAT:g}"
    if isinstance(value, int) and not -LARGEST_INT <= value <= LARGEST_INT:
        return f"must be within ±{LARGEST_INT}"
    if isinstance(value, int) and key.endswith("seed") and value < 0:
        return "must be 0 or more (a seed)"
    return ""


def parse_value(param: Param, text: str) -> Any:
    """Convert ``--param KEY=VALUE`` text to the parameter's declared type."""
    kind = param.type
    if typing.get_origin(kind) is typing.Literal:
        choices = typing.get_args(kind)
        if text not in choices:
            raise UserError(
                f"parameter {param.name!r} must be one of {', '.join(choices)}, not {text!r}"
            )
        return text
    if kind is bool:
        lowered = text.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise UserError(f"parameter {param.name!r} takes true or false, not {text!r}")
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        choices = [t for t in typing.get_args(kind) if t is not type(None)]
        if len(choices) == 1:
            return parse_value(Param(param.name, choices[0], param.default), text)
    if kind in (int, float, str):
        try:
            return kind(text)
        except ValueError:
            raise UserError(
                f"parameter {param.name!r} takes a {kind.__name__}, not {text!r}"
            ) from None
    raise UserError(
        f"parameter {param.name!r} ({param.type_name}) cannot be set from the "
        "command line; set it from Python"
    )


def split_params(
    pairs: list[str], cell: str, cell_class: type, task: str, task_class: type
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Sort ``KEY=VALUE`` pairs into cell and task parameters (``cell.KEY`` / ``task.KEY``
    when a name belongs to both), typed; unknown keys list the valid ones."""
    cell_params = {p.name: p for p in params_of(cell_class, skip=CELL_ARGUMENTS)}
    task_params = {p.name: p for p in params_of(task_class)}
    chosen: tuple[dict[str, Any], dict[str, Any]] = ({}, {})
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key:
            raise UserError(f"--param takes KEY=VALUE, not {pair!r}")
        scope, _, bare = key.rpartition(".")
        if scope not in ("", "cell", "task"):
            raise UserError(f"--param {key}: the prefix must be cell. or task.")
        in_cell = bare in cell_params and scope in ("", "cell")
        in_task = bare in task_params and scope in ("", "task")
        if in_cell and in_task:
            raise UserError(
                f"--param {bare} belongs to both cell {cell!r} and task {task!r}; "
                f"write cell.{bare}=... or task.{bare}=..."
            )
        if not (in_cell or in_task):
            valid = [f"cell.{n}" for n in cell_params] + [f"task.{n}" for n in task_params]
            close = difflib.get_close_matches(
                bare, list(cell_params) + list(task_params), n=3, cutoff=0.5
            )
            hint = f"did you mean {', '.join(close)}? " if close else ""
            raise UserError(
                f"--param {key}: cell {cell!r} and task {task!r} have no such "
                f"parameter; {hint}valid: {', '.join(valid)}"
            )
        table, target = (cell_params, chosen[0]) if in_cell else (task_params, chosen[1])
        target[bare] = parse_value(table[bare], text)
    return chosen
