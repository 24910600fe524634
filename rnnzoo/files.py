"""Writing files so that a kill, a full disk or a power cut never leaves a half-written one.

Every file rnnzoo writes goes through ``atomic_write``: the bytes go to a temporary file beside
the target, are flushed to the disk (``fsync``), and one ``rename`` puts them in place, after
which the folder itself is synced. A reader sees the old file or the new one, never a mix, and a
failed write (``ENOSPC``, a kill) leaves the old file as it was. Temporary files a kill left
behind are named ``.NAME.*.tmp`` and removed by ``remove_leftovers``. Files get the permissions
the user's umask gives, like any other program's.

Torch-free: the runtime (``predict --output``) writes through it too.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from rnnzoo.errors import UserError

TEMPORARY = ".*.tmp"  # the temporary files' names (``keep_suffix`` adds the target's suffix)


def cache_dir() -> Path:
    """Where rnnzoo keeps what it can make again (generated data, compiled kernels):
    ``$RNNZOO_CACHE``, default ``~/.cache/rnnzoo``."""
    return Path(os.environ.get("RNNZOO_CACHE", Path.home() / ".cache" / "rnnzoo"))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def file_digest(path: Path) -> str:
    """The sha256 of a file's contents (hex), read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sync_folder(folder: Path) -> None:
    """Make a rename inside ``folder`` survive a power cut (where the OS allows it)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: Path, write: Callable[[str], object], keep_suffix: bool = False) -> None:
    """Call ``write(tmp_path)``, sync the file, then rename it onto ``path``. With
    ``keep_suffix`` the temporary name ends in ``path``'s suffix too (for writers that pick the
    format from it). A ``write`` that returns False wrote nothing, and ``path`` is left alone."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = ".tmp" + (path.suffix if keep_suffix else "")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    try:
        os.close(fd)
        if write(tmp) is False:
            Path(tmp).unlink()
            return
        os.chmod(tmp, 0o666 & ~_umask())
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    sync_folder(path.parent)


def write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def finite_json(value: Any) -> Any:
    """``value`` with every NaN or infinity replaced by ``None``: JSON has no such numbers, and
    a bare ``NaN`` makes a file other programs cannot read."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_json(v) for v in value]
    return value


def parse_json(text: str | bytes) -> Any:
    """``json.loads``, with input nested too deeply for Python's parser (a hostile file) raised
    as the ``ValueError`` of any other malformed JSON."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("nested too deeply to read") from None


def write_json(path: Path, value: Any) -> None:
    write_text(path, json.dumps(finite_json(value), indent=2, allow_nan=False) + "\n")


def remove_leftovers(folder: Path) -> list[Path]:
    """Delete the temporary files that killed writes left in ``folder``; returns them."""
    removed = []
    found = [*Path(folder).glob(TEMPORARY), *Path(folder).glob(TEMPORARY + ".*")]
    for path in found:
        if path.is_file():
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def check_output_path(path: str | Path, what: str = "output") -> Path:
    """Refuse, before any work, an output path that cannot be written: a name that is not
    UTF-8 (it could not be recorded in the JSON files), a parent that is a file or missing, an
    existing folder where a file is wanted. Returns the path."""
    path = Path(path)
    check_name(path, what)
    parent = path.resolve().parent
    if not parent.is_dir():
        blocker = next((p for p in [parent, *parent.parents] if p.exists()), None)
        if blocker is not None and not blocker.is_dir():
            raise UserError(f"{path}: {blocker} is a file, not a folder; choose another {what}")
        raise UserError(f"{path}: its folder {parent} does not exist")
    if path.is_dir():
        raise UserError(f"{path} is a folder; {what} names a file")
    check_writable_folder(parent, what)
    return path


def check_name(path: Path, what: str) -> None:
    """Refuse a path with no name of its own ('', '.', '..', '/') or one that is not UTF-8."""
    if path.name in ("", ".", ".."):
        raise UserError(f"{what} {str(path)!r} names no file or folder of its own; give a name")
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        raise UserError(
            f"{os.fsencode(path)!r} is not a UTF-8 name; choose a name of letters, digits, '-'"
        ) from None


