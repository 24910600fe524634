"""Edge targets of the step model: ``--format litert`` (LiteRT) and ``--format micro``
(TensorFlow Lite Micro, with the C header and example). Where the converters are not installed
(the optional extras ``rnnzoo[litert]`` and ``rnnzoo[micro]``), the tests that need them are
skipped with that reason, and the export says so in one line."""

import hashlib
import importlib.util
import json
import re

import numpy as np
import onnxruntime
import pytest

from rnnzoo.targets.micro import FIRMWARE, build_example, chip_missing
from tests.conftest import run_cli

INSTALLED = all(importlib.util.find_spec(m) for m in ("litert_torch", "ai_edge_litert"))
MICRO = INSTALLED and importlib.util.find_spec("tflite_micro") is not None
SMALL = ["--param", "n_train=64", "--param", "n_test=16", "--hidden", "8", "--epochs", "1"]


@pytest.fixture(scope="module")
def reber_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("edge") / "run"
    trained = run_cli("train", "--task", "reber", "--cell", "gru", *SMALL, "--out", str(run))
    assert trained.returncode == 0, trained.stderr
    return run


@pytest.mark.slow
@pytest.mark.skipif(INSTALLED, reason="litert-torch is installed here")
def test_a_format_whose_converter_is_missing_is_one_line(tmp_path, reber_run, cli):
    out = tmp_path / "export"
    first = cli("export", str(reber_run), "--out", str(out), "--runtime", "onnxruntime")
    assert first.returncode == 0, first.stderr
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    again = cli("export", str(reber_run), "--out", str(out), "--format", "litert")
    assert again.returncode == 2
    assert again.stderr.strip().splitlines() == [
        "Error: --format litert: litert_torch is not installed: "
        "pip install 'rnnzoo[litert]' (litert-torch)"
    ]
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before


def stream_tflite(path, x: np.ndarray, n_inputs: int) -> np.ndarray:
    """``x`` streamed through a ``.tflite`` step by its signature, whose tensors are named as
    ``model.step.onnx``'s (``input``, ``state_0``… → ``output``, ``state_0_out``…)."""
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_path=str(path)).get_signature_runner()
    details = runner.get_input_details()
    names = ["input", *(f"state_{i}" for i in range(n_inputs - 1))]
    assert sorted(details) == sorted(names), details
    feeds = {n: np.zeros(details[n]["shape"], np.float32) for n in names}
    outputs = []
    for t in range(x.shape[1]):
        feeds["input"] = x[:, t]
        got = runner(**feeds)
        feeds.update({n: got[f"{n}_out"] for n in names[1:]})
        outputs.append(got["output"])
    return np.stack(outputs, 1)


def stream_onnx(path, x: np.ndarray) -> np.ndarray:
    session = onnxruntime.InferenceSession(str(path))
    inputs = session.get_inputs()
    feeds = {i.name: np.zeros([1 if isinstance(d, str) else d for d in i.shape], np.float32)
             for i in inputs[1:]}  # fmt: skip
    outputs = []
    for t in range(x.shape[1]):
        y, *new = session.run(None, {"input": x[:, t], **feeds})
        feeds = dict(zip(feeds, new))
        outputs.append(y)
    return np.stack(outputs, 1)


