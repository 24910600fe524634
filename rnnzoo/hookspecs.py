"""The whole plugin API of rnnzoo: the hooks a plugin may implement.

A plugin is a module with functions decorated by ``rnnzoo.hookimpl`` whose names match the
specifications below. Built-in cells and tasks are registered through these same hooks.
Each hook receives a ``register`` callback instead of returning values (the llm style), so a
plugin may register any number of things, conditionally, in one place.
"""

from __future__ import annotations

from collections.abc import Callable

import pluggy

hookspec = pluggy.HookspecMarker("rnnzoo")
hookimpl = pluggy.HookimplMarker("rnnzoo")


@hookspec
def register_cells(register: Callable[..., None]) -> None:
    """Register recurrent cells.

    Call ``register(CellClass)`` for each subclass of ``rnnzoo.cells.base.Cell``; its ``name``
    and ``description`` class attributes name it in the registry, and the keyword arguments of
    its ``__init__`` after ``input_size`` and ``hidden_size`` are its parameters.

    To keep listings free of heavy imports, a plugin may instead register lazily:
    ``register("package.module:CellClass", name="mycell", description="one line")``; the class
    is imported the first time the cell is built or inspected.
    """


@hookspec
def register_tasks(register: Callable[..., None]) -> None:
    """Register tasks (data, problem shape, encoder and head, loss, metrics, baseline).

    Call ``register(TaskClass)`` for each subclass of ``rnnzoo.tasks.base.Task``, or lazily
    ``register("package.module:TaskClass", name="mytask", description="one line", kind="seq2vec")``.
    The keyword arguments of the task's ``__init__`` are its parameters.
    """


@hookspec
def register_families(register: Callable[..., None]) -> None:
    """Register model families: one per way of building, training, exporting and running a model.

    A family serves one or more task kinds (the built-ins: ``sequence`` for seq2seq and
    seq2vec, ``token_decoder`` for encdec and vec2seq). Call
    ``register("package.module:FamilyClass", name="myfamily", kinds=("mykind",),
    runtime="package.runtime_module:Runner", description="one line")``: the family class
    (a subclass of ``rnnzoo.families.base.Family``; imported when a model is built, trained
    or exported) and the runtime adapter (a torch-free subclass of
    ``rnnzoo.runtime.base.Runner``; imported when an export of the family is loaded) are
    given by import path. A task whose ``kind`` no family serves cannot be registered.
    """


@hookspec
def register_targets(register: Callable[..., None]) -> None:
    """Register edge targets: what ``rnnzoo export --format NAME`` writes beside the ONNX files
    and ``rnnzoo verify --runtime NAME`` runs.

    Call ``register(TargetClass)`` for each subclass of ``rnnzoo.targets.base.Target``; its
    ``name`` is the target's one word everywhere (the card's ``targets``, the zoo). Its module
    must stay torch-free (the runtime imports it to run the files): what the torch side knows
    reaches its ``write`` through the ``StepJob`` it is given.
    """
