"""The generated fault and bad-input cases of ``tests/fuzz_cases.py`` (which explains the
oracles): about 80 at the default depth, over 850 with ``pytest -m fuzz``."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import fuzz_cases as fc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

DEFAULT = fc.cases("default")
DEEP = fc.cases("deep")
CHECKSUM = fc.flipped_weight_cases()


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory) -> fc.Fixtures:
    """A finished tiny sine run and its export, made once and copied by every case."""
    return fc.build_fixtures(tmp_path_factory.mktemp("fuzz-fixtures"))


def check(case: fc.Case, fixtures: fc.Fixtures, root: Path) -> fc.Report:
    report = fc.run_case(case, fixtures, root)
    if report.problems:
        pytest.fail(report.message(), pytrace=False)
    return report


@pytest.mark.parametrize("case", DEFAULT, ids=fc.case_id)
def test_case(case, fixtures, tmp_path):
    check(case, fixtures, tmp_path)


@pytest.mark.fuzz
@pytest.mark.parametrize("case", DEEP, ids=fc.case_id)
def test_case_deep(case, fixtures, tmp_path):
    check(case, fixtures, tmp_path)


@pytest.mark.parametrize("case", CHECKSUM, ids=fc.case_id)
def test_flipped_weight_byte_is_refused(case, fixtures, tmp_path):
    """A flipped byte of tensor data loads as valid floats: only a checksum can tell."""
    report = fc.run_case(case, fixtures, tmp_path)
    assert report.outcome.exit_code == 2, report.message()
    assert "checksum" in report.outcome.stderr, report.message()


# ---------------------------------------------------------------- arrays from Hypothesis


def predict_array_file(fixtures: fc.Fixtures, name: str, data: bytes) -> None:
    case = fc.Case(
        f"hypothesis-{name}",
        ("predict", "exp", "--input", f"in/{name}", "--json"),
        needs=("exp",),
        prepare=(fc.write(f"in/{name}", data),),
    )
    with tempfile.TemporaryDirectory() as root:
        report = fc.run_case(case, fixtures, Path(root))
    assert not report.problems, report.message()


ARRAYS = hnp.arrays(
    dtype=st.one_of(hnp.scalar_dtypes(), hnp.byte_string_dtypes(), hnp.unicode_string_dtypes()),
    shape=hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=21),
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(["input", "lengths", "x"]), inner, max_size=2)
    ),
    max_leaves=40,
)


def deterministic(examples: int):
    return settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


def npy_bytes(array) -> bytes:
    return fc.npy(array, allow_pickle=array.dtype.kind == "O")


def json_bytes(value) -> bytes:
    return json.dumps(value).encode()


@deterministic(15)
@given(array=ARRAYS)
def test_predict_hypothesis_npy(array, fixtures):
    predict_array_file(fixtures, "x.npy", npy_bytes(array))


@deterministic(15)
@given(value=JSON_VALUES)
def test_predict_hypothesis_json(value, fixtures):
    predict_array_file(fixtures, "x.json", json_bytes(value))


@pytest.mark.fuzz
@deterministic(int(os.environ.get("RNNZOO_FUZZ_HYPOTHESIS", "300")))
@given(array=ARRAYS)
def test_predict_hypothesis_npy_deep(array, fixtures):
    predict_array_file(fixtures, "x.npy", npy_bytes(array))


@pytest.mark.fuzz
@deterministic(int(os.environ.get("RNNZOO_FUZZ_HYPOTHESIS", "300")))
@given(value=JSON_VALUES)
def test_predict_hypothesis_json_deep(value, fixtures):
    predict_array_file(fixtures, "x.json", json_bytes(value))
