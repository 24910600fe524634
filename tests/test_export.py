"""ONNX export of every registered cell, verified with onnxruntime; the torch-free runtime;
`rnnzoo export` / `rnnzoo predict` and their bad inputs."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
import torch
from onnx import numpy_helper

from conftest import every_cell, sine_export
from rnnzoo import closeness
from rnnzoo import export as exporter
from rnnzoo.checkpoint import save_weights
from rnnzoo.families.base import family_of
from rnnzoo.registry import create_task, get_task_class
from rnnzoo.rundir import RunDir, TrainConfig

ONNX_OPS = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}  # of a step; whole sequences: not RNN
WHOLE_OPS = {"lstm": "LSTM", "gru": "GRU"}  # (onnxruntime's RNN kernel is slow: a Scan)


def make_run(
    folder: Path,
    task: str,
    cell: str,
    layers: int = 1,
    bidirectional: bool = False,
    cell_params: dict | None = None,
    hidden: int = 8,
) -> Path:
    """A run directory with untrained (random) weights: enough to export."""
    params = dict(get_task_class(task).smoke_params)
    config = TrainConfig(
        task=task,
        cell=cell,
        task_params=params,
        hidden=hidden,
        layers=layers,
        bidirectional=bidirectional,
        cell_params=cell_params or {},
    )
    loaded = create_task(task, params)
    loaded.load()  # tasks like rain learn their input statistics from the data
    torch.manual_seed(0)
    model = family_of(loaded).build(loaded, config)
    run = RunDir(folder)
    run.write_config(config)
    save_weights(run.weights_path, model)
    return folder


ONLY_ONNXRUNTIME = ["onnxruntime"]  # the other runtimes: tests/test_portability.py


def op_types(graph: onnx.GraphProto) -> list[str]:
    """Every node's operator, subgraphs included."""
    ops = []
    for node in graph.node:
        ops.append(node.op_type)
        for attribute in node.attribute:
            if attribute.type == onnx.AttributeProto.GRAPH:
                ops += op_types(attribute.g)
    return ops


def assert_portable_structure(folder: Path) -> None:
    """What every runtime needs: no If, no Loop, no input that doubles as an initializer."""
    for path in folder.glob("*.onnx"):
        graph = onnx.load(path).graph
        assert not {"If", "Loop"} & set(op_types(graph)), path.name
        assert not {i.name for i in graph.input} & {t.name for t in graph.initializer}


@pytest.mark.parametrize("cell", every_cell())
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_every_cell_exports_and_matches_pytorch(tmp_path, cell, layers, bidirectional):
    if cell == "mlstm" and bidirectional:
        pytest.xfail(
            "mLSTM read backwards over sine's growing inputs: onnxruntime and PyTorch differ by "
            "2.9e-5 (1 layer) and 6.9e-5 (2 layers) > 1e-5 (its step graph and every "
            "unidirectional file verify)"
        )
    run = make_run(tmp_path / "run", "sine", cell, layers, bidirectional)
    out = tmp_path / "out"
    result = exporter.export_run(run, out, runtimes=ONLY_ONNXRUNTIME)
    grid = {(c.batch, c.steps) for c in result.checks if c.what == "model.onnx: whole"}
    assert grid == {(b, t) for b in (1, 3, 17) for t in (1, 7, 20, 80)}
    assert all(c.max_diff <= 1e-5 for c in result.checks)
    padded = {c.batch for c in result.checks if c.what.startswith("model.full.onnx: padded")}
    assert padded == {1, 3, 5, 17}
    assert (out / "model.step.onnx").exists() == (not bidirectional)
    directions = 2 if bidirectional else 1
    plain = op_types(onnx.load(out / "model.onnx").graph)
    assert plain.count(WHOLE_OPS.get(cell, "Scan")) == layers * directions  # never unrolled
    full = op_types(onnx.load(out / "model.full.onnx").graph)
    assert full.count("Scan") == layers * directions  # each row's own final state
    assert_portable_structure(out)
    if cell in ONNX_OPS and not bidirectional:
        # a step is the operator over one step (a stream's step costs about its node count)
        step = onnx.load(out / "model.step.onnx").graph
        assert op_types(step).count(ONNX_OPS[cell]) == layers
        if layers == 1:  # the states straight in and out
            operator = next(n for n in step.node if n.op_type == ONNX_OPS[cell])
            assert {i.name for i in step.input[1:]} <= set(operator.input)
            assert {o.name for o in step.output[1:]} <= set(operator.output)


