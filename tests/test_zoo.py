"""The shelf: names that open models, the listing, user shelves, the generated index, and
the cards' usage and reproduce commands (the latter run for real)."""

import json
import shlex
import shutil
import subprocess
import sys

import numpy as np
import pytest

from rnnzoo.runtime import Model, RuntimeInputError, list_models, zoo
from tests.conftest import sine_export

SHELF = zoo.BUILT_IN


def shipped() -> list[str]:
    """The models the repository ships on its shelf (what git tracks; a README example's
    export into exports/my-* is the user's, git-ignored)."""
    listed = subprocess.run(
        ["git", "ls-files", "*/card.json"], cwd=SHELF, capture_output=True, text=True
    )
    if listed.returncode != 0 or not listed.stdout:
        pytest.skip("not a git checkout: which shelf models are shipped is unknown")
    return sorted(line.split("/")[0] for line in listed.stdout.splitlines())


def test_list_models_and_a_name_open_the_shelf():
    names = list_models()
    assert names == sorted(p.parent.name for p in SHELF.glob("*/card.json"))
    assert "sine" in names and list_models("*mnist*") == ["mnist1d"]
    model = Model("sine")
    assert model.folder == SHELF / "sine"
    x = np.asarray(json.loads((SHELF / "sine/example.json").read_text())["input"], np.float32)
    np.testing.assert_allclose(model.predict(x[0]), model.predict(x)[0], atol=1e-6)  # one sequence


