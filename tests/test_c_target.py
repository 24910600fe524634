"""The plain-C target (``--format c``): the step graph as C99 that gcc and clang compile without
a warning, giving onnxruntime's numbers here; two models in one program; an operator it has no
kernel for said in one line. The runs on emulated Cortex-M cores (QEMU) are marked ``chip``:
``.ci/run`` installs the Arm toolchain and QEMU and runs them with ``-m chip``."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from rnnzoo.errors import UserError
from rnnzoo.targets.csource import generate
from tests.conftest import every_cell, run_cli

SMALL = ["--param", "n_train=64", "--param", "n_test=16", "--hidden", "8", "--epochs", "1"]
WARNINGS = ["-std=c99", "-Wall", "-Wextra", "-pedantic", "-Werror"]
COMPILERS = [c for c in ("gcc", "clang", "arm-none-eabi-gcc") if shutil.which(c)]
ARM = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"]


def chip_missing() -> str | None:
    from rnnzoo.targets.chip import toolchain_missing

    return toolchain_missing(count=True)


def trained(folder: Path, task: str, cell: str, *extra: str) -> Path:
    run = folder / f"{task}-{cell}"
    done = run_cli("train", "--task", task, "--cell", cell, *SMALL, "--layers", "2", *extra,
                   "--out", str(run))  # fmt: skip
    assert done.returncode == 0, done.stderr
    return run


@pytest.fixture(scope="module")
def reber_gru(tmp_path_factory):
    return trained(tmp_path_factory.mktemp("c"), "reber", "gru")


@pytest.mark.slow
@pytest.mark.parametrize("cell", every_cell())
def test_every_cell_exports_as_c_that_gives_onnxruntimes_numbers(tmp_path, cell, cli):
    run = trained(tmp_path, "reber", cell)
    out = tmp_path / "export"
    exported = cli("export", str(run), "--out", str(out), "--format", "c",
                   "--runtime", "onnxruntime")  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    entry = json.loads((out / "card.json").read_text())["targets"]["c"]
    assert entry["status"] == "ok", entry
    assert entry["max_diff_streamed"] <= 1e-5 and entry["max_diff_states_fed"] <= 1e-5
    assert "c: model.step.c + model.step.h" in exported.stdout
    for compiler in COMPILERS:  # warning-free with every compiler here
        flags = ARM if compiler.startswith("arm") else []
        source, target = str(out / "model.step.c"), str(tmp_path / "step.o")
        command = [compiler, *WARNINGS, *flags, "-O2", "-c", source, "-o", target]
        built = subprocess.run(command, capture_output=True, text=True)
        assert built.returncode == 0, (compiler, built.stderr)
    verified = cli("verify", str(out), "--runtime", "c", "--json")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    files = json.loads(verified.stdout)["c"]["files"]
    assert files["model.step.c"] == "ok" and set(files.values()) == {"ok"}, files


@pytest.mark.slow
def test_int8_weights_are_a_quarter_and_keep_the_metric(tmp_path, reber_gru, cli):
    out = tmp_path / "export"
    exported = cli("export", str(reber_gru), "--out", str(out), "--format", "c",
                   "--quantize", "int8", "--runtime", "onnxruntime")  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    entry = json.loads((out / "card.json").read_text())["targets"]["c"]
    int8 = entry["integer"]["int8"]
    assert int8["weight_bytes"] < 0.5 * entry["weight_bytes"]  # biases and scales stay float
    assert abs(int8["test_metrics"]["accuracy"] - entry["test_metrics"]["accuracy"]) <= 0.05
    assert "model.step.int8.c" in (out / "card.json").read_text()
    verified = cli("verify", str(out), "--runtime", "c", "--json")
    assert json.loads(verified.stdout)["c"]["files"]["model.step.int8.c"] == "ok"


def test_two_models_link_into_one_program(tmp_path, reber_gru):
    """No global mutable state, every symbol but the API static: two exports (here the same
    step under two prefixes) in one program, each stream its own state."""
    graph = onnx.load(str(next_export(tmp_path, reber_gru) / "model.step.onnx"))
    for prefix in ("first", "second"):
        model = generate(graph, prefix, header_name=f"{prefix}.h")
        (tmp_path / f"{prefix}.c").write_text(model.source)
        (tmp_path / f"{prefix}.h").write_text(model.header)
    (tmp_path / "main.c").write_text("""