@pytest.mark.parametrize(
    "task,cell,params",
    [
        ("mnist1d", "gru", {}),
        ("mnist1d", "mgu", {}),
        ("sine", "lstm", {"peephole": True}),
        ("sine", "rnn", {"activation": "relu"}),
        ("rain", "lstm", {}),  # NaN in the raw input, variable lengths, an encoder with buffers
        ("reber", "mgu", {}),
        ("reber", "gru", {}),  # the last-step readout after a native ONNX operator
        ("video", "gru", {}),  # a CNN on every frame, steps of shape (32, 32, 1)
    ],
)
def test_more_models_export(tmp_path, task, cell, params):
    """Classifiers with the mean readout (streamed with a running mean), peepholes, relu."""
    run = make_run(tmp_path / "run", task, cell, layers=2, cell_params=params)
    result = exporter.export_run(run, tmp_path / "out", runtimes=ONLY_ONNXRUNTIME)
    assert any(c.what == "model.step.onnx streamed vs model.onnx" for c in result.checks)
    assert any(c.what.startswith("model.step.onnx: one step") for c in result.checks)
    assert all(c.ok for c in result.checks)


def test_card_test_data_and_the_two_sequence_graphs(tmp_path):
    run = make_run(tmp_path / "run", "mnist1d", "lstm")
    out = tmp_path / "out"
    exporter.export_run(run, out, runtimes=ONLY_ONNXRUNTIME)
    card = json.loads((out / "card.json").read_text())
    assert card["task"] == "mnist1d" and card["cell"] == "lstm" and card["labels"][3] == "3"
    assert card["format"] == "rnnzoo-card/2" and card["family"] == "sequence"
    assert [i["name"] for i in card["inputs"]] == ["input", "lengths", "state_0", "state_1"]
    model = onnx.load(out / "model.onnx")
    props = {p.key: p.value for p in model.metadata_props}
    assert json.loads(props["rnnzoo_card"])["cell"] == "lstm"
    # the test data set of model.onnx, produced by PyTorch, reproduced by onnxruntime
    x = numpy_helper.to_array(onnx.load_tensor(out / "test_data_set_0/input_0.pb"))
    y = numpy_helper.to_array(onnx.load_tensor(out / "test_data_set_0/output_0.pb"))
    session = onnxruntime.InferenceSession(out / "model.onnx")
    np.testing.assert_allclose(session.run(["output"], {"input": x})[0], y, atol=1e-5)
    assert [i.name for i in session.get_inputs()] == ["input"]
    full = onnxruntime.InferenceSession(out / "model.full.onnx")
    names = [i.name for i in full.get_inputs()]
    assert names == ["input", "lengths", "state_0", "state_1"]  # all required
    lengths = np.array([x.shape[1]] * len(x), np.int64)
    zeros = np.zeros((1, len(x), 8), np.float32)
    with_lengths = full.run(
        ["output"], {"input": x, "lengths": lengths, "state_0": zeros, "state_1": zeros}
    )[0]
    np.testing.assert_allclose(with_lengths, y, atol=1e-5)
    assert_portable_structure(out)


def test_failed_verification_writes_nothing(tmp_path, monkeypatch):
    run = make_run(tmp_path / "run", "sine", "gru")
    monkeypatch.setattr(closeness, "BASE_TOLERANCE", -1.0)
    with pytest.raises(exporter.ExportError, match="nothing was written"):
        exporter.export_run(run, tmp_path / "exports" / "out", runtimes=ONLY_ONNXRUNTIME)
    exports = tmp_path / "exports"
    assert not exports.exists() or list(exports.iterdir()) == []


