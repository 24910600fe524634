"""The small parallel corpus that the translate task writes for smoke tests (Tatoeba's
fra.txt format: source<TAB>target<TAB>attribution)."""

import tempfile
from pathlib import Path

from rnnzoo.tasks.translate import read_pairs, write_example_corpus

ATTRIBUTION = "CC-BY 2.0 (France) Attribution: tatoeba.org #1 (test) & #2 (test)"


def write_corpus(path: Path) -> Path:
    return write_example_corpus(path)


def pairs() -> list[tuple[str, str]]:
    with tempfile.TemporaryDirectory() as folder:
        return read_pairs(write_example_corpus(Path(folder) / "corpus.tsv"))