@pytest.mark.skipif(not MICRO, reason="needs rnnzoo[litert] and rnnzoo[micro] (not installed)")
def test_the_step_runs_on_litert_and_tflite_micro(tmp_path, reber_run, cli):
    out = tmp_path / "export"
    exported = cli("export", str(reber_run), "--out", str(out), "--format", "micro",
                   "--quantize", "int8", "--runtime", "onnxruntime")  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    card = json.loads((out / "card.json").read_text())
    litert, micro = card["targets"]["litert"], card["targets"]["micro"]
    assert litert["status"] == "ok" and micro["status"] == "ok", card["targets"]
    assert "FULLY_CONNECTED" in micro["operators"] and micro["arena_bytes"] > 0
    data = (out / "model.step.tflite").read_bytes()
    header = (out / "model_data.h").read_text()
    assert micro["flash_bytes"] == len(data) and f"g_model_len = {len(data)};" in header
    model_h = (out / "micro_model.h").read_text()
    assert f"#define RZ_TFLM_N_OPS {len(micro['operators'])}" in model_h
    assert "(r).AddFullyConnected();" in model_h and "#define RZ_CLASSES 2" in model_h
    n_inputs = 1 + len(card["state_sizes"]) + len(card["streaming_state_sizes"])
    given = re.search(r"kInput = (\d+).*\n.*\n.*kStateIn\[kStates \+ 1\] = \{([-\d, ]*)\}", model_h)
    indices = [int(given.group(1)), *map(int, given.group(2).split(","))][:-1]
    assert sorted(indices) == list(range(n_inputs))  # every input addressed once
    assert (out / "micro_step.cc").read_text() == (FIRMWARE / "micro_step.cc").read_text()
    assert (
        f"g_model_len = {(out / 'model.step.int8.tflite').stat().st_size};"
        in (out / "model_data.int8.h").read_text()
    )

    integer = litert["integer"]  # full-integer copies, calibrated on training sequences
    fp32_loss = integer["fp32"]["test_metrics"]["loss"]
    for suffix, drift in (("int8", 0.1), ("int16x8", 0.02)):
        assert (out / integer[suffix]["file"]).is_file()
        loss = integer[suffix]["test_metrics"]["loss"]
        assert abs(loss - fp32_loss) <= drift * fp32_loss, (suffix, loss, fp32_loss)

    for suffix in ("int8", "int16x8"):  # the integer files on TFLM's integer kernels
        on_micro = micro["integer"][suffix]
        assert on_micro["arena_bytes"] > 0 and on_micro["file"] == integer[suffix]["file"]
        loss = on_micro["test_metrics"]["loss"]
        assert abs(loss - integer[suffix]["test_metrics"]["loss"]) <= 0.01 * loss, suffix

    x = np.asarray(json.loads((out / "example.json").read_text())["input"], np.float32)[:1]
    tflite = stream_tflite(out / "model.step.tflite", x, n_inputs)
    onnx_steps = stream_onnx(out / "model.step.onnx", x)
    np.testing.assert_allclose(tflite, onnx_steps, rtol=1e-5, atol=1e-5)

    # `verify` streams the example through every target file against onnxruntime's step
    verified = cli("verify", str(out), "--runtime", "litert", "--runtime", "micro",
                   "--json")  # fmt: skip
    assert verified.returncode == 0, verified.stdout + verified.stderr
    report = json.loads(verified.stdout)
    files = ["model.step.tflite", "model.step.int8.tflite", "model.step.int16x8.tflite"]
    assert report["litert"]["files"] == dict.fromkeys(files, "ok"), report
    if "cores" in micro["chip"]:
        files += ["micro_step.cc + model_data.h on m4", "micro_step.cc + model_data.int8.h on m4"]
    assert report["micro"]["files"] == dict.fromkeys(files, "ok"), report
    # another file in its place: the checksum refuses it; with the checksum forged to match,
    # the numbers do
    wrong = (out / "model.step.int16x8.tflite").read_bytes()
    (out / "model.step.tflite").write_bytes(wrong)
    damaged = cli("verify", str(out), "--runtime", "litert")
    assert damaged.returncode == 2 and "model.step.tflite: damaged" in damaged.stderr
    manifest = out / "checksums.sha256"
    forged = re.sub(r"\w{64}(?=  model\.step\.tflite\n)", hashlib.sha256(wrong).hexdigest(),
                    manifest.read_text())  # fmt: skip
    manifest.write_text(forged)
    differs = cli("verify", str(out), "--runtime", "litert")
    assert differs.returncode == 1 and "differs by" in differs.stdout, differs.stdout


def example_windows(model_h: str) -> list[np.ndarray]:
    """The example windows ``micro_model.h`` holds for ``micro_step.cc``'s main()."""
    steps = [int(v) for v in re.search(r"kExampleSteps\[\w+\] = \{([\d, ]*)\}", model_h)
             .group(1).split(",")]  # fmt: skip
    body = re.search(r"kExample\[[^]]*\] = \{(.*?)\};", model_h, re.S).group(1)
    values = np.array([float(v.rstrip("f")) for v in body.replace("\n", "").split(",")],
                      np.float32)  # fmt: skip
    rows = values.reshape(sum(steps), -1)
    return np.split(rows, np.cumsum(steps)[:-1])


