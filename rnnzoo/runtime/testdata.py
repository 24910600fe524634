"""An export's test data (``test_data_set_N/input_K.pb``, ``output_K.pb``: the ONNX Model Zoo
layout) run through its graph on onnxruntime: outputs that are not PyTorch's, as recorded at
export, mean a damaged file, even in an export made before checksums."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rnnzoo.closeness import difference
from rnnzoo.errors import RuntimeInputError
from rnnzoo.runtime.session import first_line, open_session, run

# rnnzoo.closeness's measure: the export is verified within its tolerance on the machine
# that made it; another machine's kernels may round differently, a damaged weight moves far more
TOLERANCE = 1e-4


def read_tensors(folder: Path, prefix: str) -> dict[str, np.ndarray]:
    """The tensors ``PREFIX_0.pb``, ``PREFIX_1.pb``, … of a test data folder, by name."""
    from onnx import TensorProto, numpy_helper

    tensors = {}
    for path in sorted(folder.glob(f"{prefix}_*.pb")):
        proto = TensorProto()
        try:
            proto.ParseFromString(path.read_bytes())
            tensors[proto.name or path.stem] = numpy_helper.to_array(proto)
        except Exception as error:  # protobuf's and onnx's own exception types
            raise RuntimeInputError(
                f"{path}: not a tensor ({first_line(error)}); export the run again"
            ) from None
    return tensors


def check_test_data(folder: Path, graph: Path) -> None:
    """Run ``graph`` on each test data set in ``folder`` and refuse, in one line, outputs
    that differ from the recorded ones (nothing to check where there is no test data)."""
    sets = sorted(p for p in folder.glob("test_data_set_*") if p.is_dir())
    if not sets:
        return
    session = open_session(graph)
    for dataset in sets:
        feeds, expected = read_tensors(dataset, "input"), read_tensors(dataset, "output")
        try:
            outputs = run(session, feeds, list(expected))
        except RuntimeInputError as error:
            raise RuntimeInputError(
                f"{dataset}: {graph.name} cannot run its test data ({error}); export the run again"
            ) from None
        for (name, want), got in zip(expected.items(), outputs):
            diff = difference(want, got)
            if not diff <= TOLERANCE:  # NaN too
                raise RuntimeInputError(
                    f"{graph}: its {name} on {dataset.name} differs from the recorded one by "
                    f"{diff:.2g} (> {TOLERANCE:g}), so a file of the export is damaged; "
                    "export the run again"
                )
