"""The plugin manager: built-ins first, then installed distributions' ``rnnzoo`` entry points.

A plugin that fails to import is recorded with its error instead of breaking the CLI, unless
``RNNZOO_STRICT_PLUGINS=1``; so is a registration refused, or ignored because its name was
taken. ``RNNZOO_LOAD_PLUGINS`` (comma list of entry-point names; empty means none) chooses
which installed plugins load; built-ins always load.

The entry points are loaded by hand rather than with ``PluginManager.load_setuptools_entrypoints``
because that stops at the first plugin that fails to import.
"""

from __future__ import annotations

import functools
import importlib
import os
from dataclasses import dataclass, field
from importlib import metadata

import pluggy

from rnnzoo import hookspecs

ENTRY_POINT_GROUP = "rnnzoo"
BUILTIN_PLUGINS = ("rnnzoo.cells", "rnnzoo.families", "rnnzoo.tasks", "rnnzoo.targets")


class PluginError(RuntimeError):
    """A plugin failed and ``RNNZOO_STRICT_PLUGINS=1`` asked for failures to be fatal, or a
    lazily registered class could not be loaded; one line naming the plugin."""


@dataclass(frozen=True)
class Problem:
    """One thing that went wrong with a plugin, said in one line.

    ``about`` is what it cost: ``"plugin"`` when the plugin did not load at all (none of its
    cells, tasks, families or targets exist), else ``"cell"``, ``"task"``, ``"family"`` or
    ``"target"`` when a hook
    raised or one registration of that kind was refused. ``ignored`` marks a registration left
    out because its name was taken: not a failure, the plugin's other registrations work.
    """

    message: str
    about: str = "plugin"
    ignored: bool = False


@dataclass
class PluginInfo:
    """What `rnnzoo plugins` shows about one plugin."""

    name: str
    version: str
    builtin: bool
    registered: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[str]:
        """What failed: the plugin did not load, a hook raised, a registration was refused."""
        return [p.message for p in self.problems if not p.ignored]

    @property
    def ignored(self) -> list[str]:
        """Registrations left out because another plugin had taken the name."""
        return [p.message for p in self.problems if p.ignored]

    @property
    def status(self) -> str:
        return "error" if self.errors else "warning" if self.ignored else "ok"


def strict() -> bool:
    return os.environ.get("RNNZOO_STRICT_PLUGINS", "").strip() not in ("", "0", "false")


def record_error(
    info: PluginInfo, message: str, about: str = "plugin", ignored: bool = False
) -> None:
    """Remember a plugin's problem, or raise it in strict mode (naming the plugin once)."""
    if strict():
        named = f"plugin {info.name!r}" in message
        raise PluginError(message if named else f"plugin {info.name!r}: {message}")
    info.problems.append(Problem(message, about, ignored))


def _allowed_plugins() -> set[str] | None:
    value = os.environ.get("RNNZOO_LOAD_PLUGINS")
    if value is None:
        return None
    return {name.strip() for name in value.split(",") if name.strip()}


@functools.cache
def plugin_manager() -> tuple[pluggy.PluginManager, dict[str, PluginInfo]]:
    """Load every plugin once per process; return the manager and each plugin's info by name."""
    pm = pluggy.PluginManager("rnnzoo")
    pm.add_hookspecs(hookspecs)
    infos: dict[str, PluginInfo] = {}
    version = metadata.version("rnnzoo")
    for module_name in BUILTIN_PLUGINS:
        pm.register(importlib.import_module(module_name), name=module_name)
        infos[module_name] = PluginInfo(module_name, version, builtin=True)

    allowed = _allowed_plugins()
    entry_points = sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name)
    for ep in entry_points:
        if allowed is not None and ep.name not in allowed:
            continue
        dist_version = ep.dist.version if ep.dist else "?"
        info = infos.setdefault(ep.name, PluginInfo(ep.name, dist_version, builtin=False))
        try:
            pm.register(ep.load(), name=ep.name)
        except (Exception, SystemExit) as error:  # a broken plugin must not break the others
            reason = (str(error).strip().splitlines() or [""])[0]
            record_error(info, f"failed to load {ep.value}: {type(error).__name__}: {reason}")
    return pm, infos
