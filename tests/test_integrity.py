"""A damaged export is refused, never answered with wrong numbers: every file's sha256 is
recorded at export (``checksums.sha256``), ``rnnzoo verify`` checks them all and runs the test
data, ``predict`` and ``Model`` check the files they load. Also: an export's folder honours the
umask, and a run whose summary.json is garbage still exports with its real metrics."""

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest

from rnnzoo.checksums import MANIFEST
from rnnzoo.errors import RuntimeInputError
from rnnzoo.runtime import Model
from rnnzoo.runtime.session import open_session, run
from tests.conftest import ROOT

TINY = ["--task", "sine", "--cell", "gru", "--hidden", "8", "--epochs", "1", "--quiet"]
TINY += ["--param", "n_train=128", "--param", "n_test=32"]


def rnnzoo(*args: str, umask: int = 0o022) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rnnzoo", *args],
        capture_output=True,
        text=True,
        umask=umask,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def one_error_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    return result.stderr


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("integrity") / "run"
    result = rnnzoo("train", *TINY, "--out", str(run))
    assert result.returncode == 0, result.stderr
    return run


@pytest.fixture(scope="module")
def exported(trained) -> Path:
    out = trained.parent / "export"
    result = rnnzoo("export", str(trained), "--out", str(out), "--runtime", "onnxruntime")
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture
def export(exported, tmp_path) -> Path:
    """A copy of the export to damage."""
    return Path(shutil.copytree(exported, tmp_path / "export"))


def flip_a_weight_bit(path: Path) -> None:
    """Flip one bit (the top exponent bit) of one weight of the head (a MatMul), in place."""
    graph = onnx.load(str(path)).graph
    head = {node.input[1] for node in graph.node if node.op_type == "MatMul"}
    weight = next(t for t in graph.initializer if t.name in head).raw_data
    data = bytearray(path.read_bytes())
    assert data.count(weight) == 1
    data[data.find(weight) + 3] ^= 0x40  # the first float's top byte (little-endian)
    path.write_bytes(bytes(data))


