"""``--compile``: the compiled step loop trains to the eager run's numbers, its compile time is
reported apart, and ``auto`` compiles only where it pays."""

import json

import pytest
import torch

import rnnzoo
from rnnzoo.errors import UserError
from rnnzoo.trainer import compiling
from tests.conftest import run_cli

TINY = [
    "train",
    "--task",
    "sine",
    "--cell",
    "mgu",
    "--hidden",
    "8",
    "--epochs",
    "2",
    "--param",
    "n_train=256",
    "--param",
    "n_test=32",
    "--json",
]


@pytest.mark.slow
@pytest.mark.skipif(compiling.compiler() is None, reason="no C++ compiler for inductor here")
def test_a_compiled_run_equals_the_eager_run(tmp_path):
    runs = {}
    for mode in ("on", "off"):
        result = run_cli(*TINY, "--compile", mode, "--out", str(tmp_path / mode), timeout=600)
        assert result.returncode == 0, result.stderr
        runs[mode] = json.loads(result.stdout)
    compiled, eager = runs["on"], runs["off"]
    assert compiled["compile"] == "on" and compiled["compile_seconds"] > 0
    assert eager["compile"] == "off" and eager["compile_seconds"] == 0
    for split in ("validation", "test"):
        for name, value in eager[split].items():
            assert compiled[split][name] == pytest.approx(value, rel=1e-4, abs=1e-6), name


def model_of(cell: str) -> torch.nn.Module:
    return rnnzoo.create_recurrent(cell, 3, 4)


def test_auto_compiles_only_where_it_pays(monkeypatch):
    cpu = torch.device("cpu")
    monkeypatch.setattr(compiling, "compiler", lambda: "g++")
    many = compiling.PAYS_AFTER_STEPS
    assert compiling.decide("auto", model_of("mgu"), many, cpu)[0]
    assert not compiling.decide("auto", model_of("mgu"), many - 1, cpu)[0]
    assert not compiling.decide("auto", model_of("gru"), many, cpu)[0]  # has a fused kernel
    assert compiling.decide("on", model_of("gru"), 1, cpu)[0]
    assert not compiling.decide("off", model_of("mgu"), many, cpu)[0]
    monkeypatch.setattr(compiling, "compiler", lambda: None)
    assert "no C++ compiler" in compiling.decide("auto", model_of("mgu"), many, cpu)[1]
    with pytest.raises(UserError, match="needs a C\\+\\+ compiler"):
        compiling.decide("on", model_of("mgu"), many, cpu)


def test_compile_is_a_training_option(tmp_path):
    from rnnzoo.rundir import config_with_defaults

    assert config_with_defaults("sine", "gru", compile=True).compile == "on"
    assert config_with_defaults("sine", "gru", compile=False).compile == "off"
    with pytest.raises(UserError, match="--compile must be auto, on or off"):
        config_with_defaults("sine", "gru", compile="fast")