def test_an_unknown_name_suggests_the_closest(cli):
    with pytest.raises(RuntimeInputError, match="did you mean sine"):
        Model("sien")
    result = cli("predict", "sien", "--input", str(SHELF / "sine/example.json"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "did you mean sine" in result.stderr and "rnnzoo zoo" in result.stderr


def test_a_users_shelf_comes_first(tmp_path, monkeypatch, cli):
    mine = tmp_path / "mine"
    shutil.copytree(SHELF / "reber", mine / "grammar")
    shutil.copytree(SHELF / "reber", mine / "sine")  # shadows the built-in one
    monkeypatch.setenv("RNNZOO_ZOO", f"{tmp_path / 'missing'}:{mine}")
    assert "grammar" in list_models() and Model("sine").folder == mine / "sine"
    rows = cli("zoo", "--json", env={"RNNZOO_ZOO": str(mine)})
    table = {r["name"]: r for r in json.loads(rows.stdout)}
    assert table["grammar"]["task"] == "reber" and table["sine"]["task"] == "reber"
    assert table["fashion"]["folder"] == str(SHELF / "fashion")
    result = cli(
        "predict",
        "grammar",
        "--input",
        str(mine / "grammar/example.json"),
        env={"RNNZOO_ZOO": str(mine)},
    )
    assert result.returncode == 0, result.stderr


def test_zoo_lists_the_cards(cli):
    result = cli("zoo")
    assert result.returncode == 0, result.stderr
    for name in list_models():
        assert f"│ {name} " in result.stdout
    rows = json.loads(cli("zoo", "f*", "--json").stdout)
    assert [r["name"] for r in rows] == ["fashion"]
    row = rows[0]
    assert row["task"] == "seqmnist" and row["size"] == "2x128 bi" and row["metric"] == "accuracy"
    assert row["int8_bytes"] < row["fp32_bytes"] and "onnxruntime" in row["runtimes"]
    assert cli("zoo", "nothing*").stdout.startswith("no model matches")


def test_a_damaged_card_is_a_row_not_a_failure(tmp_path, cli):
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken/card.json").write_text("{not json")
    rows = json.loads(cli("zoo", "broken", "--json", env={"RNNZOO_ZOO": str(tmp_path)}).stdout)
    assert rows[0]["error"].startswith("unreadable card")


def test_the_shelf_index_is_generated_from_the_cards():
    names = shipped()
    expected = zoo.index_markdown([row for row in zoo.catalogue() if row["name"] in names])
    assert (SHELF / "README.md").read_text() == expected, (
        "exports/README.md is stale: rnnzoo zoo --markdown > exports/README.md"
    )


def test_every_shelf_card_says_how_to_use_and_reproduce_it():
    for name in shipped():
        card = json.loads((SHELF / name / "card.json").read_text())
        assert card["usage"]["cli"].startswith("rnnzoo predict "), name
        assert card["reproduce"][0].startswith(f"rnnzoo train --task {card['task']} "), name
        assert card["reproduce"][1].startswith(f"rnnzoo export runs/{name} --out exports/{name}")
        readme = (SHELF / name / "README.md").read_text()
        assert "## Use" in readme and card["reproduce"][0] in readme


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    folder = tmp_path_factory.mktemp("reproduce")
    small = {"n_train": 200, "n_test": 20}
    options = {"epochs": 1, "hidden": 8, "lr": 2e-3, "schedule": "onecycle"}
    sine_export(folder, "sine-small", "gru", task_params=small, **options)
    return folder


@pytest.mark.slow
def test_the_cards_reproduce_command_trains_the_same_config(exported):
    card = json.loads((exported / "sine-small/card.json").read_text())
    train = shlex.split(card["reproduce"][0])
    assert train[:2] == ["rnnzoo", "train"] and train[-2:] == ["--out", "runs/sine-small"]
    again = exported / "again"
    subprocess.run(
        [sys.executable, "-m", "rnnzoo", *train[1:-1], str(again), "--quiet"],
        check=True,
        capture_output=True,
        timeout=300,
    )
    original = json.loads((exported / "run/config.json").read_text())
    copy = json.loads((again / "config.json").read_text())
    for machine_specific in ("device", "amp", "compile"):
        original.pop(machine_specific), copy.pop(machine_specific)
    assert copy == original
    summary = json.loads((exported / "run/summary.json").read_text())
    assert json.loads((again / "summary.json").read_text())["test"] == summary["test"]


def test_the_cards_python_usage_runs(exported):
    card = json.loads((exported / "sine-small/card.json").read_text())
    namespace: dict = {}
    exec(card["usage"]["python"], namespace)
    assert namespace["y"].shape[-1] == 1 and namespace["y_t"].shape == (3, 1)


@pytest.mark.parametrize("name", ["sine", "reber", "rain"])
def test_streaming_the_shelf_models_equals_whole_sequences(name):
    """The bound buffers of a stream take turns as state input and output: every step's
    answer equals the whole sequence's, and an answer returned stays what it was."""
    model = Model(name)
    x = np.asarray(json.loads((SHELF / name / "example.json").read_text())["input"], np.float32)
    x = np.nan_to_num(x)[:2]
    whole = model.predict(x)
    stream = model.stream()
    answers = [stream.step(x[:, t]) for t in range(x.shape[1])]
    first = answers[0].copy()
    if whole.ndim == 3:  # an answer per step
        np.testing.assert_allclose(np.stack(answers, 1), whole, atol=1e-5)
    else:
        np.testing.assert_allclose(answers[-1], whole, atol=1e-5)
    np.testing.assert_array_equal(answers[0], first)
    stream.reset()
    np.testing.assert_allclose(stream.step(x[0, 0]), answers[0][0], atol=1e-6)  # (features,)


def test_a_stream_refuses_a_non_finite_step_and_keeps_its_state():
    """After the first step a stream takes the fast path; NaN or inf still get the one-line
    refusal, the state stays as it was, and a huge finite value gets the full checks."""
    model = Model("sine")
    x = np.asarray(json.loads((SHELF / "sine/example.json").read_text())["input"], np.float32)
    x = x[:1]
    stream = model.stream()
    stream.step(x[:, 0])
    stream.step(x[:, 1])
    for bad in (np.nan, np.inf, -np.inf):
        with pytest.raises(RuntimeInputError, match="NaN or infinite"):
            stream.step(np.full((1, 1), bad, np.float32))
        with pytest.raises(RuntimeInputError, match="NaN or infinite"):
            stream.step(np.full(1, bad, np.float32))  # one sequence's (features,) step
    np.testing.assert_allclose(stream.step(x[:, 2]), model.predict(x[:, :3])[:, -1], atol=1e-5)
    with np.errstate(over="ignore"):
        assert np.isfinite(stream.step(np.full((1, 1), 1e20, np.float32))).all()


def test_every_shelf_cards_python_usage_runs(monkeypatch):
    monkeypatch.chdir(SHELF.parent)  # the cards name their folder as exported: exports/NAME
    for name in shipped():
        card = json.loads((SHELF / name / "card.json").read_text())
        exec(card["usage"]["python"], {"print": lambda *args: None})


def test_webpage_opens_a_shelf_name_like_predict(tmp_path, cli):
    """``rnnzoo webpage reber`` found the model but looked for ``reber/example.json`` in the
    current folder. onnxruntime-web's files are stand-ins here: the page is only written."""
    from rnnzoo.runtime.webpage import ORT_WEB_FILES

    dist = tmp_path / "node_modules" / "onnxruntime-web" / "dist"
    dist.mkdir(parents=True)
    for name in ORT_WEB_FILES:
        (dist / name).write_text("stand-in\n")
    env = {"RNNZOO_NODE_MODULES": str(tmp_path / "node_modules")}
    result = cli("webpage", "reber", "--out", str(tmp_path / "page"), env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for name in ("model.onnx", "card.json", "example.json"):
        assert (tmp_path / "page" / name).read_bytes() == (SHELF / "reber" / name).read_bytes()
