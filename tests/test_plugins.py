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


@pytest.fixture
def only_bad_plugins(bad_plugins):
    """The bad plugins alone, whatever else is installed beside rnnzoo."""
    return {**bad_plugins, "RNNZOO_LOAD_PLUGINS": "zz_broken_import,zz_raising_hook,zz_duplicate"}


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
    assert duplicate["status"] == "warning" and duplicate["errors"] == []  # not a failure
    assert duplicate["ignored"] == [
        "cell 'gru' from plugin 'zz_duplicate' ignored: the name is taken by plugin "
        "'rnnzoo.cells'; rename it"
    ]
    assert duplicate["registered"] == ["cell:gru2"]
    assert plugins["mgu"]["status"] == "ok"


def test_strict_mode_fails_hard_with_one_line(cli, only_bad_plugins):
    result = cli("cells", env={**only_bad_plugins, "RNNZOO_STRICT_PLUGINS": "1"})
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "zz_broken_import" in result.stderr and "Traceback" not in result.stderr


def test_load_plugins_chooses_which_plugins_load(cli, bad_plugins):
    only_mgu = cli("plugins", "--json", env={**bad_plugins, "RNNZOO_LOAD_PLUGINS": "mgu"})
    names = [p["name"] for p in json.loads(only_mgu.stdout)]
    assert names == ["rnnzoo.cells", "rnnzoo.families", "rnnzoo.tasks", "rnnzoo.targets", "mgu"]
    none = cli("cells", "--json", env={**bad_plugins, "RNNZOO_LOAD_PLUGINS": ""})
    assert sorted(c["name"] for c in json.loads(none.stdout)) == ["gru", "lstm", "rnn"]


@pytest.fixture
def exiting_plugins(tmp_path):
    """Plugins that call sys.exit() or raise anything, at import, in a hook, or in the module
    of a lazily registered cell; and a cell whose annotations do not resolve."""
    make_distribution(tmp_path, "zz_exit_import", "import sys\nsys.exit(3)\n")
    make_distribution(
        tmp_path,
        "zz_exit_hook",
        """
        import sys
        import rnnzoo

        @rnnzoo.hookimpl
        def register_tasks(register):
            sys.exit(4)
    """,
    )
    make_distribution(
        tmp_path,
        "zz_lazy",
        """
        import rnnzoo

        @rnnzoo.hookimpl
        def register_cells(register):
            register("zz_lazy_raise:Cell", name="raising", description="its module raises")
            register("zz_lazy_exit:Cell", name="exiting", description="its module exits")
            register("zz_lazy_hints:Cell", name="unresolved", description="bad annotations")
    """,
    )
    (tmp_path / "zz_lazy_raise.py").write_text("raise ValueError('bad setting at import')\n")
    (tmp_path / "zz_lazy_exit.py").write_text("import sys\nsys.exit(5)\n")
    (tmp_path / "zz_lazy_hints.py").write_text(
        textwrap.dedent(
            """
            from rnnzoo.cells.gru import GRU

            class Cell(GRU):
                def __init__(self, input_size: int, hidden_size: int, width: "Nowhere" = 3):
                    super().__init__(input_size, hidden_size)
            """
        )
    )
    return {"PYTHONPATH": str(tmp_path)}