@pytest.fixture(scope="module")
def trained_export(tmp_path_factory):
    folder = tmp_path_factory.mktemp("trained")
    result = sine_export(folder, "export", "lstm", quantize="int8", epochs=4, hidden=32, lr=1e-2)
    return folder, result


def test_int8_export_stays_close_to_fp32(trained_export):
    folder, result = trained_export
    q = result.card["int8"]
    assert (folder / "export/model.int8.onnx").is_file()
    assert q["test_metrics"]["mse"] < 1.5 * q["fp32_test_metrics"]["mse"] + 0.01
    assert q["fp32_test_metrics"]["mse"] < result.card["metrics"]["baseline_test"]["mse"]


def test_int8_weights_are_dequantized_once_at_load(trained_export, tmp_path):
    """The runtime's sessions fold the int8 files' DequantizeLinear nodes into float weights
    when they load, so no call pays for dequantizing (int8 at fp32's latency)."""
    import onnx
    import onnxruntime

    from rnnzoo.runtime.session import open_session

    folder, _ = trained_export
    int8 = folder / "export/model.int8.onnx"
    assert any(n.op_type == "DequantizeLinear" for n in onnx.load(int8).graph.node)
    options = open_session(int8).get_session_options()
    options.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    onnxruntime.InferenceSession(str(int8), options, providers=["CPUExecutionProvider"])
    optimized = onnx.load(tmp_path / "optimized.onnx")
    assert not [n for n in optimized.graph.node if n.op_type == "DequantizeLinear"]


