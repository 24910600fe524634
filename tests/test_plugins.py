"""Plugin loading through real entry points: the installed MGU plugin, and throw-away
distributions (a ``.dist-info`` folder on ``PYTHONPATH``) that fail in every way a plugin can."""

import json
import textwrap
from pathlib import Path

import pytest

import rnnzoo
from rnnzoo import hookspecs


def make_distribution(root: Path, name: str, module_source: str) -> None:
    """Install a one-module distribution with an ``rnnzoo`` entry point into ``root``."""
    (root / f"{name}.py").write_text(textwrap.dedent(module_source))
    info = root / f"{name}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[rnnzoo]\n{name} = {name}\n")


@pytest.fixture
def bad_plugins(tmp_path):
    make_distribution(tmp_path, "zz_broken_import", "raise ImportError('no such library: foo')\n")
    make_distribution(
        tmp_path,
        "zz_raising_hook",
        """
        import rnnzoo

        @rnnzoo.hookimpl
        def register_cells(register):
            raise RuntimeError("hook exploded")
    """,
    )
    make_distribution(
        tmp_path,
        "zz_duplicate",
        """
        import rnnzoo

        @rnnzoo.hookimpl
        def register_cells(register):
            register("rnnzoo.cells.gru:GRU", name="gru", description="a second gru")
            register("rnnzoo.cells.gru:GRU", name="gru2", description="a renamed gru")
    """,
    )
    return {"PYTHONPATH": str(tmp_path)}


def test_installed_plugin_is_discovered_through_its_entry_point(cli):
    result = cli("cells", "--json")
    assert result.returncode == 0, result.stderr
    cells = {c["name"]: c for c in json.loads(result.stdout)}
    assert {"rnn", "lstm", "gru", "mgu"} <= set(cells)
    assert cells["mgu"]["plugin"] == "mgu"
    assert cells["lstm"]["plugin"] == "rnnzoo.cells"


def test_broken_plugins_leave_a_working_cli(cli, bad_plugins):
    result = cli("cells", "--json", env=bad_plugins)
    assert result.returncode == 0, result.stderr
    cells = {c["name"]: c for c in json.loads(result.stdout)}
    assert cells["gru"]["plugin"] == "rnnzoo.cells"  # first registration wins
    assert cells["gru2"]["plugin"] == "zz_duplicate"
    assert "mgu" in cells

    plugins = {p["name"]: p for p in json.loads(cli("plugins", "--json", env=bad_plugins).stdout)}
    assert plugins["zz_broken_import"]["status"] == "error"
    assert "no such library: foo" in plugins["zz_broken_import"]["errors"][0]
    assert "hook exploded" in plugins["zz_raising_hook"]["errors"][0]
    duplicate = plugins["zz_duplicate"]
    assert "'gru' is already registered by plugin 'rnnzoo.cells'" in duplicate["errors"][0]
    assert "zz_duplicate" in duplicate["errors"][0]
    assert duplicate["registered"] == ["cell:gru2"]
    assert plugins["mgu"]["status"] == "ok"


def test_strict_mode_fails_hard_with_one_line(cli, bad_plugins):
    result = cli("cells", env={**bad_plugins, "RNNZOO_STRICT_PLUGINS": "1"})
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "zz_broken_import" in result.stderr and "Traceback" not in result.stderr


def test_load_plugins_chooses_which_plugins_load(cli, bad_plugins):
    only_mgu = cli("plugins", "--json", env={**bad_plugins, "RNNZOO_LOAD_PLUGINS": "mgu"})
    names = [p["name"] for p in json.loads(only_mgu.stdout)]
    assert names == ["rnnzoo.cells", "rnnzoo.families", "rnnzoo.tasks", "mgu"]
    none = cli("cells", "--json", env={**bad_plugins, "RNNZOO_LOAD_PLUGINS": ""})
    assert sorted(c["name"] for c in json.loads(none.stdout)) == ["gru", "lstm", "rnn"]


def test_every_hook_is_documented():
    """Like datasette: every hook the plugin manager knows has a docstring and a README entry."""
    from rnnzoo.plugins import plugin_manager

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    pm, _ = plugin_manager()
    hooks = [name for name in vars(pm.hook) if not name.startswith("_")]
    assert {"register_cells", "register_tasks", "register_families"} <= set(hooks)
    for name in hooks:
        assert (getattr(hookspecs, name).__doc__ or "").strip(), f"{name} has no docstring"
        assert f"`{name}(" in readme, f"{name} is not documented in README.md"


def test_wildcards():
    assert rnnzoo.list_cells("*ru*") == ["gru"]
    assert "lstm" in rnnzoo.list_cells("l*")
    assert rnnzoo.list_cells("nothing*") == []