#include <stdio.h>
#include "first.h"
#include "second.h"
int main(void) {
  first_state a; second_state b;
  float x[FIRST_INPUT_SIZE] = {0}, ya[FIRST_OUTPUT_SIZE], yb[SECOND_OUTPUT_SIZE];
  int t; x[0] = 1.0f;
  first_init(&a); second_init(&b);
  for (t = 0; t < 5; ++t) first_step(&a, x, ya);
  second_step(&b, x, yb);  /* one step from its own start */
  first_reset(&a); first_step(&a, x, ya);
  printf("%.7g %.7g\\n", ya[0], yb[0]);
  return 0;
}
""")
    program = tmp_path / "two"
    built = subprocess.run(["gcc", *WARNINGS, "-O2", "-o", str(program), str(tmp_path / "main.c"),
                            str(tmp_path / "first.c"), str(tmp_path / "second.c"), "-lm"],
                           capture_output=True, text=True)  # fmt: skip
    assert built.returncode == 0, built.stderr
    a, b = map(float, subprocess.run([program], capture_output=True, text=True).stdout.split())
    assert a == pytest.approx(b, abs=1e-6)  # reset gives the first step again; b unaffected by a


def next_export(tmp_path: Path, run: Path) -> Path:
    out = tmp_path / "plain"
    done = run_cli("export", str(run), "--out", str(out), "--runtime", "onnxruntime")
    assert done.returncode == 0, done.stderr
    return out


def test_an_operator_without_a_kernel_is_one_line_naming_it():
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 4])
    y = helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", 4])
    graph = helper.make_graph([helper.make_node("Hardmax", ["input"], ["output"])], "g", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])
    with pytest.raises(UserError) as error:
        generate(model, "m")
    assert str(error.value).startswith("the C target has no kernel for the ONNX operator Hardmax")


@pytest.mark.slow
def test_a_bidirectional_model_has_no_step_to_write_as_c(tmp_path, cli):
    run = trained(tmp_path, "sine", "gru", "--bidirectional")
    refused = cli("export", str(run), "--out", str(tmp_path / "x"), "--format", "c")
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [
        "Error: --format c exports the step model: a bidirectional model has none"
    ]
    assert not (tmp_path / "x").exists()


def test_the_chip_run_is_skipped_with_its_reason_without_the_toolchain(tmp_path, reber_gru, cli):
    hidden = tmp_path / "bin"  # this machine's programs but the Arm toolchain and QEMU
    hidden.mkdir()
    for folder in ("/usr/local/bin", "/usr/bin", "/bin"):
        for program in Path(folder).glob("*"):
            arm = program.name.startswith(("arm-none-eabi", "qemu"))
            if not arm and not (hidden / program.name).exists():
                (hidden / program.name).symlink_to(program)
    out = tmp_path / "export"
    env = {"PATH": f"{Path(sys.executable).parent}:{hidden}"}
    exported = cli("export", str(reber_gru), "--out", str(out), "--format", "c",
                   "--runtime", "onnxruntime", env=env)  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    chip = json.loads((out / "card.json").read_text())["targets"]["c"]["chip"]
    assert chip == {
        "skipped": "arm-none-eabi-gcc is not installed (Debian package gcc-arm-none-eabi)"
    }
    assert "c: not run on a Cortex-M: arm-none-eabi-gcc is not installed" in exported.stdout


# ---- on the emulated chip -------------------------------------------------------------------


@pytest.mark.chip
@pytest.mark.parametrize("cell", every_cell())
def test_every_cell_streams_on_an_emulated_cortex_m4_and_m7(tmp_path, cell, cli):
    reason = chip_missing()
    if reason:
        pytest.skip(reason)
    run = trained(tmp_path, "reber", cell)
    out = tmp_path / "export"
    exported = cli("export", str(run), "--out", str(out), "--format", "c",
                   "--runtime", "onnxruntime")  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    chip = json.loads((out / "card.json").read_text())["targets"]["c"]["chip"]
    for core in ("m4", "m7"):
        figures = chip["cores"][core]
        assert figures["status"] == "ok" and figures["max_diff"] <= 1e-5, figures
        assert 0 < figures["model_flash_bytes"] < figures["flash_bytes"]
        assert figures["instructions_per_step"] > 0 and figures["stack_bytes"] > 0
        assert set(figures["test_metrics"]) == {"accuracy", "loss"}
    verified = cli("verify", str(out), "--runtime", "c", "--json")
    files = json.loads(verified.stdout)["c"]["files"]
    assert files == {f: "ok" for f in ("model.step.c", "model.step.c on m4", "model.step.c on m7")}


FAULTY = {
    "a NULL call": ("void (*f)(void) = 0; f();", "UsageFault"),
    "a write to no memory": ("*(volatile float *)0x70000000 = in[0];", "BusFault"),
    "a loop that never ends": ("for (;;) {}", "did not finish within 3 s on mps2-an386"),
}


@pytest.mark.chip
@pytest.mark.parametrize("what", list(FAULTY))
def test_a_faulting_or_hanging_firmware_is_one_line(tmp_path, what):
    reason = chip_missing()
    if reason:
        pytest.skip(reason)
    from rnnzoo.targets import chip

    body, said = FAULTY[what]
    source = tmp_path / "adapter.c"
    source.write_text(f"""#include "rz_model.h"
