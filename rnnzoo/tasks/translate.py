"""Translation (encoder–decoder) from a real parallel corpus: one sentence pair per line,
``source<TAB>target[<TAB>anything]`` — the format of the Tatoeba pairs that manythings.org
publishes as ``fra.txt``, ``deu.txt`` … (the third column, the attribution, is ignored).

Nothing is downloaded: ``--param data_file=PATH`` names the file. As in PyTorch's
seq2seq tutorial, pairs longer than ``max_tokens`` tokens on either side are left out. The
pairs are shuffled once (``seed``) into train / validation / test; the vocabularies come
from the training split only, so a word first seen in the test split reads as ``<unk>``.
"""

from __future__ import annotations

import functools
from itertools import product
from pathlib import Path
from typing import Literal

import numpy as np

from rnnzoo import text
from rnnzoo.errors import UserError
from rnnzoo.tasks.base import Split, TokenSequenceTask, pad_ids, require


def read_pairs(path: Path) -> list[tuple[str, str]]:
    """Sentence pairs of a tab-separated file; a malformed line is refused with its number."""
    if not path.is_file():
        raise UserError(
            f"{path}: no such file (translate reads a tab-separated corpus, "
            "source<TAB>target per line, such as Tatoeba's fra.txt)"
        )
    pairs = []
    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError:
                raise UserError(f"{path}, line {number}: not UTF-8 text") from None
            if not line.strip():
                continue
            columns = line.split("\t")
            if len(columns) < 2:
                raise UserError(f"{path}, line {number}: expected source<TAB>target, found no tab")
            source, target = columns[0].strip(), columns[1].strip()
            if not source or not target:
                raise UserError(f"{path}, line {number}: empty source or target sentence")
            pairs.append((source, target))
    if not pairs:
        raise UserError(f"{path}: no sentence pairs in this file (expected source<TAB>target)")
    return pairs


def write_example_corpus(path: Path) -> Path:
    """A small corpus in this format for smoke tests: English → French phrases whose words
    translate one by one, the adjective moving behind the noun (learnable from a few hundred
    pairs)."""
    colors = {"red": "rouge", "green": "vert", "black": "noir", "small": "petit", "big": "grand"}
    nouns = {"cat": "chat", "dog": "chien", "car": "camion", "boat": "bateau", "horse": "cheval"}
    verbs = {"sleeps": "dort", "runs": "court", "waits": "attend", "eats": "mange"}
    attribution = "CC-BY 2.0 (France) Attribution: tatoeba.org #1 (test) & #2 (test)"
    lines = [
        f"The {c} {n} {v}.\tLe {nouns[n]} {colors[c]} {verbs[v]}.\t{attribution}"
        for c, n, v in product(colors, nouns, verbs)
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class Translate(TokenSequenceTask):
    smoke_params = {"max_pairs": 300}
    path_params = ("data_file",)

    @classmethod
    def smoke_data(cls, folder: Path) -> dict:
        corpus = write_example_corpus(folder / "corpus.tsv")
        return {**cls.smoke_params, "data_file": str(corpus)}

    defaults = {"hidden": 256, "epochs": 20, "batch_size": 64, "lr": 2e-3}

    def __init__(
        self,
        data_file: str = "",
        tokens: Literal["word", "char"] = "word",
        lowercase: bool = True,
        max_tokens: int = 10,
        max_pairs: int = 0,
        min_count: int = 1,
        reverse: bool = False,
        test_fraction: float = 0.1,
        seed: int = 42,
    ):
        super().__init__()
        require(
            bool(data_file),
            "translate needs --param data_file=PATH: a tab-separated corpus, "
            "source<TAB>target per line (e.g. Tatoeba's fra.txt)",
        )
        require(max_tokens >= 1, "max_tokens must be >= 1")
        require(max_pairs >= 0, "max_pairs must be >= 0 (0 keeps every pair)")
        require(min_count >= 1, "min_count must be >= 1")
        require(0 < test_fraction < 0.5, "test_fraction must lie between 0 and 0.5")
        self.data_file, self.max_tokens, self.max_pairs = Path(data_file), max_tokens, max_pairs
        self.min_count, self.reverse, self.test_fraction = min_count, reverse, test_fraction
        self.seed, self.lowercase = seed, lowercase
        self.source_tokens = self.target_tokens = tokens
        self.preprocessing = (
            f"{'lower-cased ' if lowercase else ''}{tokens} tokens as ids of source_vocab "
            "(0 pads, 3 is <unk>)"
        )

    def data_files(self) -> list[Path]:
        return [self.data_file]  # the vocabularies come from it

    def tokenized(self) -> list[tuple[list[str], list[str]]]:
        """The corpus's pairs as tokens, the long ones left out, shuffled, capped."""
        pairs = []
        for source, target in read_pairs(self.data_file):
            if self.reverse:
                source, target = target, source
            source = text.tokenize(source, self.source_tokens, self.lowercase)
            target = text.tokenize(target, self.target_tokens, self.lowercase)
            if 0 < len(source) <= self.max_tokens and 0 < len(target) <= self.max_tokens:
                pairs.append((source, target))
        require(
            len(pairs) >= 3,
            f"{self.data_file}: {len(pairs)} pairs of at most {self.max_tokens} tokens; "
            "need at least 3 (raise max_tokens?)",
        )
        order = np.random.default_rng(self.seed).permutation(len(pairs))
        if self.max_pairs:
            order = order[: self.max_pairs]
        return [pairs[i] for i in order]

    @functools.cached_property
    def _parts(self) -> dict[str, list[tuple[list[str], list[str]]]]:
        """The tokenized pairs of each split, read once per task object."""
        pairs = self.tokenized()
        n_test = max(1, round(len(pairs) * self.test_fraction))
        parts = {
            "test": pairs[:n_test],
            "validation": pairs[n_test : 2 * n_test],
            "train": pairs[2 * n_test :],
        }
        require(len(parts["train"]) >= 1, f"{self.data_file}: too few pairs for a training split")
        return parts

    @functools.cached_property
    def source_vocab(self) -> list[str]:
        """From the training split only: a word first seen in the test split reads as <unk>."""
        return text.build_vocab((s for s, _ in self._parts["train"]), self.min_count)

    @functools.cached_property
    def target_vocab(self) -> list[str]:
        return text.build_vocab((t for _, t in self._parts["train"]), self.min_count)

    @functools.cached_property
    def target_length(self) -> int:
        """The longest target of any split, and the end token."""
        return max(len(t) for part in self._parts.values() for _, t in part) + 1

    def load(self) -> dict[str, Split]:
        source_index = {t: i for i, t in enumerate(self.source_vocab)}
        target_index = {t: i for i, t in enumerate(self.target_vocab)}
        splits = {}
        for name, part in self._parts.items():
            x, lengths = pad_ids([text.to_ids(s, source_index) for s, _ in part])
            targets = [text.to_ids(t, target_index) + [text.EOS] for _, t in part]
            y, _ = pad_ids(targets, self.target_length)
            splits[name] = Split(x, y, lengths)
        return splits
