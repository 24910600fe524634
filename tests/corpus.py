"""A small parallel corpus in the Tatoeba / fra.txt format (source<TAB>target<TAB>attribution),
written by tests: English → French phrases whose words translate one by one, the adjective
moving behind the noun, so a model can learn it from a few hundred pairs."""

from itertools import product
from pathlib import Path

COLORS = {"red": "rouge", "green": "vert", "black": "noir", "small": "petit", "big": "grand"}
NOUNS = {"cat": "chat", "dog": "chien", "car": "camion", "boat": "bateau", "horse": "cheval"}
VERBS = {"sleeps": "dort", "runs": "court", "waits": "attend", "eats": "mange"}
ATTRIBUTION = "CC-BY 2.0 (France) Attribution: tatoeba.org #1 (test) & #2 (test)"


def pairs() -> list[tuple[str, str]]:
    return [
        (f"The {c} {n} {v}.", f"Le {NOUNS[n]} {COLORS[c]} {VERBS[v]}.")
        for c, n, v in product(COLORS, NOUNS, VERBS)
    ]


def write_corpus(path: Path) -> Path:
    lines = [f"{en}\t{fr}\t{ATTRIBUTION}" for en, fr in pairs()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