def check_folder_path(path: str | Path, what: str) -> Path:
    """Refuse, before any work, a folder path that cannot be created and written."""
    path = Path(path)
    check_name(path, what)
    if path.is_symlink():  # replacing it would move the user's files out of what it links to
        raise UserError(
            f"{path} is a symbolic link; {what} names a folder that rnnzoo writes itself: "
            "give the folder it points to, or a new name"
        )
    for p in [path, *path.parents]:
        if p.exists():
            if not p.is_dir():
                raise UserError(
                    f"{path}: {p} is a file, not a folder; choose another {what}"
                    if p != path
                    else f"{path} is a file; {what} names a folder"
                )
            check_writable_folder(p, what)
            return path
    return path


def check_writable_folder(folder: Path, what: str) -> None:
    """Create and remove a temporary file in ``folder``: the only sure test of writability
    (permissions, read-only mounts, quotas)."""
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".rnnzoo-probe.", suffix=".tmp")
        os.close(fd)
        os.unlink(tmp)
    except OSError as error:
        raise UserError(
            f"cannot write in {folder} ({error.strerror}); choose another {what}"
        ) from None


class Lock:
    """An exclusive lock on ``path`` (an OS file lock: the kernel releases it when the holder
    dies, so a kill never leaves a folder locked). The holder's PID is written in the file so
    that whoever is refused can be told who holds it."""

    def __init__(self, path: Path, what: str):
        self.path, self.what = Path(path), what
        self.fd: int | None = None

    def try_acquire(self) -> bool:
        """Take the lock if no one holds it; whether it was taken."""
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666 & ~_umask())
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self.fd = fd
        return True

    def acquire(self) -> None:
        """Take the lock, or refuse with one line naming the process that holds it."""
        if not self.try_acquire():
            try:
                holder = self.path.read_text().strip() or "?"
            except OSError:
                holder = "?"
            raise UserError(
                f"{self.what} is in use by process {holder} (another rnnzoo command); "
                "wait for it to finish, or choose another folder"
            )

    def release(self) -> None:
        if self.fd is not None:
            import fcntl

            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


@contextlib.contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """Hold an exclusive OS lock on ``folder`` itself, waiting for it: no lock file is made
    beside anyone's files. For short critical sections (renames), not for long work."""
    import fcntl

    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


# ---------------------------------------------------------------- replacing a whole folder


def staging_folder(out: Path) -> Path:
    """A new hidden folder beside ``out`` to write a replacement for it into; its name
    carries this process's PID so that ``recover_folder`` leaves a live writer's alone. It gets
    the permissions the umask gives (``mkdtemp`` makes it private, and the rename would keep
    that)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=f".{out.name}.staging-{os.getpid()}-", dir=out.parent))
    os.chmod(folder, 0o777 & ~_umask())
    return folder


def _replaced(out: Path) -> Path:
    return out.parent / f".{out.name}.replaced"


def replace_folder(out: Path, staging: Path, owned: Callable[[Path], set[str]]) -> None:
    """Put the finished ``staging`` folder in place of ``out`` with two renames, then move
    over the entries of the old folder that ``owned(old)`` does not name (files a user put
    there) and delete the rest. ``out`` is whole at every moment but one: between the renames,
    when it is missing and ``recover_folder`` puts the old one back."""
    for path in [staging, *staging.rglob("*")]:  # on the disk before the renames
        if path.is_file():
            with open(path, "rb+") as f:
                os.fsync(f.fileno())
        else:
            sync_folder(path)
    replaced = _replaced(out)
    if out.exists():
        shutil.rmtree(replaced, ignore_errors=True)
        os.replace(out, replaced)
    os.replace(staging, out)
    sync_folder(out.parent)
    _finish_replacing(out, owned)


def _finish_replacing(out: Path, owned: Callable[[Path], set[str]]) -> None:
    replaced = _replaced(out)
    if not replaced.exists():
        return
    keep = owned(replaced)
    for entry in replaced.iterdir():
        if entry.name not in keep and not (out / entry.name).exists():
            os.replace(entry, out / entry.name)
    shutil.rmtree(replaced, ignore_errors=True)


def recover_folder(out: Path, owned: Callable[[Path], set[str]]) -> None:
    """Finish what a killed ``replace_folder`` left: the old folder back if the new one never
    landed, the user's files moved over if it did, and dead writers' staging folders gone."""
    replaced = _replaced(out)
    if replaced.exists() and not out.exists():
        os.replace(replaced, out)
    _finish_replacing(out, owned)
    for staging in out.parent.glob(f".{out.name}.staging-*"):
        pid = staging.name.removeprefix(f".{out.name}.staging-").split("-")[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(staging, ignore_errors=True)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # a staging folder of ours that is not in use is a leftover too
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # someone else's process
    return True
