"""``Model``: an export folder (or one ``.onnx`` file) opened with onnxruntime; its card,
validated, says which family's runner uses the files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from rnnzoo import card as cards
from rnnzoo import checksums
from rnnzoo.errors import RuntimeInputError
from rnnzoo.runtime import zoo
from rnnzoo.runtime.base import Answers, Runner
from rnnzoo.runtime.session import open_session


def runner_class(card: dict[str, Any], source: str) -> type[Runner]:
    """The runtime adapter of the card's family: a built-in one without loading plugins,
    else from the registry."""
    from rnnzoo.params import UnknownNameError
    from rnnzoo.plugins import PluginError
    from rnnzoo.registry import builtin_families, family_entry

    try:
        entry = builtin_families().get(card["family"]) or family_entry(card["family"])
        return entry.load_runtime()
    except (UnknownNameError, PluginError) as error:
        raise RuntimeInputError(f"{source}: {error}") from None


def read_card(text: str, source: str) -> dict[str, Any]:
    """A card from JSON text, upgraded to the current format and validated."""
    from rnnzoo.params import UnknownNameError
    from rnnzoo.registry import builtin_families, family_for_kind

    def family_of_kind(kind: str) -> str:
        builtin = [f.name for f in builtin_families().values() if kind in f.kinds]
        try:
            return builtin[0] if builtin else family_for_kind(kind).name
        except UnknownNameError as error:
            raise RuntimeInputError(f"{source}: {error}") from None

    card = cards.upgrade(cards.parse(text, source), family_of_kind, source)
    cards.validate(card, source)
    runner = runner_class(card, source)
    card = runner.upgrade(card)
    cards.check_fields(card, source, runner.card_fields)
    runner.check_card(card, source)
    return card


class Model:
    """An exported rnnzoo model: its card, and the runner of its family.

    ``path`` is an export folder from ``rnnzoo export``, one ``.onnx`` file (its card is in
    its metadata) or the name of a model on the shelf (``rnnzoo zoo``); ``int8`` opens the
    int8 graphs of a folder exported with ``--quantize int8``.
    """

    def __init__(self, path: str | Path, threads: int | None = None, int8: bool = False):
        path = zoo.find(path)
        if path.is_dir():
            card_file = path / "card.json"
            if not card_file.is_file():
                raise RuntimeInputError(
                    f"{path}: no card.json, so not an rnnzoo export; export a run with "
                    "`rnnzoo export RUN --out DIR`"
                )
            digests = checksums.recorded(path)  # None: exported before checksums
            try:
                data = card_file.read_bytes()
                if digests is not None:
                    checksums.check_file(path, card_file.name, digests, data)
                text = data.decode()
            except (OSError, UnicodeDecodeError) as error:
                raise RuntimeInputError(f"{card_file}: cannot read it ({error})") from None
            self.card = read_card(text, str(card_file))
            listed = self.card.get("files")
            if digests is None and isinstance(listed, dict) and checksums.MANIFEST in listed:
                raise RuntimeInputError(
                    f"{path / checksums.MANIFEST}: missing, though the card lists it; "
                    f"{checksums.AGAIN}"
                )
            runner = runner_class(self.card, str(path))
            files = runner.files(path, int8)
            if not files["main"].is_file():
                hint = " (export with --quantize int8)" if int8 else ""
                raise RuntimeInputError(f"{path}: no {files['main'].name} in this folder{hint}")
            files = {role: file for role, file in files.items() if file.is_file()}
            if digests is not None:  # the files it opens, once: cheap
                for file in files.values():
                    checksums.check_file(path, file.name, digests)
            sessions = {
                role: open_session(file, threads, step=role == "step")
                for role, file in files.items()
            }
        else:
            session = open_session(path, threads)
            props = session.get_modelmeta().custom_metadata_map
            if "rnnzoo_card" not in props:
                raise RuntimeInputError(
                    f"{path}: no rnnzoo model card in its metadata; export the model "
                    "with `rnnzoo export`"
                )
            self.card = read_card(props["rnnzoo_card"], str(path))
            runner, sessions = runner_class(self.card, str(path)), {"main": session}
            files = {"main": path}
        self.folder = path if path.is_dir() else path.parent
        self.runner: Runner = runner(self.card, sessions, files)
        self.runner.check_graphs(str(path))

    def __repr__(self) -> str:
        c = self.card
        size = cards.stack_size(c["layers"], c["hidden"], c["bidirectional"])
        inputs, outputs = [i["name"] for i in c["inputs"]], [o["name"] for o in c["outputs"]]
        return (
            f"Model({str(self.folder)!r}: {c['kind']} {c['cell']} {size} on {c['task']},"
            f" inputs {inputs}, outputs {outputs})"
        )

    @property
    def kind(self) -> str:
        return self.card["kind"]

    @property
    def labels(self) -> list[str] | None:
        return self.card["labels"]

    @property
    def session(self):
        return self.runner.session

    @property
    def step_session(self):
        return self.runner.step_session

    def predict(self, x: Any, lengths: Any = None) -> np.ndarray:
        """Whole sequences ``(batch, time, *step)`` → the output (sequence family)."""
        return self.runner.predict(x, lengths)

    def stream(self) -> Any:
        """A ``Stream`` that takes one time step per call (unidirectional sequence models)."""
        return self.runner.stream()

    def describe(self, prediction: np.ndarray) -> list[Any]:
        """Class names for classifiers, else the values."""
        return self.runner.describe(prediction)

    def translate(self, texts: list[str], beam: int = 1) -> list[str]:
        """Texts → texts (encoder–decoder models)."""
        return self.runner.translate(texts, beam)

    def caption(self, x: Any, beam: int = 1) -> list[str]:
        """Arrays → texts (vector → sequence models)."""
        return self.runner.caption(x, beam)

    def verify(self, runtimes: list[str] | None = None) -> dict[str, Any]:
        """Run the export's files on other runtimes (default: every one installed here) and
        compare them with onnxruntime on the export's example inputs: on the target machine,
        whether its runtime gives the numbers this export was verified with; then the card's
        edge targets (``rnnzoo.targets``: LiteRT, TensorFlow Lite Micro, ExecuTorch, C) where
        installed
        (``rnnzoo.runtime.edge.verify``). Returns the same report the card's ``runtimes``
        holds. First every file is checked against the checksums recorded at export, and the
        main graph against its test data (PyTorch's outputs): a damaged export is one
        ``RuntimeInputError`` line."""
        from rnnzoo.runtime.edge import is_target
        from rnnzoo.runtime.engines import compare
        from rnnzoo.runtime.testdata import check_test_data

        digests = checksums.recorded(self.folder)
        if digests is not None:
            checksums.check_every_file(self.folder, digests)
        check_test_data(self.folder, type(self.runner).files(self.folder, int8=False)["main"])
        onnx = [n for n in runtimes or [] if not is_target(n)]
        edge = [n for n in runtimes or [] if is_target(n)]
        feeds = {}
        twins = type(self.runner).files(self.folder, int8=True)  # the int8 files, if any
        for role, cases in self.runner.sample_feeds(self.folder).items():
            feeds[self.runner.files[role].name] = cases
            if twins[role] != self.runner.files[role] and twins[role].is_file():
                feeds[twins[role].name] = cases  # the same inputs as their fp32 twin
        report = compare(self.folder, feeds, names=onnx) if onnx or not edge else {}
        if edge or not onnx:
            report.update(self.runner.verify_targets(self.folder, edge))
        return report

    def answer_file(self, path: str | Path, beam: int = 1) -> Answers:
        """Answers to a file of inputs in whatever format the model's family reads."""
        return self.runner.answer_file(path, beam)
