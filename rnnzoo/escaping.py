"""User text on its way to a terminal, Markdown or HTML: class names and column names from a
user's file, run and file names. It is shown as the data it is, never read by what shows it as
an instruction — a terminal's escape sequence (``ESC]0;`` retitles the window, ``ESC[2J`` clears
it), Markdown's links and tables, HTML's tags. Torch-free: the runtime prints labels too."""

from __future__ import annotations

import html
import re

# C0 controls but tab and newline, DEL, C1 controls (ESC is \x1b, CSI \x9b)
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
MARKDOWN = re.compile(r"([\\`*_\[\]|~])")


def printable(text: object) -> str:
    """``text`` for a terminal: every control character as a visible ``\\xNN``."""
    return CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text))


def markdown(text: object) -> str:
    """``text`` for one line of Markdown (a table cell too): HTML escaped, Markdown's marks
    backslashed, line breaks and controls made visible."""
    one_line = printable(str(text).replace("\r\n", " ").replace("\n", " "))
    return MARKDOWN.sub(r"\\\1", html.escape(one_line, quote=False))
