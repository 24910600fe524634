"""Name → cell / task / model family look-ups, with wildcards and helpful errors for unknown
names, and ``create_task`` in one place.

Registration order is deterministic: built-ins first, then installed plugins sorted by
entry-point name. A name that is already taken is *not* overridden: the later registration is
ignored (a warning, not a failure: the plugin's other registrations work), and ``rnnzoo
plugins``, ``cells`` and ``tasks`` say so, naming both plugins.
Families register before tasks, since a task's ``kind`` must be one a family serves.
"""

from __future__ import annotations

import difflib
import fnmatch
import functools
import importlib
from dataclasses import dataclass, field
from typing import Any

from rnnzoo.errors import UserError
from rnnzoo.params import UnknownNameError, check_params, check_values, params_of
from rnnzoo.plugins import PluginError, PluginInfo, plugin_manager, record_error

__all__ = ["UnknownNameError", "Entry", "FamilyEntry", "list_cells", "list_tasks"]


def load_path(target: Any, plugin: str, name: str) -> Any:
    """``target`` itself, or the object a ``"module:attr"`` path names."""
    if not isinstance(target, str):
        return target
    module_name, _, attr = target.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (Exception, SystemExit) as error:  # whatever its module does, one line
        raise PluginError(
            f"plugin {plugin!r} registered {name!r} as {target!r}, which cannot be loaded: "
            f"{type(error).__name__}: {error}"
        ) from None


@dataclass
class Entry:
    """A registered cell or task; ``target`` is the class, or ``"module:attr"`` until used."""

    name: str
    plugin: str
    description: str
    target: Any
    kind: str = ""
    what: str = "cell"  # or "task"

    def load(self) -> type:
        """The class; a lazily registered one learns its registered name and description
        here (the registration is where they are written), and must have the kind it was
        registered with, and subclass the base of its kind (a cell ``Cell``, a task ``Task``)."""
        if isinstance(self.target, str):
            cls = load_path(self.target, self.plugin, self.name)
            wrong = not_a_subclass(cls, self.what, self.name, self.plugin)
            if wrong:
                raise PluginError(wrong)
            if self.kind and getattr(cls, "kind", self.kind) != self.kind:
                raise PluginError(
                    f"plugin {self.plugin!r} registered task {self.name!r} as {self.kind}, but "
                    f"its class says kind = {cls.kind!r}; make them agree"
                )
            if isinstance(cls, type):  # its own, not inherited from a registered parent
                if not vars(cls).get("name"):
                    cls.name = self.name
                if not vars(cls).get("description"):
                    cls.description = self.description
            self.target = cls
        return self.target


@dataclass
class FamilyEntry:
    """A registered model family: the torch side (``target``) and its torch-free runtime
    adapter (``runtime``), each a class or a ``"module:attr"`` path until used."""

    name: str
    plugin: str
    description: str
    target: Any
    kinds: tuple[str, ...]
    runtime: Any

    def load(self) -> Any:
        """An instance of the family (families carry no state but their registered name)."""
        self.target = load_path(self.target, self.plugin, self.name)
        family = self.target()
        family.name = self.name
        return family

    def load_runtime(self) -> type:
        self.runtime = load_path(self.runtime, self.plugin, self.name)
        return self.runtime


@dataclass
class Tables:
    cells: dict[str, Entry] = field(default_factory=dict)
    tasks: dict[str, Entry] = field(default_factory=dict)
    families: dict[str, FamilyEntry] = field(default_factory=dict)
    targets: dict[str, Any] = field(default_factory=dict)  # name → Target instance
    # (what, name) → why its registration was refused, said when the name is looked up
    refused: dict[tuple[str, str], str] = field(default_factory=dict)

    def kinds(self) -> dict[str, FamilyEntry]:
        """Task kind → the family serving it."""
        return {kind: family for family in self.families.values() for kind in family.kinds}


BASES = {"cell": "rnnzoo.cells.base.Cell", "task": "rnnzoo.tasks.base.Task"}


def not_a_subclass(target: Any, what: str, name: str, plugin: str) -> str | None:
    """Why ``target`` cannot be registered as a ``what``, or None when it subclasses the base
    (``BASES``). Torch-free: the base is recognised by its name among the class's ancestors
    (any subclass has imported it already)."""
    base = BASES[what]
    if isinstance(target, type):
        if any(f"{c.__module__}.{c.__qualname__}" == base for c in target.__mro__):
            return None
        shown = f"class {target.__module__}.{target.__qualname__}"
    else:
        qualname = getattr(target, "__qualname__", None)
        module = getattr(target, "__module__", None)
        kind = "function" if callable(target) else type(target).__name__
        shown = kind + (f" {module}.{qualname}" if module and qualname else "")
    return (
        f"{what} {name!r} (plugin {plugin!r}) is registered as {shown}, which is not a "
        f"subclass of {base}; a {what} must subclass {base}"
    )


