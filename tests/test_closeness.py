"""One measure and one tolerance for every check of an export (``rnnzoo.closeness``): float32
rounding of large values never blocks an export, a wrong graph is still caught."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from rnnzoo import closeness
from rnnzoo import export as exporter
from rnnzoo.export import sequence

ULP_AT_3000 = float(np.spacing(np.float32(3000)))


def test_rounding_is_measured_at_the_outputs_magnitude():
    forecast = np.array([[3100.0, 2950.0, 12.5]], np.float32)  # one value near zero
    rounded = forecast + np.array([[0, 0, 2 * ULP_AT_3000]], np.float32)
    assert closeness.difference(forecast, rounded) < 1e-6  # 2 ulps of the forecast's size
    assert closeness.difference(np.array([0.0]), np.array([2e-5])) == pytest.approx(2e-5)
    assert closeness.difference(np.array([-3.0, 0.5]), np.array([-3.0, 0.5 + 1e-4])) > 1e-5
    assert closeness.difference(forecast, forecast + 1.0) > 1e-4  # a wrong forecast
    assert closeness.difference(np.zeros(3), np.zeros(4)) == float("inf")
    assert closeness.difference(np.array([np.nan, 1.0]), np.array([np.nan, 1.0])) == 0.0
    assert closeness.difference(np.array([1.0]), np.array([np.nan])) == float("inf")
    assert closeness.difference(np.array([np.inf]), np.array([np.inf])) == 0.0


def test_the_tolerance_grows_with_the_square_root_of_the_stream():
    assert closeness.tolerance(1) == closeness.tolerance(100) == closeness.BASE_TOLERANCE
    assert closeness.tolerance(400) == pytest.approx(2 * closeness.BASE_TOLERANCE)
    assert closeness.status(1.5e-5, 1) != "ok" and closeness.status(1.5e-5, 400) == "ok"


@pytest.fixture(scope="module")
def yearly_run(tmp_path_factory):
    """A forecaster of a century of yearly values in the thousands, horizon 14: float32 rounds
    its forecasts at about 2.4e-4 (the elementwise measure blocked its export)."""
    folder = tmp_path_factory.mktemp("yearly")
    values = 3000 + np.cumsum(np.random.default_rng(1).normal(20, 150, 100))
    rows = "".join(f"{1900 + i},{v:.1f}\n" for i, v in enumerate(values))
    (folder / "yearly.csv").write_text("year,flow\n" + rows)
    train = [sys.executable, "-m", "rnnzoo", "train", "--task", "forecast", "--cell", "gru"]
    train += ["--data", str(folder / "yearly.csv"), "--param", "target=flow"]
    train += ["--param", "time=year", "--param", "horizon=14", "--param", "lookback=20"]
    train += ["--epochs", "10", "--out", str(folder / "run")]
    subprocess.run(train, check=True, capture_output=True)
    return folder / "run"


def test_a_forecaster_of_large_values_exports(yearly_run, tmp_path):
    out = tmp_path / "export"
    done = subprocess.run(
        [sys.executable, "-m", "rnnzoo", "export", str(yearly_run), "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert (out / "model.step.onnx").is_file()


def perturbed(graph: onnx.ModelProto, name: str) -> onnx.ModelProto:
    """``graph`` with the largest entry of initializer ``name`` moved by 1e-3."""
    copy = onnx.ModelProto()
    copy.CopyFrom(graph)
    for init in copy.graph.initializer:
        if init.name == name:
            w = numpy_helper.to_array(init).copy()
            w[np.unravel_index(np.abs(w).argmax(), w.shape)] += 1e-3
            init.CopyFrom(numpy_helper.from_array(w, name))
    return copy


def weights(graph: onnx.ModelProto) -> list[str]:
    """The float initializers with more than one value, largest first."""
    found = [
        i for i in graph.graph.initializer if i.data_type == onnx.TensorProto.FLOAT and len(i.dims)
    ]
    found = [i for i in found if int(np.prod(i.dims)) > 1]
    return [i.name for i in sorted(found, key=lambda i: -int(np.prod(i.dims)))]


def caught(monkeypatch, run, out, pick) -> list[str]:
    """Export ``run`` with ``model.onnx``'s weights chosen by ``pick`` each moved by 1e-3 in
    turn: the names of the weights whose change failed the export."""
    original = sequence.check_on_onnxruntime
    found, failed = {}, []

    def check(graphs, cases):
        found["graphs"], found["cases"] = graphs, cases
        return original(graphs, cases)

    monkeypatch.setattr(sequence, "check_on_onnxruntime", check)
    exporter.export_run(run, out, runtimes=["onnxruntime"])
    graphs, cases = found["graphs"], found["cases"]
    for name in pick(weights(graphs["model.onnx"])):
        checks = original({**graphs, "model.onnx": perturbed(graphs["model.onnx"], name)}, cases)
        try:
            sequence.check_results(checks)
        except exporter.ExportError as error:
            assert "model.onnx" in str(error) and "nothing was written" in str(error)
            failed.append(name)
    return failed


def test_one_weight_moved_by_1e_3_is_caught(monkeypatch, tmp_path):
    """On a model whose outputs are about 1 (the sine forecaster), each of its four largest
    weights moved by 1e-3 fails the export."""
    train = [sys.executable, "-m", "rnnzoo", "train", "--task", "sine", "--cell", "gru"]
    train += ["--max-steps", "30", "--hidden", "16", "--out", str(tmp_path / "run")]
    subprocess.run(train, check=True, capture_output=True)
    failed = caught(monkeypatch, tmp_path / "run", tmp_path / "out", lambda w: w[:4])
    assert len(failed) == 4, failed


def test_the_readout_of_a_large_valued_forecaster_moved_by_1e_3_is_caught(
    monkeypatch, yearly_run, tmp_path
):
    """Forecasts in the thousands are held to their own magnitude: a readout weight moved by
    1e-3 moves them by ~60× the tolerance and is caught (a recurrent weight moves them by
    ~9 float32 steps of their size, within what rounding alone gives there)."""
    failed = caught(
        monkeypatch, yearly_run, tmp_path / "out", lambda w: [n for n in w if "head" in n][:1]
    )
    assert len(failed) == 1
