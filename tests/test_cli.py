"""The listing commands, through click's CliRunner and in real subprocesses."""

import json
import subprocess
import sys

from click.testing import CliRunner

from rnnzoo.cli import cli


def invoke(*args):
    return CliRunner().invoke(cli, list(args))


def test_cells_table_and_json():
    table = invoke("cells")
    assert table.exit_code == 0 and "lstm" in table.output
    listed = json.loads(invoke("cells", "--json").stdout)
    assert {"name", "plugin", "description"} <= set(listed[0])
    matched = [c["name"] for c in json.loads(invoke("cells", "g*", "--json").stdout)]
    assert "gru" in matched and all(name.startswith("g") for name in matched)  # and plugins'


def test_tasks_and_plugins_json():
    assert isinstance(json.loads(invoke("tasks", "--json").stdout), list)
    plugins = json.loads(invoke("plugins", "--json").stdout)
    builtin = next(p for p in plugins if p["name"] == "rnnzoo.cells")
    assert builtin["registered"] == ["cell:rnn", "cell:lstm", "cell:gru"]
    assert builtin["status"] == "ok"


def test_info_shows_parameters_with_types_and_defaults():
    doc = json.loads(invoke("info", "lstm", "--json").stdout)
    params = {p["name"]: p for p in doc["params"]}
    assert params["forget_bias"] == {"name": "forget_bias", "type": "float", "default": 1.0}
    assert params["peephole"]["default"] is False
    assert doc["contract"] == "ok"  # info builds the cell and steps it once
    text = invoke("info", "lstm").stdout
    assert "lstm" in text and "contract: ok\n" in text


def test_unknown_name_exits_2_with_one_line_and_suggestions(cli):
    result = cli("info", "grue")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "did you mean gru" in result.stderr
    assert "Traceback" not in result.stderr


def test_help_does_not_import_torch():
    code = (
        "import sys; from rnnzoo.cli import cli\n"
        "try:\n    cli(['--help'])\nexcept SystemExit:\n    pass\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "Usage:" in result.stdout


def test_listing_cells_does_not_import_torch():
    """Built-ins and lazily registering plugins (by import path, as the MGU plugin does) list
    without importing torch. An installed plugin that registers a class itself has imported
    torch to define it, so it is left out: found by what it registered, in a first process."""
    import os
    from importlib import metadata

    find_eager = (
        "from rnnzoo.registry import tables\n"
        "t = tables()\n"
        "print(','.join(sorted({e.plugin for table in (t.cells, t.tasks, t.families)"
        " for e in table.values() if not isinstance(e.target, str)})))\n"
    )
    found = subprocess.run([sys.executable, "-c", find_eager], capture_output=True, text=True)
    assert found.returncode == 0, found.stderr
    eager = set(filter(None, found.stdout.strip().split(",")))
    assert not eager & {"rnnzoo.cells", "rnnzoo.tasks", "mgu"}, f"registered eagerly: {eager}"
    lazy = {ep.name for ep in metadata.entry_points(group="rnnzoo")} - eager
    code = (
        "import sys; from rnnzoo.cli import cli\n"
        "try:\n    cli(['cells', '--json'])\nexcept SystemExit:\n    pass\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "RNNZOO_LOAD_PLUGINS": ",".join(sorted(lazy))},
    )
    assert result.returncode == 0, result.stderr
    assert '"lstm"' in result.stdout and '"mgu"' in result.stdout


def test_python_m_rnnzoo_in_a_subprocess(cli):
    result = cli("cells", "--json")
    assert result.returncode == 0
    assert "rnn" in [c["name"] for c in json.loads(result.stdout)]


def test_every_option_shows_its_default():
    """`--help` explains every option and says what one left out means: its default, or
    that it is required."""
    import click

    from rnnzoo.cli import cli as group

    root = click.Context(group)
    silent = []
    for name, command in sorted(group.commands.items()):
        context = click.Context(command, info_name=name, parent=root, show_default=True)
        for param in command.params:
            if not isinstance(param, click.Option) or param.name == "help":
                continue
            text = (param.get_help_record(context) or ("", ""))[1]
            on_off_flag = param.is_flag and not param.secondary_opts
            if not (param.required or on_off_flag or "default" in text.lower()):
                silent.append(f"{name} {param.opts[0]}")
            if not param.help:
                silent.append(f"{name} {param.opts[0]} (no help text)")
    assert not silent, silent


def test_the_command_list_is_not_truncated(cli):
    commands = cli("--help").stdout.split("Commands:")[1]
    assert "..." not in commands and "zoo       List the trained models on the shelf." in commands


def test_info_shows_the_recommended_training_and_the_date_formats(cli):
    result = cli("info", "dates", "--json")
    doc = json.loads(result.stdout)
    training = {row["option"]: row for row in doc["training"]}
    assert training["--lr"] == {"option": "--lr", "value": 0.003, "from": "task"}
    assert training["--clip"]["from"] == "trainer"
    assert "April 22, 2019" in doc["input_examples"] and "2019/04/22" in doc["input_examples"]
    text = cli("info", "dates").stdout
    assert "--batch-size" in text and "inputs it reads, e.g.: April 22, 2019" in text