@pytest.mark.slow
def test_plugins_that_exit_or_raise_never_end_the_cli(cli, exiting_plugins):
    listed = cli("cells", "--json", env=exiting_plugins)
    assert listed.returncode == 0, listed.stderr
    assert {"raising", "exiting", "unresolved"} <= {c["name"] for c in json.loads(listed.stdout)}
    notes = listed.stderr.splitlines()  # --json: the plugins that left cells out, as notes
    assert "note: plugin 'zz_exit_import': failed to load zz_exit_import: SystemExit: 3" in notes
    assert all(note.startswith("note: ") for note in notes), notes
    tasks = cli("tasks", env=exiting_plugins)
    assert tasks.returncode == 0 and not tasks.stderr, tasks.stderr
    assert "plugin 'zz_exit_hook': register_tasks raised SystemExit: 4" in tasks.stdout
    plugins = {
        p["name"]: p for p in json.loads(cli("plugins", "--json", env=exiting_plugins).stdout)
    }
    assert "SystemExit" in plugins["zz_exit_import"]["errors"][0]
    assert "SystemExit" in plugins["zz_exit_hook"]["errors"][0]
    for cell, says in (
        ("raising", "ValueError"),
        ("exiting", "SystemExit"),
        ("unresolved", "Nowhere"),
    ):
        for command in (["info", cell], ["train", "--task", "sine", "--cell", cell]):
            result = cli(*command, env=exiting_plugins)
            assert result.returncode == 2, (command, result.stderr)
            assert "Traceback" not in result.stderr
            errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
            assert len(errors) == 1 and says in errors[0], result.stderr


def test_a_strict_mode_error_is_said_once(cli, bad_plugins):
    env = {**bad_plugins, "RNNZOO_STRICT_PLUGINS": "1", "RNNZOO_LOAD_PLUGINS": "zz_duplicate"}
    result = cli("cells", env=env)
    assert result.returncode == 2
    assert result.stderr.count("plugin 'zz_duplicate'") == 1, result.stderr


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
    found = rnnzoo.list_cells("*ru*")  # and whatever installed plugins match, e.g. mingru
    assert "gru" in found and not {"rnn", "lstm"} & set(found)
    assert all("ru" in name for name in found) and found == sorted(found)
    assert "lstm" in rnnzoo.list_cells("l*")
    assert rnnzoo.list_cells("nothing*") == []


@pytest.fixture
def family_plugin(tmp_path):
    """A plugin that adds a family (a new kind of model), a task of that kind, a task whose
    registration is refused, and a task that lacks a method."""
    make_distribution(
        tmp_path,
        "zz_family",
        """
        import rnnzoo

        @rnnzoo.hookimpl
        def register_families(register):
            register("zz_family_impl:Graphy", name="graphy", kinds=("seq2graph",),
                     runtime="rnnzoo.runtime.sequence:SequenceRunner", description="a test")

        @rnnzoo.hookimpl
        def register_tasks(register):
            register("zz_family_impl:NoKind", name="nokind", kind="nosuchkind")
            register("zz_family_impl:GraphSine", name="graphsine", kind="seq2graph")
            register("zz_family_impl:NoBaseline", name="nobaseline", kind="seq2seq")
        """,
    )
    (tmp_path / "zz_family_impl.py").write_text(
        textwrap.dedent(
            """
            from rnnzoo.families.sequence import SequenceFamily, SequenceModel
            from rnnzoo.tasks.base import Task
            from rnnzoo.tasks.sine import Sine

            class Graphy(SequenceFamily):
                def build(self, task, config):
                    model = super().build(task, config)
                    return SequenceModel(model.encoder, model.rnn, model.head, None)

            class GraphSine(Sine):
                kind = "seq2graph"

            class NoKind(Sine):
                pass

            class NoBaseline(Sine):
                baseline = Task.baseline
            """
        )
    )
    return {"PYTHONPATH": str(tmp_path)}


@pytest.mark.slow
def test_a_plugin_family_trains_exports_and_predicts_under_its_own_name(
    tmp_path, cli, family_plugin
):
    plugins = {p["name"]: p for p in json.loads(cli("plugins", "--json", env=family_plugin).stdout)}
    info = plugins["zz_family"]
    assert "family:graphy" in info["registered"] and "task:graphsine" in info["registered"]
    assert any("'nokind' has kind 'nosuchkind'" in e for e in info["errors"])
    run, out = tmp_path / "run", tmp_path / "export"
    small = ["--param", "n_train=64", "--param", "n_test=16", "--hidden", "8", "--epochs", "1"]
    trained = cli(
        "train",
        "--task",
        "graphsine",
        "--cell",
        "gru",
        *small,
        "--out",
        str(run),
        "--quiet",
        env=family_plugin,
    )
    assert trained.returncode == 0, trained.stderr
    exported = cli(
        "export", str(run), "--out", str(out), "--runtime", "onnxruntime", env=family_plugin
    )
    assert exported.returncode == 0, exported.stderr
    card = json.loads((out / "card.json").read_text())
    assert card["family"] == "graphy" and card["kind"] == "seq2graph"
    predicted = cli("predict", str(out), "--input", str(out / "example.json"), env=family_plugin)
    assert predicted.returncode == 0, predicted.stderr