int rz_init(void) {{ return 0; }}
void rz_reset(void) {{}}
int rz_step(const float *in, float *out) {{ {body} out[0] = in[0]; return 0; }}
unsigned rz_arena_used(void) {{ return 0u; }}
""")
    built = chip.build([source], tmp_path, "m4", in_floats=1, out_floats=1, max_steps_total=2)
    with pytest.raises(UserError) as error:
        chip.run(built.elf, "m4", [np.zeros((2, 1), np.float32)], 1, 1, timeout=3)
    assert said in str(error.value) and "\n" not in str(error.value)


@pytest.mark.chip
def test_weights_that_do_not_fit_the_board_are_one_line(tmp_path):
    reason = chip_missing()
    if reason:
        pytest.skip(reason)
    from rnnzoo.targets import chip

    source = tmp_path / "adapter.c"
    source.write_text("""#include "rz_model.h"
static const float big[1300000] = {1.0f};
int rz_init(void) { return 0; }
void rz_reset(void) {}
int rz_step(const float *in, float *out) { out[0] = in[0] * big[(int)in[0]]; return 0; }
unsigned rz_arena_used(void) { return 0u; }
""")
    with pytest.raises(UserError) as error:
        chip.build([source], tmp_path, "m4", in_floats=1, out_floats=1, max_steps_total=1)
    assert "does not fit mps2-an386's 4 MB of flash" in str(error.value)


@pytest.mark.chip
def test_the_tflm_example_streams_on_an_emulated_cortex_m4(tmp_path):
    """The shelf's micro_step.cc (fp32, int8) built against the TFLM sources RNNZOO_TFLM_DIR
    names, in the same scaffold, on the emulated M4 (without LiteRT installed: the card names
    the operators): fp32 gives onnxruntime's numbers, int8 keeps each sequence's answer; the
    arena is the 32-bit core's own, smaller than the host's."""
    import os

    reason = chip_missing() or (
        None if os.environ.get("RNNZOO_TFLM_DIR") else "RNNZOO_TFLM_DIR is not set"
    )
    if reason:
        pytest.skip(reason)
    from rnnzoo.targets.c import reference_rows, step_widths, worst_difference
    from rnnzoo.targets.micro import run_on_chip

    shelf = Path(__file__).resolve().parents[1] / "exports" / "reber"
    card = json.loads((shelf / "card.json").read_text())
    x = np.asarray(json.loads((shelf / "example.json").read_text())["input"], np.float32)
    rows = [row for row in x]
    graph = onnx.load(str(shelf / "model.step.onnx"))
    expected = reference_rows(graph, rows)
    cache = tmp_path.parent / "tflm-cache"
    fp32 = run_on_chip(shelf, rows, cache=cache)
    assert worst_difference(expected, fp32["outputs"], step_widths(graph)) <= 1e-5
    assert 0 < fp32["arena_bytes"] < card["targets"]["micro"]["arena_bytes"]  # 32-bit
    int8 = run_on_chip(shelf, rows, int8=True, cache=cache)
    answers = [(e[-1, :2].argmax(), g[-1, :2].argmax()) for e, g in zip(expected, int8["outputs"])]
    assert all(a == b for a, b in answers), answers