def test_runtime_works_without_torch(trained_export, tmp_path):
    folder, _ = trained_export
    x = np.random.default_rng(0).normal(size=(2, 30, 1)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    code = f"""
import sys
sys.modules["torch"] = None  # any import of torch now fails
import numpy as np
from rnnzoo.runtime import Model
model = Model({str(folder / "export")!r})
x = np.load({str(tmp_path / "x.npy")!r})
whole = model.predict(x)
stream = model.stream()
streamed = np.stack([stream.step(x[:, t]) for t in range(x.shape[1])], axis=1)
assert np.abs(whole - streamed).max() < 1e-5, np.abs(whole - streamed).max()
padded = model.predict(x, lengths=[30, 12])
assert np.abs(padded[1, 12:]).max() == 0, "a padded step must output zeros"
assert np.abs(padded[1, :12] - model.predict(x[1:, :12])[0]).max() < 1e-5
assert np.abs(padded[0] - whole[0]).max() < 1e-5
from rnnzoo.cli import cli
try:
    cli(["predict", {str(folder / "export")!r}, "--input", {str(tmp_path / "x.npy")!r},
         "--json"])
except SystemExit as exit:
    assert exit.code in (0, None), exit.code
assert "torch" not in [m for m in sys.modules if sys.modules[m] is not None]
print("OK")
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("OK")
    assert '"prediction"' in result.stdout


def test_export_and_predict_cli(trained_export, tmp_path, cli):
    folder, _ = trained_export
    out = tmp_path / "cli-export"
    exported = cli("export", str(folder / "run"), "--out", str(out), "--runtime", "onnx.reference")
    assert exported.returncode == 0, exported.stderr
    assert "streamed" in exported.stdout and "model.full.onnx: padded" in exported.stdout
    assert "onnx.reference" in exported.stdout  # the runtime table
    rows = np.random.default_rng(1).normal(size=(25, 1))
    np.savetxt(tmp_path / "x.csv", rows, delimiter=",", header="value", comments="")
    (tmp_path / "x.json").write_text(json.dumps({"input": [rows.tolist()], "lengths": [20]}))
    for name in ("x.csv", "x.json"):
        result = cli(
            "predict",
            str(out),
            "--input",
            str(tmp_path / name),
            "--json",
            "--output",
            str(tmp_path / "y.npy"),
        )
        assert result.returncode == 0, result.stderr
        prediction = np.asarray(json.loads(result.stdout)["prediction"])
        assert prediction.shape == (1, 25, 1)
        np.testing.assert_allclose(np.load(tmp_path / "y.npy"), prediction, atol=1e-6)


@pytest.mark.parametrize(
    "case,message",
    [
        ("features", "takes 1 features per step, got 3"),
        ("rank", "expected (batch, time, 1) or without the batch axis"),
        ("dtype", "expected floating-point values, got int64"),
        ("missing", "no such file"),
        ("not_onnx", "not a model onnxruntime can load"),
        ("missing_model", "no such file or folder"),
    ],
)
def test_predict_bad_input_exits_2_with_one_line(trained_export, tmp_path, cli, case, message):
    folder, _ = trained_export
    model = str(folder / "export")
    x = tmp_path / "x.npy"
    arrays = {
        "features": np.zeros((1, 5, 3), np.float32),
        "rank": np.zeros((1, 1, 5, 1)),
        "dtype": np.zeros((1, 5, 1), np.int64),
    }
    np.save(x, arrays.get(case, np.zeros((1, 5, 1), np.float32)))
    if case == "missing":
        x = tmp_path / "nothing.npy"
    if case == "not_onnx":
        model = str(tmp_path / "fake.onnx")
        Path(model).write_text("this is not a protobuf")
    if case == "missing_model":
        model = str(tmp_path / "no-such-export")
    result = cli("predict", model, "--input", str(x))
    assert result.returncode == 2, result.stdout
    assert message in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_export_of_a_missing_run_exits_2(tmp_path, cli):
    result = cli("export", str(tmp_path), "--out", str(tmp_path / "out"))
    assert result.returncode == 2 and "not a run directory" in result.stderr


@pytest.mark.parametrize("cell,bidirectional", [("gru", False), ("lstm", True), ("mgu", False)])
def test_encoder_decoder_exports_and_decodes_like_pytorch(tmp_path, cli, cell, bidirectional):
    run = make_run(
        tmp_path / "run", "dates", cell, layers=2, bidirectional=bidirectional, hidden=16
    )
    out = tmp_path / "out"
    result = exporter.export_run(run, out, runtimes=ONLY_ONNXRUNTIME)
    assert {c.what for c in result.checks} >= {
        "encoder.onnx: states",
        "decoder.step.onnx: one step, states fed",
        "greedy decode: sequences that differ",
    }
    assert all(c.ok for c in result.checks)
    assert {p.name for p in out.iterdir()} >= {"encoder.onnx", "decoder.step.onnx", "card.json"}
    texts = json.loads((out / "example.json").read_text())
    (tmp_path / "dates.txt").write_text("\n".join(texts) + "\n")
    answers = json.loads(
        cli("predict", str(out), "--input", str(tmp_path / "dates.txt"), "--json").stdout
    )["answers"]
    assert len(answers) == len(texts) and all(isinstance(a, str) for a in answers)
    (tmp_path / "bad.json").write_text(json.dumps(["April 22, 2019 ☃"]))
    bad = cli("predict", str(out), "--input", str(tmp_path / "bad.json"))
    assert bad.returncode == 2 and "does not know" in bad.stderr


def test_the_ort_format_for_mobile_builds(tmp_path):
    """--format ort: each file in the ORT format beside its .onnx, the operator config of a
    minimal build, and each .ort giving its .onnx's numbers."""
    run = make_run(tmp_path / "run", "reber", "mgu")
    out = tmp_path / "out"
    result = exporter.export_run(
        run, out, quantize="int8", runtimes=ONLY_ONNXRUNTIME, formats=("ort",)
    )
    report = result.card["runtimes"]["onnxruntime (ORT format)"]
    expected = {"model.ort", "model.full.ort", "model.step.ort", "model.int8.ort"}
    assert expected <= set(report["files"]) and set(report["files"].values()) == {"ok"}
    config = (out / "required_operators.config").read_text()
    assert "Scan" in config and ("MatMul" in config or "Gemm" in config)
    session = onnxruntime.InferenceSession(out / "model.ort")
    x = np.zeros((1, 5, 7), np.float32)
    assert session.run(["output"], {"input": x})[0].shape == (1, 2)
    bad = cli_export_format(run, tmp_path / "bad")
    assert bad.returncode == 2 and "--format" in bad.stderr


def cli_export_format(run, out):
    from tests.conftest import run_cli

    return run_cli("export", str(run), "--out", str(out), "--format", "tflite")