def _one_line(description: str | None) -> str:
    return description.strip().splitlines()[0] if description and description.strip() else ""


def _claim(table: dict, what: str, name: Any, info: PluginInfo) -> bool:
    """Whether ``name`` is free in ``table``; a taken one is ignored, with a warning."""
    if not name or not isinstance(name, str):
        record_error(
            info, f"a {what} needs a name: set the class attribute `name` or pass name=", what
        )
        return False
    if name in table:
        record_error(
            info,
            f"{what} {name!r} from plugin {info.name!r} ignored: the name is taken by plugin "
            f"{table[name].plugin!r}; rename it",
            what,
            ignored=True,
        )
        return False
    info.registered.append(f"{what}:{name}")
    return True


def _registrar(tables: Tables, what: str, info: PluginInfo):
    table = tables.cells if what == "cell" else tables.tasks

    def register(
        target: Any, name: str | None = None, description: str | None = None, kind: str = ""
    ) -> None:
        """One registration; a bad one is this plugin's error, and its others still count."""
        name = name or getattr(target, "name", None)
        if description is None:
            description = getattr(target, "description", "")
        if what == "task":
            kind = kind or getattr(target, "kind", "")
            served = tables.kinds()
            if kind not in served:
                record_error(
                    info,
                    f"task {name!r} has kind {kind!r}; the registered families serve "
                    f"{', '.join(sorted(served))}",
                    "task",
                )
                return
        wrong = None if isinstance(target, str) else not_a_subclass(target, what, name, info.name)
        if wrong and isinstance(name, str) and name not in table:  # refused: said when used
            tables.refused[(what, name)] = wrong
            record_error(info, wrong, what)
            return
        if _claim(table, what, name, info):
            table[name] = Entry(name, info.name, _one_line(description), target, kind, what)

    return register


def _family_registrar(tables: Tables, info: PluginInfo):
    def register(
        target: Any,
        name: str,
        kinds: tuple[str, ...],
        runtime: Any,
        description: str = "",
    ) -> None:
        served = tables.kinds()
        taken = sorted(set(kinds) & set(served))
        if taken:
            owners = ", ".join(f"{kind} by {served[kind].name!r}" for kind in taken)
            record_error(
                info,
                f"family {name!r} from plugin {info.name!r} ignored: {owners} are served "
                "already; serve another kind",
                "family",
                ignored=True,
            )
            return
        if _claim(tables.families, "family", name, info):
            tables.families[name] = FamilyEntry(
                name, info.name, _one_line(description), target, tuple(kinds), runtime
            )

    return register


def _target_registrar(tables: Tables, info: PluginInfo):
    def register(target: Any) -> None:
        """A ``rnnzoo.targets.base.Target`` subclass (or instance); its ``name`` and aliases
        must be free."""
        instance = target() if isinstance(target, type) else target
        if not callable(getattr(instance, "write", None)) or not callable(
            getattr(instance, "open", None)
        ):
            record_error(info, f"{target!r} is not an rnnzoo.targets.base.Target", "target")
            return
        name = getattr(instance, "name", "")
        taken = [a for a in getattr(instance, "aliases", ()) if a in target_names(tables)]
        if taken:
            record_error(info, f"target {name!r}: the alias {taken[0]!r} is taken", "target")
            return
        if _claim(tables.targets, "target", name, info):
            instance.plugin = info.name
            tables.targets[name] = instance

    return register


def target_names(tables: Tables) -> dict[str, str]:
    """Every name a target answers to (its name and aliases) → its name."""
    names = {}
    for target in tables.targets.values():
        names[target.name] = target.name
        names.update(dict.fromkeys(target.aliases, target.name))
    return names


HOOK_KINDS = {
    "register_cells": "cell",
    "register_tasks": "task",
    "register_families": "family",
    "register_targets": "target",
}


@functools.cache
def tables() -> Tables:
    """Call every plugin's hooks once; a hook that raises is recorded against its plugin."""
    pm, infos = plugin_manager()
    result = Tables()
    for hook_name, make in (
        ("register_cells", lambda info: _registrar(result, "cell", info)),
        ("register_families", lambda info: _family_registrar(result, info)),
        ("register_tasks", lambda info: _registrar(result, "task", info)),
        ("register_targets", lambda info: _target_registrar(result, info)),
    ):
        hook = getattr(pm.hook, hook_name)
        for impl in hook.get_hookimpls():  # in registration order: built-ins first
            info = infos[impl.plugin_name]
            try:
                impl.function(register=make(info))
            except PluginError:  # strict mode: already one line naming the plugin
                raise
            except (Exception, SystemExit) as error:
                record_error(
                    info,
                    f"{hook_name} raised {type(error).__name__}: {_one_line(str(error))}",
                    HOOK_KINDS[hook_name],
                )
    return result


