"""The model card's schema: validated by the runtime before use, one line for each way a card
can be wrong; cards of the previous format still read."""

import json
import shutil
from pathlib import Path

import pytest

from rnnzoo import card as cards
from rnnzoo.checksums import MANIFEST, write_manifest
from rnnzoo.runtime import Model

SHELF = Path(__file__).resolve().parents[1] / "exports"


@pytest.fixture
def sine_export(tmp_path):
    folder = tmp_path / "sine"
    shutil.copytree(SHELF / "sine", folder)
    return folder


def edit_card(folder: Path, change) -> None:
    """Change a copy's card as its exporter might have written it: its checksums, if it has
    them, sealed again (these tests are about reading cards, not about damaged files)."""
    card = json.loads((folder / "card.json").read_text())
    change(card)
    (folder / "card.json").write_text(json.dumps(card))
    if (folder / MANIFEST).exists():
        write_manifest(folder)


def as_format_1(card: dict) -> dict:
    """A card as rnnzoo wrote it before families: no family, format 1."""
    card.pop("family", None)
    card["format"] = "rnnzoo-card/1"
    return card


@pytest.mark.parametrize(
    "change,message",
    [
        (lambda c: c.update(hidden="big"), "'hidden' must be a whole number, not \"big\""),
        (lambda c: c.pop("inputs"), "lacks 'inputs'"),
        (lambda c: c.update(format="rnnzoo-card/9"), "format 'rnnzoo-card/9' is not one"),
        (lambda c: c.update(family="nosuch", format=cards.FORMAT), "unknown family 'nosuch'"),
        (lambda c: c.update(inputs=[{"shape": [1]}]), "inputs and outputs need names"),
        (lambda c: c.update(state_sizes=3, format=cards.FORMAT, family="sequence"), "state_sizes"),
        (lambda c: as_format_1(c).update(kind="nokind"), "unknown task kind 'nokind'"),
        (lambda c: as_format_1(c).pop("kind"), "lacks 'kind', which names its family"),
        (lambda c: c.update(inputs=[]), "lists no inputs"),
        (lambda c: c["inputs"][0].update(shape="x"), "shape of 'input' must be a list"),
        (lambda c: c["inputs"][0].update(shape=["batch", "time", "x"]), "input shape must be"),
        (lambda c: c.update(format="rnnzoo-card/3"), "upgrade rnnzoo to read it"),
        # a forecaster's card with labels: predict crashed in numpy (ufunc 'multiply')
        (lambda c: c.update(labels=["dry", "wet"]), "has labels, but no output of class scores"),
    ],
)
def test_a_broken_card_is_one_line(sine_export, tmp_path, cli, change, message):
    edit_card(sine_export, change)
    result = cli("predict", str(sine_export), "--input", str(sine_export / "example.json"))
    assert result.returncode == 2, result.stdout
    assert message in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "change,message",
    [
        (lambda c: c.update(source_tokens="bogus"), "source_tokens must be char or word"),
        (lambda c: c.update(target_length=-1), "target_length must be at least 1"),
        (lambda c: c.update(target_vocab=[1, 2]), "target_vocab must be a list of strings"),
        (lambda c: c.update(eos=99), "bos and eos must be ids in target_vocab"),
        (lambda c: c.update(state_names=[]), "state_names must be a non-empty list"),
    ],
)
def test_a_broken_decoder_card_is_one_line(tmp_path, cli, change, message):
    folder = tmp_path / "dates"
    shutil.copytree(SHELF / "dates", folder)
    edit_card(folder, change)
    (tmp_path / "in.txt").write_text("April 22, 2019\n")
    result = cli("predict", str(folder), "--input", str(tmp_path / "in.txt"))
    assert result.returncode == 2, result.stdout
    assert message in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_a_card_that_is_not_json_is_one_line(sine_export, cli):
    (sine_export / "card.json").write_text("{not json")
    write_manifest(sine_export)  # written so, not damaged later (the checksum's case)
    result = cli("predict", str(sine_export), "--input", str(sine_export / "example.json"))
    assert result.returncode == 2 and "not valid JSON" in result.stderr


@pytest.mark.parametrize("name", sorted(p.parent.name for p in SHELF.glob("*/card.json")))
@pytest.mark.parametrize("old", [False, True], ids=["as exported", "as format 1"])
def test_every_card_on_the_shelf_reads(tmp_path, name, old):
    """Cards of format 1 are upgraded too: the family is the one serving their kind, and a
    token decoder reads text when its card has a source vocabulary."""
    folder = SHELF / name
    if old:
        folder = tmp_path / name
        shutil.copytree(SHELF / name, folder)
        edit_card(folder, lambda c: as_format_1(c).pop("reads_tokens", None))
    model = Model(folder)
    assert model.card["format"] == cards.FORMAT
    assert model.card["family"] in ("sequence", "token_decoder")
    assert repr(model).startswith(f"Model({str(folder)!r}: {model.card['kind']} ")
    assert f" on {model.card['task']}, inputs [" in repr(model)


def test_the_schema_documents_every_common_field():
    assert all(f.meaning for f in cards.COMMON_FIELDS)
    names = [f.name for f in cards.COMMON_FIELDS]
    assert len(names) == len(set(names)) and "family" in names and "format" in names


def test_the_runtime_stays_torch_free_with_an_eager_plugin_installed(tmp_path):
    """Built-in families' runners are found without loading plugins, so a plugin that imports
    torch at the top cannot pull torch into inference."""
    import subprocess
    import sys

    from tests.test_plugins import make_distribution

    make_distribution(
        tmp_path,
        "zz_eager_torch",
        """
        import torch  # what an eager plugin does
        import rnnzoo

        @rnnzoo.hookimpl
        def register_cells(register):
            pass
        """,
    )
    code = f"""
import sys
import numpy as np
from rnnzoo.runtime import Model
model = Model({str(SHELF / "sine")!r})
print(model.predict(np.zeros((1, 5, 1), np.float32)).shape)
print("torch" in sys.modules)
"""
    env = {"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["(1,", "5,", "1)", "False"]


def test_labels_must_match_the_class_scores(tmp_path, cli):
    folder = tmp_path / "reber"
    shutil.copytree(SHELF / "reber", folder)
    edit_card(folder, lambda c: c.update(labels=["invalid", "valid", "unsure"]))
    result = cli("predict", str(folder), "--input", str(folder / "example.json"))
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "has 3 labels for 2 class scores (logits)" in result.stderr