def digests(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_every_file_of_an_export_has_its_checksum(exported):
    recorded = {}
    for line in (exported / MANIFEST).read_text().splitlines():
        digest, name = line.split("  ", 1)
        recorded[name] = digest
    files = {k: v for k, v in digests(exported).items() if k != MANIFEST}
    assert recorded == files
    assert "test_data_set_0/input_0.pb" in recorded and "card.json" in recorded
    if shutil.which("sha256sum"):  # the manifest is sha256sum's format
        check = subprocess.run(["sha256sum", "-c", MANIFEST], cwd=exported, capture_output=True)
        assert check.returncode == 0, check.stdout


def test_a_flipped_weight_bit_is_refused_by_predict_verify_and_model(export, tmp_path):
    x = np.asarray(json.loads((export / "example.json").read_text())["input"], np.float32)
    good = Model(export).predict(x)
    flip_a_weight_bit(export / "model.onnx")
    # onnxruntime runs the damaged file and answers otherwise: only the checksum tells
    damaged = run(open_session(export / "model.onnx"), {"input": x}, ["output"])[0]
    assert np.abs(damaged - good).max() > 1e-3
    before = digests(export)
    output = tmp_path / "p.json"
    predict = rnnzoo(
        "predict", str(export), "--input", str(export / "example.json"), "--output", str(output)
    )
    for result in (predict, rnnzoo("verify", str(export), "--runtime", "onnx.reference")):
        line = one_error_line(result)
        assert "model.onnx: damaged" in line and "export the run again" in line
    with pytest.raises(RuntimeInputError, match="model.onnx: damaged"):
        Model(export)
    assert not output.exists() and digests(export) == before  # nothing written, nothing lost


@pytest.mark.parametrize(
    "name", ["card.json", "model.step.onnx", "example.json", "test_data_set_0/output_0.pb"]
)
def test_verify_checks_every_file(export, name):
    path = export / name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    line = one_error_line(rnnzoo("verify", str(export), "--runtime", "onnx.reference"))
    assert f"{name}: damaged" in line


def test_predict_checks_only_what_it_loads(export):
    (export / "README.md").write_text("my own notes\n")  # not loaded: not checked
    result = rnnzoo("predict", str(export), "--input", str(export / "example.json"))
    assert result.returncode == 0, result.stderr
    assert "README.md: damaged" in one_error_line(rnnzoo("verify", str(export)))


def test_a_missing_manifest_is_refused_when_the_card_lists_it(export):
    (export / MANIFEST).unlink()
    line = one_error_line(rnnzoo("predict", str(export), "--input", str(export / "example.json")))
    assert f"{MANIFEST}: missing" in line


def test_a_garbled_manifest_is_one_line(export):
    (export / MANIFEST).write_text("not a checksum line\n")
    line = one_error_line(rnnzoo("predict", str(export), "--input", str(export / "example.json")))
    assert f"{MANIFEST}: line 1 is not" in line


def test_an_old_export_without_checksums_loads_and_verify_runs_its_test_data(tmp_path):
    old = Path(shutil.copytree(ROOT / "exports" / "sine", tmp_path / "sine"))
    if (old / MANIFEST).exists():  # as an export made before checksums
        (old / MANIFEST).unlink()
        card = json.loads((old / "card.json").read_text())
        del card["files"][MANIFEST]
        (old / "card.json").write_text(json.dumps(card))
    assert rnnzoo("verify", str(old), "--runtime", "onnx.reference").returncode == 0
    flip_a_weight_bit(old / "model.onnx")
    line = one_error_line(rnnzoo("verify", str(old), "--runtime", "onnx.reference"))
    assert "model.onnx: its output on test_data_set_0 differs" in line


@pytest.mark.slow
def test_an_export_honours_the_umask(exported):
    for umask, folder_mode, file_mode in ((0o022, 0o755, 0o644), (0o027, 0o750, 0o640)):
        out = exported.parent / f"umask-{umask:o}"
        run = exported.parent / "run"
        result = rnnzoo(
            "export", str(run), "--out", str(out), "--runtime", "onnxruntime", umask=umask
        )
        assert result.returncode == 0, result.stderr
        for path in [out, *out.rglob("*")]:
            mode = stat.S_IMODE(path.stat().st_mode)
            assert mode == (folder_mode if path.is_dir() else file_mode), (path, oct(mode))


@pytest.mark.parametrize("garbage", ["{not json", '{"test": "fine", "baseline_test": null}', "[]"])
def test_a_garbage_summary_is_mended_in_the_card(trained, tmp_path, garbage):
    """The card's metrics came out None; now they are computed again from the weights, the
    same numbers the summary held, and one note says so. The run's files stay as they were."""
    run = Path(shutil.copytree(trained, tmp_path / "run"))
    summary = json.loads((run / "summary.json").read_text())
    (run / "summary.json").write_text(garbage)
    out = tmp_path / "export"
    result = rnnzoo("export", str(run), "--out", str(out), "--runtime", "onnxruntime")
    assert result.returncode == 0, result.stderr
    notes = [line for line in result.stderr.splitlines() if line.startswith("note: ")]
    assert len(notes) == 1 and "summary.json holds no test metrics" in notes[0], result.stderr
    metrics = json.loads((out / "card.json").read_text())["metrics"]
    for key in ("test", "baseline_test"):
        assert metrics[key] == pytest.approx(summary[key], rel=1e-5)
    assert (run / "summary.json").read_text() == garbage
    assert Model(out).card["metrics"]["test"] == metrics["test"]


@pytest.mark.parametrize(
    "name", ["../../etc/passwd", "/etc/passwd", "./card.json", "a//b", "test_data_set_0/../x"]
)
def test_a_manifest_naming_a_file_outside_the_export_is_one_line(export, name):
    manifest = export / MANIFEST
    manifest.write_text(manifest.read_text() + f"{'0' * 64}  {name}\n")
    before = digests(export)
    line = one_error_line(rnnzoo("verify", str(export), "--runtime", "onnx.reference"))
    assert f"names {name!r}, which is not a file inside the export" in line
    assert digests(export) == before


@pytest.mark.parametrize("kind", ["a link out", "a device"])
def test_verify_reads_only_plain_files_of_the_export(export, tmp_path, kind):
    """A listed file replaced by a link to another file, or by /dev/zero (which never ends):
    one line, at once."""
    target = export / "example.json"
    target.unlink()
    if kind == "a link out":
        outside = tmp_path / "secret.json"
        outside.write_text("{}")
        target.symlink_to(outside)
    else:
        target.symlink_to("/dev/zero")
    result = rnnzoo("verify", str(export), "--runtime", "onnx.reference")
    line = one_error_line(result)
    assert "example.json: a symbolic link, where the export wrote a plain file" in line


def test_an_export_into_a_symbolic_link_is_refused_and_nothing_moves(trained, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("my own notes\n")
    link = tmp_path / "link"
    link.symlink_to(mine)
    line = one_error_line(rnnzoo("export", str(trained), "--out", str(link)))
    assert f"{link} is a symbolic link" in line
    assert link.is_symlink() and os.readlink(link) == str(mine)
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]
    assert not list(tmp_path.glob(".link.*"))