@pytest.mark.skipif(not MICRO, reason="needs rnnzoo[litert] and rnnzoo[micro] (not installed)")
def test_the_tflm_example_is_built_and_run_on_the_emulated_m4(tmp_path, reber_run, cli):
    """Where the Arm toolchain, QEMU and TFLM's sources (RNNZOO_TFLM_DIR) are here: the export
    builds micro_step.cc into a firmware for the Cortex-M4F, its arena is the 32-bit core's
    (smaller than the host's), and micro_step.cc compiled as it ships, with its own main(),
    prints onnxruntime's answers for the example windows — fp32 and int8 alike."""
    reason = chip_missing()
    if reason:
        pytest.skip(reason)
    out = tmp_path / "export"
    exported = cli("export", str(reber_run), "--out", str(out), "--format", "micro",
                   "--quantize", "int8", "--runtime", "onnxruntime")  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    micro = json.loads((out / "card.json").read_text())["targets"]["micro"]
    m4 = micro["chip"]["cores"]["m4"]
    assert m4["fp32"]["status"] == "ok" and m4["fp32"]["max_diff"] <= 1e-5, m4
    model_h = (out / "micro_model.h").read_text()
    for variant, host in (("fp32", micro["arena_bytes"]),
                          ("int8", micro["integer"]["int8"]["arena_bytes"])):  # fmt: skip
        arena = m4[variant]["arena_bytes"]
        assert 0 < arena < host, (variant, arena, host)
        assert f"kArenaSize = {arena};  // measured on the Cortex-M4F (mps2-an386)" in model_h
        assert f"micro: mps2-an386 (m4, {variant}): flash" in exported.stdout
    windows = example_windows(model_h)
    expected = [stream_onnx(out / "model.step.onnx", w[None])[0, -1] for w in windows]
    labels = json.loads((out / "card.json").read_text())["labels"]
    for int8 in (False, True):
        printed = build_example(out, int8=int8)
        scores = [line for line in printed if " step " in line]
        classes = [line.split("class: ")[1] for line in printed if "class: " in line]
        assert len(scores) == len(windows) == len(classes), printed
        got = [np.array(line.split(":")[1].split(), np.float32) for line in scores]
        if not int8:
            np.testing.assert_allclose(got, expected, atol=2e-5)
        assert classes == [labels[int(e.argmax())] for e in expected], (int8, printed)


@pytest.mark.skipif(not INSTALLED, reason="needs rnnzoo[litert] (not installed)")
def test_a_model_without_a_step_is_refused_in_one_line(tmp_path, cli):
    run = tmp_path / "run"
    trained = cli("train", "--task", "sine", "--cell", "gru", *SMALL, "--bidirectional",
                  "--out", str(run))  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    refused = cli("export", str(run), "--out", str(tmp_path / "x"), "--format", "litert")
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [
        "Error: --format litert exports the step model: a bidirectional model has none"
    ]


@pytest.mark.skipif(
    importlib.util.find_spec("executorch") is None,
    reason="needs rnnzoo[executorch] (not installed)",
)
def test_the_step_runs_on_executorch(tmp_path, reber_run, cli):
    import torch
    from executorch.runtime import Runtime

    out = tmp_path / "export"
    exported = cli("export", str(reber_run), "--out", str(out), "--format", "executorch",
                   "--runtime", "onnxruntime")  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    card = json.loads((out / "card.json").read_text())
    assert card["targets"]["executorch"]["status"] == "ok", card["targets"]
    method = Runtime.get().load_program(str(out / "model.step.pte")).load_method("forward")
    x = np.asarray(json.loads((out / "example.json").read_text())["input"], np.float32)[:1]
    feeds = [torch.zeros(1, 1, size) for size in card["state_sizes"]]
    outputs = []
    for t in range(x.shape[1]):
        y, *feeds = method.execute([torch.from_numpy(x[:, t]), *feeds])
        outputs.append(y.numpy())
    onnx_steps = stream_onnx(out / "model.step.onnx", x)
    np.testing.assert_allclose(np.stack(outputs, 1), onnx_steps, rtol=1e-5, atol=1e-5)
    verified = cli("verify", str(out), "--runtime", "executorch", "--json")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert json.loads(verified.stdout)["executorch"]["files"] == {"model.step.pte": "ok"}