@functools.cache
def builtin_families() -> dict[str, FamilyEntry]:
    """The built-in families alone, without loading installed plugins: the runtime looks here
    first, so a plugin that imports torch cannot pull torch into inference."""
    from rnnzoo.families import register_families

    result = Tables()
    register_families(register=_family_registrar(result, PluginInfo("rnnzoo.families", "", True)))
    return result.families


def plugins() -> list[PluginInfo]:
    """Every loaded plugin with what it registered and its errors."""
    tables()
    return list(plugin_manager()[1].values())


# what a failed plugin may have left out, for each kind of name looked up
_HIDES = {
    "cell": {"plugin", "cell"},
    "task": {"plugin", "task"},
    "cell or task": {"plugin", "cell", "task"},
    "family": {"plugin", "family"},
    "task kind": {"plugin", "family"},
    "target": {"plugin", "target"},
}


def failed_plugins(*abouts: str) -> list[PluginInfo]:
    """Plugins that failed in a way that leaves out names of these kinds (``"plugin"``: they
    did not load at all), in loading order."""
    return [
        info
        for info in plugins()
        if any(p.about in abouts and not p.ignored for p in info.problems)
    ]


def _unknown(what: str, name: str, known: list[str]) -> UnknownNameError:
    """One line: the closest names, and the plugins that failed, since ``name`` may be theirs."""
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.4)
    hint = f"did you mean {', '.join(close)}?" if close else f"known: {', '.join(sorted(known))}"
    failed = [info.name for info in failed_plugins(*_HIDES.get(what, {"plugin"}))]
    if failed:
        hint += f" (it may be in a plugin that failed: {', '.join(failed)}; see 'rnnzoo plugins')"
    return UnknownNameError(f"unknown {what} {name!r}; {hint}")


def _find(table: dict[str, Any], what: str, name: str) -> Any:
    if name not in table and (what, name) in tables().refused:
        raise UnknownNameError(tables().refused[(what, name)])
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


def family_entry(name: str) -> FamilyEntry:
    return _find(tables().families, "family", name)


def family_for_kind(kind: str) -> FamilyEntry:
    """The family that serves tasks of ``kind``."""
    return _find(tables().kinds(), "task kind", kind)


def any_entry(name: str) -> tuple[Entry, str]:
    """A cell or a task by name, and which of the two it is."""
    cells, tasks = tables().cells, tables().tasks
    if name in cells:
        return cells[name], "cell"
    if name in tasks:
        return tasks[name], "task"
    refused = tables().refused
    why = refused.get(("cell", name)) or refused.get(("task", name))
    if why:
        raise UnknownNameError(why)
    raise _unknown("cell or task", name, list(cells) + list(tasks))


def get_cell_class(name: str) -> type:
    return cell_entry(name).load()


def get_task_class(name: str) -> type:
    return task_entry(name).load()


def create_task(name: str, params: dict[str, Any] | None = None) -> Any:
    """Build a registered task by name, refusing parameters it does not declare."""
    cls = get_task_class(name)
    if not hasattr(cls, "check_contract"):
        raise UserError(
            f"task {name!r} (plugin {task_entry(name).plugin!r}) is not a subclass of "
            "rnnzoo.tasks.base.Task"
        )
    cls.check_contract(name)
    params = params or {}
    declared = params_of(cls)
    check_params("task", name, params, declared)
    check_values("task", name, params, declared)
    return cls(**params)


def list_targets(pattern: str = "*") -> list[str]:
    """Names of registered edge targets matching an ``fnmatch`` pattern."""
    return sorted(n for n in tables().targets if fnmatch.fnmatch(n, pattern))


def target(name: str) -> Any:
    """A registered edge target by its name or an alias (``rnnzoo.targets.base.Target``)."""
    names = target_names(tables())
    if name not in names:
        raise _unknown("target", name, list(tables().targets))
    return tables().targets[names[name]]


def targets_for(names: list[str] | tuple[str, ...]) -> list[Any]:
    """The targets ``names`` ask for, each after those it builds on (added when not asked)."""
    ordered: list[Any] = []

    def add(name: str) -> None:
        found = target(name)
        if found in ordered:
            return
        for needed in found.builds_on:
            add(needed)
        ordered.append(found)

    for name in names:
        add(name)
    return ordered
