"""Text ↔ token ids for the token-sequence tasks (dates, translate, caption) and the runtime.

Torch-free on purpose: the tasks tokenize their training data and the runtime tokenizes a
user's text with this one module, so an export reads text exactly as its model was trained.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

PAD, BOS, EOS, UNK = 0, 1, 2, 3
SPECIALS = ["<pad>", "<bos>", "<eos>", "<unk>"]
WORD = re.compile(r"\w+(?:['’-]\w+)*|[^\w\s]")


def tokenize(text: str, tokens: str, lowercase: bool = False) -> list[str]:
    """``tokens="char"``: one token per character; ``"word"``: words (apostrophes and hyphens
    inside a word keep it whole) and punctuation marks: ``"Don't go, T-Rex!"`` →
    ``["Don't", "go", ",", "T-Rex", "!"]``."""
    if lowercase:
        text = text.lower()
    if tokens == "char":
        return list(text)
    if tokens == "word":
        return WORD.findall(text)
    raise ValueError(f"tokens must be 'char' or 'word', not {tokens!r}")


def separator(tokens: str) -> str:
    """What joins decoded tokens back into text."""
    return "" if tokens == "char" else " "


def build_vocab(texts: Iterable[Sequence[str]], min_count: int = 1) -> list[str]:
    """The specials, then every token seen at least ``min_count`` times, most frequent first
    (ties alphabetical, so the vocabulary depends only on the data)."""
    counts = Counter(token for text in texts for token in text)
    kept = sorted((t for t, n in counts.items() if n >= min_count), key=lambda t: (-counts[t], t))
    return SPECIALS + kept


def to_ids(tokens: Sequence[str], index: dict[str, int]) -> list[int]:
    """Token ids; a token outside the vocabulary becomes ``<unk>``."""
    return [index.get(token, UNK) for token in tokens]


def from_ids(ids: Iterable[int], vocab: Sequence[str], tokens: str) -> str:
    """The text of decoded ids, up to the first end token; other specials are dropped."""
    words = []
    for i in ids:
        if i == EOS:
            break
        if i >= len(SPECIALS):
            words.append(vocab[i])
    return detokenize(words, tokens)


def detokenize(words: Sequence[str], tokens: str) -> str:
    """Join tokens into text, with no space before closing punctuation in word mode."""
    text = separator(tokens).join(words)
    return re.sub(r" ([.,!?;:)])", r"\1", text) if tokens == "word" else text
