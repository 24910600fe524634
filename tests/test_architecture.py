"""The house plan, checked: rnnzoo's modules import each other without a cycle (lazy imports
inside functions included), in one direction, and never a private name of another module."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "rnnzoo"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imports(name: str) -> list[tuple[str, list[str]]]:
    """``(module, names)`` for every ``import`` of an rnnzoo module in ``name``'s source,
    wherever it stands (top level or inside a function)."""
    found = []
    for node in ast.walk(ast.parse(MODULES[name].read_text())):
        if isinstance(node, ast.Import):
            found += [(a.name, []) for a in node.names if a.name.startswith("rnnzoo")]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("rnnzoo"):
            names = [a.name for a in node.names]
            submodules = [f"{node.module}.{n}" for n in names if f"{node.module}.{n}" in MODULES]
            rest = [n for n in names if f"{node.module}.{n}" not in MODULES]
            found += [(node.module, rest)] if rest else []
            found += [(s, []) for s in submodules]
    return found


def edges(name: str) -> set[str]:
    return {target for target, _ in imports(name) if target in MODULES and target != name}


def test_no_import_cycle():
    state: dict[str, str] = {}

    def visit(name: str, path: list[str]) -> None:
        state[name] = "open"
        for target in sorted(edges(name)):
            if state.get(target) == "open":
                cycle = path[path.index(target) :] + [target] if target in path else [target]
                pytest.fail("import cycle: " + " → ".join(cycle))
            if target not in state:
                visit(target, [*path, target])
        state[name] = "done"

    for name in sorted(MODULES):
        if name not in state:
            visit(name, [name])


def test_no_private_name_is_imported_across_modules():
    for name in MODULES:
        for target, names in imports(name):
            private = [n for n in names if n.startswith("_")]
            assert not private, f"{name} imports private {private} from {target}"


def reachable(name: str) -> set[str]:
    seen, todo = set(), [name]
    while todo:
        for target in edges(todo.pop()):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


@pytest.mark.parametrize(
    "low,high",
    [
        ("rnnzoo.cells", "rnnzoo.tasks"),  # cells know nothing of tasks
        ("rnnzoo.cells", "rnnzoo.trainer"),
        ("rnnzoo.recurrent", "rnnzoo.families."),
        ("rnnzoo.trainer", "rnnzoo.export"),  # the trainer knows nothing of ONNX
        ("rnnzoo.export", "rnnzoo.cli"),
        ("rnnzoo.runtime", "rnnzoo.cli"),
        ("rnnzoo.runtime", "rnnzoo.export"),
        ("rnnzoo.runtime", "rnnzoo.families."),
        ("rnnzoo.card", "rnnzoo.export"),
    ],
)
def test_imports_go_one_way(low, high):
    """``high`` ending in a dot means its submodules: a package's ``__init__`` that only
    registers built-ins by import path (``rnnzoo.families``) is not the code behind it."""
    for name in MODULES:
        if name == low or name.startswith(low + "."):
            wrong = sorted(t for t in reachable(name) if within(t, high))
            assert not wrong, f"{name} reaches {wrong}"


def test_cli_commands_share_only_common():
    """Each command module of the command line stands alone: of the CLI it imports only
    ``rnnzoo.cli.common``, which imports none of them; the group in ``rnnzoo.cli`` collects them."""
    for name in MODULES:
        if name.startswith("rnnzoo.cli."):
            allowed = set() if name == "rnnzoo.cli.common" else {"rnnzoo.cli.common"}
            wrong = sorted(t for t in edges(name) if within(t, "rnnzoo.cli") and t not in allowed)
            assert not wrong, f"{name} imports {wrong}"


def within(name: str, area: str) -> bool:
    if area.endswith("."):
        return name.startswith(area)
    return name == area or name.startswith(area + ".")


def imports_torch(name: str) -> bool:
    for node in ast.walk(ast.parse(MODULES[name].read_text())):
        if isinstance(node, ast.Import) and any(a.name.startswith("torch") for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "torch":
            return True
    return False


@pytest.mark.parametrize("light", ["rnnzoo.runtime", "rnnzoo.card", "rnnzoo.registry"])
def test_the_runtime_side_never_reaches_torch(light):
    for name in MODULES:
        if name == light or name.startswith(light + "."):
            heavy = sorted(t for t in reachable(name) | {name} if imports_torch(t))
            assert not heavy, f"{name} reaches modules that import torch: {heavy}"


def test_no_kind_branches_outside_the_families():
    """A new kind of model is one new family module: nothing else tests the kind."""
    for name, path in MODULES.items():
        if name.startswith(("rnnzoo.families.", "rnnzoo.tasks.")) or name == "rnnzoo.registry":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Compare):
                kinds = {"seq2seq", "seq2vec", "encdec", "vec2seq"}
                literal = any(
                    isinstance(c, ast.Constant) and c.value in kinds
                    for side in [node.left, *node.comparators]
                    for c in ast.walk(side)
                )
                assert not literal, f"{name}:{node.lineno} tests a kind"


def test_a_targets_name_is_spelled_only_in_its_module():
    """An edge target is one module plus its registration: its name and aliases appear as a
    string nowhere else in rnnzoo (the CLI, the exporter, the runtime and the zoo ask the
    registry)."""
    import rnnzoo.registry

    names = {}
    for target in rnnzoo.registry.tables().targets.values():
        module = type(target).__module__
        for name in (target.name, *target.aliases):
            names[name] = module
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                owner = names.get(node.value)
                assert owner is None or owner == module, (
                    f"{module}:{node.lineno} spells target {node.value!r} (its module: {owner})"
                )
