"""A card that lies about its graphs — even with its manifest hashed again — is refused when
the model is opened (predict, verify, stream, Python), in one line; every honest card on the
shelf opens."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rnnzoo.checksums import write_manifest
from rnnzoo.errors import RuntimeInputError
from rnnzoo.runtime import Model

SHELF = Path(__file__).parent.parent / "exports"


def lying(tmp_path: Path, name: str, change) -> Path:
    folder = Path(shutil.copytree(SHELF / name, tmp_path / name))
    card = json.loads((folder / "card.json").read_text())
    change(card)
    (folder / "card.json").write_text(json.dumps(card))
    write_manifest(folder)
    return folder


def state_shape(card):
    card["inputs"][2]["shape"][-1] += 1


def output_size(card):
    card["outputs"][0]["shape"][-1] += 1


@pytest.mark.parametrize(
    "name, change, said",
    [
        ("sine", state_shape, "'state_0' is [1, 'batch', 101], but model.full.onnx has"),
        ("sine", output_size, "'output' is ['batch', 'time', 2], but model.onnx has"),
        ("sine", lambda c: c.update(state_sizes=[99]), "state_sizes are [99]"),
        ("sine", lambda c: c.update(per_step=False), "per_step is False, but model.onnx's output"),
        ("sine", lambda c: c.update(missing_values=True), "model.onnx has no test for NaN"),
        ("airline", lambda c: c.update(streaming_state_sizes=[1]), "streaming_state_sizes are"),
        ("airline", lambda c: c["inputs"][0]["shape"].append(3), "'input' is ['batch', 'time'"),
    ],
)
def test_a_card_that_lies_about_its_graphs_is_refused(tmp_path, name, change, said):
    folder = lying(tmp_path, name, change)
    with pytest.raises(RuntimeInputError) as caught:
        Model(folder)
    text = str(caught.value)
    assert "\n" not in text and said in text and "does not describe its graphs" in text, text


def test_predict_and_verify_refuse_a_lying_card_in_one_line(tmp_path):
    folder = lying(tmp_path, "sine", lambda c: c.update(per_step=False))
    for args in (("predict", str(folder), "--input", str(folder / "example.json")),
                 ("verify", str(folder), "--runtime", "onnxruntime")):  # fmt: skip
        done = subprocess.run(
            [sys.executable, "-m", "rnnzoo", *args], capture_output=True, text=True
        )
        assert done.returncode == 2, done.stderr
        assert "does not describe its graphs" in done.stderr and "Traceback" not in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr


@pytest.mark.parametrize("name", sorted(p.name for p in SHELF.iterdir() if p.is_dir()))
def test_every_card_on_the_shelf_describes_its_graphs(name):
    Model(SHELF / name)
    if (SHELF / name / "model.int8.onnx").is_file() or (
        SHELF / name / "encoder.int8.onnx"
    ).is_file():
        Model(SHELF / name, int8=True)