def test_a_task_that_lacks_a_method_is_refused_before_any_work(tmp_path, cli, family_plugin):
    out = tmp_path / "run"
    result = cli(
        "train", "--task", "nobaseline", "--cell", "gru", "--out", str(out), env=family_plugin
    )
    assert result.returncode == 2
    assert "'nobaseline'" in result.stderr and "does not implement baseline()" in result.stderr
    assert result.stderr.count("Error:") == 1 and "Traceback" not in result.stderr
    assert not out.exists()


def one_error_line(result) -> str:
    """The only line on stderr of a command that failed: ``Error: ...``, no note before it."""
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


@pytest.mark.slow
def test_failed_and_ignored_plugins_are_reported_and_errors_stay_one_line(cli, only_bad_plugins):
    """What users saw: a plugin that failed to load was missing from `cells`, a name ignored
    was called a failure to load, and every error came after a note, as two lines."""
    table = cli("cells", env=only_bad_plugins)
    assert table.returncode == 0 and not table.stderr, table.stderr
    below = table.stdout.split("not listed (see 'rnnzoo plugins'):\n", 1)[1].splitlines()
    assert [line.strip() for line in below] == [
        "plugin 'zz_broken_import': failed to load zz_broken_import: ImportError: "
        "no such library: foo",
        "cell 'gru' from plugin 'zz_duplicate' ignored: the name is taken by plugin "
        "'rnnzoo.cells'; rename it",
        "plugin 'zz_raising_hook': register_cells raised RuntimeError: hook exploded",
    ]
    listed = cli("cells", "--json", env=only_bad_plugins)
    assert {"gru", "gru2"} <= {c["name"] for c in json.loads(listed.stdout)}
    assert [line[:6] for line in listed.stderr.splitlines()] == ["note: "] * 3

    unknown = one_error_line(cli("info", "grue", env=only_bad_plugins))
    assert "did you mean gru" in unknown
    assert "plugin that failed: zz_broken_import, zz_raising_hook" in unknown
    for command in (
        ["train", "--task", "sine", "--cell", "nope"],
        ["train", "--task", "nope", "--cell", "gru"],
        ["train", "--cell", "gru"],
        ["export", "no-such-run"],
        ["tasks", "--no-such-option"],
    ):
        one_error_line(cli(*command, env=only_bad_plugins))


def test_a_note_about_failed_plugins_comes_after_a_success_only(tmp_path, cli, only_bad_plugins):
    trained = cli(
        "train", "--task", "sine", "--cell", "gru", "--param", "n_train=64", "--param",
        "n_test=16", "--hidden", "8", "--epochs", "1", "--quiet", "--out", str(tmp_path / "run"),
        env=only_bad_plugins,
    )  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    assert trained.stderr.splitlines()[-1] == (
        "note: 2 plugin(s) failed: zz_broken_import, zz_raising_hook; see 'rnnzoo plugins'"
    )


CONTRACT_BREAKER = """
import rnnzoo

@rnnzoo.hookimpl
def register_cells(register):
    register("zz_breaker_impl:SizesMethod", name="zz_sizes_method", description="a method")
    register("zz_breaker_impl:Fine", name="zz_fine", description="keeps the contract")
"""

