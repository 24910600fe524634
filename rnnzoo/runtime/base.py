"""What a family's runtime adapter is: the torch-free half of a model family.

A ``Runner`` names the graph files of its family, the card fields it needs (validated before
use), and implements the operations its models support; the others say in one line what to
use instead. ``rnnzoo.runtime.Model`` picks the runner from the card's ``family``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import onnxruntime

from rnnzoo.card import Field
from rnnzoo.errors import RuntimeInputError


@dataclass
class Answers:
    """Readable answers to a file of inputs, as ``rnnzoo predict`` prints them."""

    shown: list[str]  # what each answer is for: an index, or the input text
    answers: list[Any]
    arrow: str = ":"  # between ``shown`` and the answer
    prediction: np.ndarray | None = None  # the raw output, where there is one
    inputs: list[str] | None = None  # the input texts, where there are some
    # the answers as a table (header, rows) with the inputs' ids, for `predict --output X.csv`
    table: tuple[list[str], list[list[Any]]] | None = None
    times: list[list[str]] | None = None  # a forecast's: the time of each of its steps

    def labels(self) -> list[str]:
        """What each answer is for, with the times a forecast spans where there are some."""
        if not self.times:
            return list(self.shown)
        return [f"{s} ({t[0]} to {t[-1]})" for s, t in zip(self.shown, self.times)]

    def to_json(self) -> dict[str, Any]:
        result: dict[str, Any] = {}
        if self.prediction is not None:
            result["prediction"] = self.prediction.tolist()
        if self.inputs is not None:
            result["inputs"] = self.inputs
        if self.table is not None:
            result["ids"] = self.shown
        if self.times is not None:
            result["times"] = self.times
        result["answers"] = self.answers
        return result


class Runner:
    """Base class of runtime adapters. ``graphs`` maps each role to its file stem in an export
    folder (``{"main": "model"}`` → ``model.onnx``; the ``main`` file must exist, the others
    are opened when present); ``int8_roles`` have an int8 twin (``model.int8.onnx``)."""

    graphs: ClassVar[dict[str, str]] = {"main": "model"}
    int8_roles: ClassVar[tuple[str, ...]] = ("main",)
    card_fields: ClassVar[tuple[Field, ...]] = ()

    def __init__(
        self,
        card: dict[str, Any],
        sessions: dict[str, onnxruntime.InferenceSession],
        files: dict[str, Path] | None = None,
    ):
        self.card = card
        self.sessions = sessions
        self.files = files or {}  # the file each session was opened from

    @property
    def session(self) -> onnxruntime.InferenceSession:
        return self.sessions["main"]

    @property
    def step_session(self) -> onnxruntime.InferenceSession | None:
        return self.sessions.get("step")

    @classmethod
    def check_card(cls, card: dict[str, Any], source: str) -> None:
        """Checks of this family's card beyond the types of its fields (one line each)."""

    def check_graphs(self, source: str) -> None:
        """The card against the graphs it describes, once they are open: each input and
        output of a graph that the card names has the card's rank and fixed sizes (as
        :meth:`declared_shape` gives them for that graph); a card that does not is one line."""
        declared = {i["name"]: i["shape"] for i in self.card["inputs"] + self.card["outputs"]}
        for role, session in self.sessions.items():
            for arg in (*session.get_inputs(), *session.get_outputs()):
                if arg.name not in declared:
                    continue
                want = self.declared_shape(role, arg.name, declared[arg.name])
                got = list(arg.shape)
                fixed = [
                    (a, b) for a, b in zip(want, got) if isinstance(a, int) and isinstance(b, int)
                ]
                if len(want) != len(got) or any(a != b for a, b in fixed):
                    self.lies(
                        source, f"{arg.name!r} is {want}, but {self.file_name(role)} has {got}"
                    )

    def declared_shape(self, role: str, name: str, shape: list[Any]) -> list[Any]:
        """The shape the card's ``name`` has in the graph of ``role`` (the default: as the
        card writes it)."""
        return shape

    def file_name(self, role: str) -> str:
        file = self.files.get(role)
        return file.name if file else f"the {role} graph"

    def lies(self, source: str, what: str) -> None:
        raise RuntimeInputError(
            f"{source}: the model card says {what}: it does not describe its graphs; export the"
            " run again (or restore card.json)"
        )

    @classmethod
    def upgrade(cls, card: dict[str, Any]) -> dict[str, Any]:
        """The family's fields of an older card in the current format (format 1 had none of
        its own); the default keeps the card as it is."""
        return card

    @classmethod
    def files(cls, folder: Path, int8: bool) -> dict[str, Path]:
        """The file of each role in an export folder."""
        return {
            role: folder / f"{stem}{'.int8' if int8 and role in cls.int8_roles else ''}.onnx"
            for role, stem in cls.graphs.items()
        }

    def meaning(self, prediction: np.ndarray) -> str:
        """What the answers to ``prediction`` are, in words, for ``rnnzoo predict`` (none
        where the answers say it themselves: texts)."""
        return ""

    def verify_targets(self, folder: Path, names: list[str]) -> dict[str, Any]:
        """The card's edge targets on the export's example (``rnnzoo.runtime.edge``), where
        the family has a step model; ``names`` picks targets (default: all)."""
        return {}

    def sample_feeds(self, folder: Path) -> dict[str, list[dict[str, np.ndarray]]]:
        """Inputs for the file of each role (from the export's ``example.json``), to compare
        runtimes on: ``rnnzoo verify``."""
        raise NotImplementedError

    def unsupported(self, operation: str, instead: str) -> RuntimeInputError:
        return RuntimeInputError(f"a {self.card['kind']} model cannot {operation}; use {instead}")

    def predict(self, x: Any, lengths: Any = None) -> np.ndarray:
        raise self.unsupported("predict on arrays", self.instead())

    def stream(self) -> Any:
        raise self.unsupported("stream", self.instead())

    def translate(self, texts: list[str], beam: int = 1) -> list[str]:
        raise self.unsupported("translate texts", self.instead())

    def caption(self, x: Any, beam: int = 1) -> list[str]:
        raise self.unsupported("caption inputs", self.instead())

    def describe(self, prediction: np.ndarray) -> list[Any]:
        raise self.unsupported("describe a prediction", self.instead())

    def answer_file(self, path: str | Path, beam: int = 1) -> Answers:
        """Read a file of inputs in this family's format and answer each one."""
        raise NotImplementedError

    def instead(self) -> str:
        """The operation this family's models do support, for error messages."""
        return "rnnzoo predict"
