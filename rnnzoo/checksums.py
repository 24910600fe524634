"""An export's checksums: ``checksums.sha256`` beside its files, one line ``SHA256  NAME`` per
file (``sha256sum``'s format, so ``sha256sum -c checksums.sha256`` checks a copy on a machine
without rnnzoo). Torch-free: the exporter writes it, the runtime checks it.

The exporter writes it at the last moment before the staged folder is renamed into place, over
every file then in the folder (``test_data_set_0/*``, files of edge targets, ``card.json`` and
``README.md`` too) except itself: a file cannot hold its own hash, so the manifest is a file of
its own rather than a field of the card, and the card is covered like any other file.
``rnnzoo verify`` checks every line; ``Model`` (``rnnzoo predict``) only the files it loads,
once. An export made before checksums has no manifest and is read without this check.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from rnnzoo.errors import RuntimeInputError
from rnnzoo.files import file_digest, write_text

MANIFEST = "checksums.sha256"
MEANING = "the sha256 of every other file, checked by rnnzoo verify (and sha256sum -c)"
LINE = re.compile(r"(?P<digest>[0-9a-fA-F]{64}) [ *](?P<name>.+)")
AGAIN = "export the run again (`rnnzoo export RUN --out DIR`)"


def write_manifest(folder: Path) -> None:
    """Record the sha256 of every file under ``folder`` (but the manifest) in its manifest."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST)
    lines = [f"{file_digest(p)}  {p.relative_to(folder).as_posix()}" for p in files]
    write_text(folder / MANIFEST, "".join(line + "\n" for line in lines))


def recorded(folder: Path) -> dict[str, str] | None:
    """File name → sha256 as the export recorded them; None for an export without them."""
    path = folder / MANIFEST
    if not path.exists():
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise RuntimeInputError(f"{path}: cannot read it ({error}); {AGAIN}") from None
    digests = {}
    for number, line in enumerate(text.splitlines(), 1):
        match = LINE.fullmatch(line)
        if match is None:
            raise RuntimeInputError(
                f"{path}: line {number} is not 'SHA256  FILE', so the file is damaged; {AGAIN}"
            )
        name = match["name"]
        parts = name.split("/")
        if name.startswith("/") or "\\" in name or any(p in ("", ".", "..") for p in parts):
            raise RuntimeInputError(
                f"{path}: line {number} names {name!r}, which is not a file inside the export; "
                f"the manifest is damaged or was edited: {AGAIN}"
            )
        digests[name] = match["digest"].lower()
    return digests


def check_file(folder: Path, name: str, digests: dict[str, str], data: bytes | None = None) -> None:
    """Refuse ``folder/name`` unless its sha256 (of ``data``, when its bytes are already read)
    is the one recorded."""
    path = folder / name
    expected = digests.get(name)
    if expected is None:
        raise RuntimeInputError(f"{path}: not listed in {MANIFEST}; {AGAIN}")
    if data is None:
        plain_file_inside(folder, path)
    try:
        actual = hashlib.sha256(data).hexdigest() if data is not None else file_digest(path)
    except FileNotFoundError:
        raise RuntimeInputError(f"{path}: missing, though {MANIFEST} lists it; {AGAIN}") from None
    except IsADirectoryError:
        raise RuntimeInputError(
            f"{path}: a folder where the export wrote a file; {AGAIN}"
        ) from None
    if actual != expected:
        raise RuntimeInputError(
            f"{path}: damaged (its sha256 differs from the one {MANIFEST} recorded at export); "
            f"{AGAIN}"
        )


def plain_file_inside(folder: Path, path: Path) -> None:
    """Refuse ``path`` unless it is a plain file inside ``folder`` with no link on the way: a
    manifest names only what the export wrote, and reading a link, a device or a pipe could
    read another file or never end."""
    import stat

    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        raise RuntimeInputError(f"{path}: missing, though {MANIFEST} lists it; {AGAIN}") from None
    if stat.S_ISDIR(mode):
        raise RuntimeInputError(f"{path}: a folder where the export wrote a file; {AGAIN}")
    inside = path.resolve().is_relative_to(folder.resolve())
    if not stat.S_ISREG(mode) or not inside:
        kind = "a symbolic link" if stat.S_ISLNK(mode) else "not a plain file"
        raise RuntimeInputError(
            f"{path}: {kind}, where the export wrote a plain file; rnnzoo reads only the "
            f"export's own files: {AGAIN}"
        )


def check_every_file(folder: Path, digests: dict[str, str]) -> None:
    """Every file the manifest lists, as recorded (the first one that is not: one line)."""
    for name in digests:
        check_file(folder, name, digests)