BREAKER_IMPL = """
import torch
from torch import nn
from rnnzoo.cells.base import Cell

class Fine(Cell):
    def __init__(self, input_size: int, hidden_size: int):
        super().__init__(input_size, hidden_size)
        self.lin = nn.Linear(input_size + hidden_size, hidden_size)

    def step(self, x, state):
        h = torch.tanh(self.lin(torch.cat([x, state[0]], dim=-1)))
        return h, (h,)

class SizesMethod(Fine):
    def state_sizes(self):
        return (self.hidden_size,)
"""

BROKEN_LINE = (
    "cell 'zz_sizes_method' (plugin 'zz_breaker') defines state_sizes as a method; state_sizes "
    "must be a property returning a tuple of ints, one per state tensor (put @property above it)"
)


@pytest.fixture
def breaker(tmp_path):
    make_distribution(tmp_path, "zz_breaker", CONTRACT_BREAKER)
    (tmp_path / "zz_breaker_impl.py").write_text(textwrap.dedent(BREAKER_IMPL))
    return {"PYTHONPATH": str(tmp_path), "RNNZOO_LOAD_PLUGINS": "zz_breaker"}


@pytest.mark.slow
def test_a_cell_that_breaks_the_contract_shows_in_the_listings(cli, breaker):
    """Listing imports no torch, so only --check (and `info`, which builds the cell) shows a
    broken cell before training does."""
    plain = {c["name"]: c for c in json.loads(cli("cells", "--json", env=breaker).stdout)}
    assert "contract" not in plain["zz_sizes_method"]
    checked = cli("cells", "zz_*", "--check", "--json", env=breaker)
    assert checked.returncode == 0, checked.stderr
    assert {c["name"]: c["contract"] for c in json.loads(checked.stdout)} == {
        "zz_fine": "ok",
        "zz_sizes_method": BROKEN_LINE,
    }
    assert "contract" in cli("cells", "--check", env=breaker).stdout

    info = cli("info", "zz_sizes_method", env=breaker)
    assert info.returncode == 0, info.stderr
    assert f"contract: {BROKEN_LINE}\n" in info.stdout
    assert json.loads(cli("info", "zz_fine", "--json", env=breaker).stdout)["contract"] == "ok"

    plugins = {p["name"]: p for p in json.loads(cli("plugins", "--json", env=breaker).stdout)}
    assert plugins["zz_breaker"]["status"] == "ok"  # not built without --check
    checked = cli("plugins", "--check", "--json", env=breaker)
    plugins = {p["name"]: p for p in json.loads(checked.stdout)}
    assert plugins["zz_breaker"]["status"] == "error"
    assert plugins["zz_breaker"]["errors"] == [BROKEN_LINE]
    assert plugins["rnnzoo.cells"]["status"] == "ok"


NOT_A_CELL = """
import rnnzoo

class NotACell:
    '''A plain class.'''

@rnnzoo.hookimpl
def register_cells(register):
    register(NotACell, name="notacell", description="a plain class")
    register(len, name="lencell", description="the builtin len")
    register("zz_not_a_cell:NotACell", name="lazycell", description="the same, by path")
    register("rnnzoo.cells.gru:GRU", name="zz_gru", description="a real cell beside them")

@rnnzoo.hookimpl
def register_tasks(register):
    register(NotACell, name="notatask", kind="seq2seq", description="a plain class")
"""


