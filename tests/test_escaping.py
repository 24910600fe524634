"""Class names from a user's file are data wherever they are shown: escaped in the export's
README (HTML, Markdown) and printed without their terminal escape sequences by `predict`."""

import csv
import json

import pytest

from rnnzoo.escaping import markdown, printable
from tests.test_generic_tasks import long_csv, train_export

HOSTILE = ["<script>alert(1)</script>", "\x1b]0;pwned\x07\x1b[2J|[x](y)"]


def test_markdown_and_terminal_escaping():
    assert markdown("<img src=x onerror=alert(1)> a|b [l](u) *e*") == (
        "&lt;img src=x onerror=alert(1)&gt; a\\|b \\[l\\](u) \\*e\\*"
    )
    assert printable("a\x1b[2Jb\x9bc\td\n") == "a\\x1b[2Jb\\x9bc\td\n"


@pytest.mark.slow
def test_hostile_labels_reach_the_readme_and_the_terminal_escaped(tmp_path):
    data = long_csv(tmp_path / "train.csv")
    rows = list(csv.reader(data.open()))
    names = {"down": HOSTILE[0], "up": HOSTILE[1]}
    with open(data, "w", newline="") as f:
        csv.writer(f).writerows([rows[0], *([*r[:-1], names[r[-1]]] for r in rows[1:])])
    export = train_export(tmp_path, "classify", data, "--param", "time=time")
    assert sorted(json.loads((export / "card.json").read_text())["labels"]) == sorted(HOSTILE)
    readme = (export / "README.md").read_text()
    assert "<script>" not in readme and "\x1b" not in readme
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in readme
    assert "\\\\x1b\\]0;pwned" in readme  # Markdown for the text \x1b]0;pwned
    from tests.test_generic_tasks import rnnzoo

    result = rnnzoo("predict", str(export), "--input", str(data))
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout and "\\x1b]0;pwned" in result.stdout


def test_labels_in_the_tflm_header_are_c_string_literals():
    from rnnzoo.targets.micro import c_string

    assert c_string('up "quoted" \\ ??= ok') == '"up \\042quoted\\042 \\134 \\077\\077= ok"'
    assert c_string("é\x1b") == '"\\303\\251\\033"'