def registered_cells() -> list[str]:
    from rnnzoo.registry import list_cells

    return list_cells()


@pytest.mark.skipif(
    not MICRO or importlib.util.find_spec("executorch") is None,
    reason="needs rnnzoo[litert], rnnzoo[micro] and rnnzoo[executorch] (not installed)",
)
@pytest.mark.parametrize("cell", registered_cells())
def test_every_cell_runs_on_every_edge_target(tmp_path, cell, cli):
    """Each registered cell (plugins included, where installed), two layers, through each
    converter: the step on LiteRT, TFLM and ExecuTorch matches PyTorch (the card's status is
    the export's own check: states fed, then a streamed test sequence) and `verify` agrees. A
    step with an operator TFLM has no kernel for is one line naming it; LiteRT and ExecuTorch
    then take it."""
    run, out = tmp_path / "run", tmp_path / "export"
    trained = cli("train", "--task", "sine", "--cell", cell, *SMALL, "--layers", "2",
                  "--out", str(run))  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    formats = ["--format", "micro", "--format", "executorch"]
    exported = cli("export", str(run), "--out", str(out), *formats, "--runtime", "onnxruntime")
    if cell in NOT_ON_MICRO:
        assert exported.returncode == 2 and not out.exists()
        assert exported.stderr.strip().splitlines() == [
            f"Error: TensorFlow Lite Micro has no kernel for {NOT_ON_MICRO[cell]}, which this "
            "model's step uses; export it with --format litert, executorch or c instead"
        ]
        formats = ["--format", "litert", "--format", "executorch"]
        exported = cli("export", str(run), "--out", str(out), *formats, "--runtime", "onnxruntime")
    assert exported.returncode == 0, exported.stderr
    targets = json.loads((out / "card.json").read_text())["targets"]
    expected = ["executorch", "litert"] + ([] if cell in NOT_ON_MICRO else ["micro"])
    assert {t: targets[t]["status"] for t in targets} == dict.fromkeys(expected, "ok"), targets
    verified = cli("verify", str(out), *(f"--runtime={t}" for t in expected))
    assert verified.returncode == 0, verified.stdout


# the operators TensorFlow Lite Micro (tflite-micro 0.dev20261023) has no kernel for, by cell:
# GELU (LRU's output, the xLSTM blocks' MLP); SELECT (`torch.where`, and softplus, which
# PyTorch writes with a threshold branch)
NOT_ON_MICRO = {"lru": "GELU", "minlstm": "SELECT", "mlstm": "SELECT", "slstm": "SELECT"}


def shelf_with_targets() -> list[str]:
    from rnnzoo.runtime import zoo

    return [r["name"] for r in zoo.catalogue() if r.get("edge") and r["folder"].startswith(
        str(zoo.BUILT_IN))]  # fmt: skip


@pytest.mark.skipif(
    not MICRO or importlib.util.find_spec("executorch") is None,
    reason="needs rnnzoo[litert], rnnzoo[micro] and rnnzoo[executorch] (not installed)",
)
@pytest.mark.parametrize("name", shelf_with_targets())
def test_the_shelf_edge_files_give_their_numbers_here(name):
    """Each shelf model's edge files streamed over its example against onnxruntime's step
    (`verify`): the fp32 files give its numbers, the integer files run and stay within the
    integer goals but sine's int8 (its MSE more than doubles: README)."""
    from rnnzoo.runtime import Model

    model = Model(name)
    report = model.verify(["litert", "micro", "executorch"])
    from rnnzoo.registry import target as find_target

    asked = {"litert", "micro", "executorch"}  # the C target: tests/test_c_target.py
    for target in model.card["targets"]:  # the shelf's older cards name TFLM tflite-micro
        if find_target(target).name not in asked:
            continue
        files = report[find_target(target).name]["files"]
        # the firmware runs on an emulated core (where the toolchain is here): test_edge's
        # export tests and the chip stage; gunpoint's fp32 differs there by float32 rounding
        files = {f: s for f, s in files.items() if " on " not in f}
        drifting = {f: s for f, s in files.items() if name == "sine" and ".int8." in f}
        assert all(s.startswith("drifts by") for s in drifting.values()), drifting
        rest = {f: s for f, s in files.items() if f not in drifting}
        assert rest and set(rest.values()) == {"ok"}, (target, files)