@pytest.mark.slow
def test_what_is_not_a_cell_or_task_is_refused_at_registration(cli, tmp_path):
    make_distribution(tmp_path, "zz_not_a_cell", NOT_A_CELL)
    env = {"PYTHONPATH": str(tmp_path), "RNNZOO_LOAD_PLUGINS": "zz_not_a_cell"}
    plugins = {p["name"]: p for p in json.loads(cli("plugins", "--json", env=env).stdout)}
    errors = plugins["zz_not_a_cell"]["errors"]
    assert plugins["zz_not_a_cell"]["status"] == "error"
    expected = {
        "notacell": "cell 'notacell' (plugin 'zz_not_a_cell') is registered as class "
        "zz_not_a_cell.NotACell, which is not a subclass of rnnzoo.cells.base.Cell; a cell "
        "must subclass rnnzoo.cells.base.Cell",
        "lencell": "cell 'lencell' (plugin 'zz_not_a_cell') is registered as function "
        "builtins.len, which is not a subclass of rnnzoo.cells.base.Cell",
        "notatask": "task 'notatask' (plugin 'zz_not_a_cell') is registered as class "
        "zz_not_a_cell.NotACell, which is not a subclass of rnnzoo.tasks.base.Task",
    }
    for name, line in expected.items():
        assert any(error.startswith(line) for error in errors), (name, errors)
    cells = {c["name"] for c in json.loads(cli("cells", "--json", env=env).stdout)}
    assert "zz_gru" in cells and not {"notacell", "lencell"} & cells
    # info and train say the same line (the lazily registered one is found out when loaded)
    expected["lazycell"] = expected["notacell"].replace("'notacell'", "'lazycell'")
    for name in ("notacell", "lencell", "lazycell"):
        train = ["train", "--task", "sine", "--cell", name, "--out", str(tmp_path / "run")]
        for command in (["info", name], train):
            assert one_error_line(cli(*command, env=env)).startswith("Error: " + expected[name])
    assert not (tmp_path / "run").exists()


TARGET_PLUGIN = '''
    """An edge target from outside: the step graph re-saved as it would be for a runtime of
    the plugin's own (here onnxruntime again), checked and run through the same interface."""
    from pathlib import Path

    import numpy as np
    import onnx

    import rnnzoo
    from rnnzoo.targets.base import Target

    FILE = "model.step.copy.onnx"


    class OnnxCopyStep:
        def __init__(self, path):
            import onnxruntime

            self.session = onnxruntime.InferenceSession(str(path))
            self.names = [i.name for i in self.session.get_inputs()]

        def __call__(self, feeds):
            return self.session.run(None, dict(zip(self.names, feeds)))


    class StepCopy(Target):
        name = "step-copy"
        description = "the step graph again, for a runtime of this plugin's own"
        files_meaning = {FILE: "the step graph, copied by a plugin"}

        def write(self, job):
            onnx.save(job.step_graph(), str(job.folder / FILE))
            report = job.checked(OnnxCopyStep(job.folder / FILE))
            return {"status": report.pop("status"), "file": FILE, **report}

        def open(self, folder, file, entry):
            return OnnxCopyStep(Path(folder) / file)


    @rnnzoo.hookimpl
    def register_targets(register):
        register(StepCopy)
'''


@pytest.mark.slow
def test_a_plugin_target_exports_verifies_and_lists_under_its_own_name(tmp_path, cli):
    make_distribution(tmp_path, "zz_step_copy", TARGET_PLUGIN)
    env = {"PYTHONPATH": str(tmp_path), "RNNZOO_LOAD_PLUGINS": "zz_step_copy"}
    listed = cli("targets", "--json", env=env)
    assert "step-copy" in [t["name"] for t in json.loads(listed.stdout)], listed.stderr
    run = tmp_path / "run"
    small = ["--param", "n_train=64", "--param", "n_test=16", "--hidden", "8", "--epochs", "1"]
    trained = cli("train", "--task", "sine", "--cell", "gru", *small, "--out", str(run))
    assert trained.returncode == 0, trained.stderr
    out = tmp_path / "export"
    exported = cli("export", str(run), "--out", str(out), "--format", "step-copy",
                   "--runtime", "onnxruntime", env=env)  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    card = json.loads((out / "card.json").read_text())
    assert (
        card["targets"]["step-copy"]["status"] == "ok" and (out / "model.step.copy.onnx").is_file()
    )
    verified = cli("verify", str(out), "--runtime", "step-copy", "--json", env=env)
    assert json.loads(verified.stdout)["step-copy"]["files"] == {"model.step.copy.onnx": "ok"}
    unknown = cli("export", str(run), "--out", str(tmp_path / "x"), "--format", "step-cpy", env=env)
    assert unknown.returncode == 2
    assert "unknown target 'step-cpy'; did you mean step-copy" in unknown.stderr
