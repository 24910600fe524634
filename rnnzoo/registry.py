"""Name → cell / task look-ups, with wildcards and helpful errors for unknown names.

Registration order is deterministic: built-ins first, then installed plugins sorted by
entry-point name. A name that is already taken is *not* overridden: the later registration is
refused and shown as that plugin's error in ``rnnzoo plugins``, naming both plugins.
"""

from __future__ import annotations

import difflib
import fnmatch
import functools
import importlib
import inspect
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from rnnzoo.errors import UserError
from rnnzoo.plugins import PluginError, PluginInfo, plugin_manager, record_error

KINDS = ("seq2seq", "seq2vec", "vec2seq", "encdec")


class UnknownNameError(UserError, LookupError):
    """An unknown cell, task or parameter name; the message suggests the closest ones."""


@dataclass
class Entry:
    """A registered cell or task; ``target`` is the class, or ``"module:attr"`` until used."""

    name: str
    plugin: str
    description: str
    target: Any
    kind: str = ""

    def load(self) -> type:
        if isinstance(self.target, str):
            module_name, _, attr = self.target.partition(":")
            try:
                self.target = getattr(importlib.import_module(module_name), attr)
            except (ImportError, AttributeError) as error:
                raise PluginError(
                    f"plugin {self.plugin!r} registered {self.name!r} as "
                    f"{self.target!r}, which cannot be loaded: {error}"
                ) from None
        return self.target


@dataclass(frozen=True)
class Param:
    """One keyword parameter of a cell or task, read from its ``__init__`` signature."""

    name: str
    type: type
    default: Any

    @property
    def type_name(self) -> str:
        """``int``, ``str`` …; the choices of a ``Literal`` (``word | char``)."""
        if typing.get_origin(self.type) is typing.Literal:
            return " | ".join(str(choice) for choice in typing.get_args(self.type))
        return getattr(self.type, "__name__", str(self.type))


@dataclass
class Tables:
    cells: dict[str, Entry] = field(default_factory=dict)
    tasks: dict[str, Entry] = field(default_factory=dict)


def _registrar(table: dict[str, Entry], what: str, info: PluginInfo, with_kind: bool):
    def register(
        target: Any,
        name: str | None = None,
        description: str | None = None,
        kind: str | None = None,
    ) -> None:
        name = name or getattr(target, "name", None)
        if not name or not isinstance(name, str):
            raise ValueError(f"a {what} needs a name: set the class attribute `name` or pass name=")
        if description is None:
            description = getattr(target, "description", "") or ""
        if with_kind:
            kind = kind or getattr(target, "kind", "")
            if kind not in KINDS:
                raise ValueError(f"{what} {name!r} has kind {kind!r}; expected one of {KINDS}")
        if name in table:
            record_error(
                info,
                f"{what} {name!r} is already registered by plugin "
                f"{table[name].plugin!r}; {info.name!r}'s one was ignored",
            )
            return
        table[name] = Entry(
            name,
            info.name,
            description.strip().splitlines()[0] if description else "",
            target,
            kind or "",
        )
        info.registered.append(f"{what}:{name}")

    return register


@functools.cache
def tables() -> Tables:
    """Call every plugin's hooks once; a hook that raises is recorded against its plugin."""
    pm, infos = plugin_manager()
    result = Tables()
    for hook_name, table, what, with_kind in (
        ("register_cells", result.cells, "cell", False),
        ("register_tasks", result.tasks, "task", True),
    ):
        hook = getattr(pm.hook, hook_name)
        for impl in hook.get_hookimpls():  # in registration order: built-ins first
            info = infos[impl.plugin_name]
            try:
                impl.function(register=_registrar(table, what, info, with_kind))
            except Exception as error:
                record_error(info, f"{hook_name} raised {type(error).__name__}: {error}")
    return result


def plugins() -> list[PluginInfo]:
    """Every loaded plugin with what it registered and its errors."""
    tables()
    return list(plugin_manager()[1].values())


def _unknown(what: str, name: str, known: list[str]) -> UnknownNameError:
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.4)
    hint = f"did you mean {', '.join(close)}?" if close else f"known: {', '.join(sorted(known))}"
    return UnknownNameError(f"unknown {what} {name!r}; {hint}")


def _find(table: dict[str, Entry], what: str, name: str) -> Entry:
    if name not in table:
        raise _unknown(what, name, list(table))
    return table[name]


def list_cells(pattern: str = "*") -> list[str]:
    """Names of registered cells matching an ``fnmatch`` pattern, e.g. ``"*gru*"``."""
    return sorted(n for n in tables().cells if fnmatch.fnmatch(n, pattern))


def list_tasks(pattern: str = "*") -> list[str]:
    """Names of registered tasks matching an ``fnmatch`` pattern."""
    return sorted(n for n in tables().tasks if fnmatch.fnmatch(n, pattern))


def cell_entry(name: str) -> Entry:
    return _find(tables().cells, "cell", name)


def task_entry(name: str) -> Entry:
    return _find(tables().tasks, "task", name)


def any_entry(name: str) -> tuple[Entry, str]:
    """A cell or a task by name, and which of the two it is."""
    cells, tasks = tables().cells, tables().tasks
    if name in cells:
        return cells[name], "cell"
    if name in tasks:
        return tasks[name], "task"
    raise _unknown("cell or task", name, list(cells) + list(tasks))


def get_cell_class(name: str) -> type:
    return cell_entry(name).load()


def get_task_class(name: str) -> type:
    return task_entry(name).load()


def params_of(cls: type, skip: tuple[str, ...] = ()) -> list[Param]:
    """The keyword parameters of ``cls.__init__`` with their types and defaults."""
    hints = typing.get_type_hints(cls.__init__)
    params = []
    for p in inspect.signature(cls.__init__).parameters.values():
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


def split_params(pairs: list[str], cell: str, task: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Sort ``KEY=VALUE`` pairs into cell and task parameters (``cell.KEY`` / ``task.KEY``
    when a name belongs to both), typed; unknown keys list the valid ones."""
    cell_params = {
        p.name: p for p in params_of(get_cell_class(cell), skip=("input_size", "hidden_size"))
    }
    task_params = {p.name: p for p in params_of(get_task_class(task))}
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
