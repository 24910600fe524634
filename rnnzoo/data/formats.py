"""What a data file is, judged by its content: an extension can be wrong (a Parquet file saved
as ``data.csv``), and reading such a file as what it claims to be fails with an error about
its bytes instead of its name."""

from __future__ import annotations

from pathlib import Path

from rnnzoo.errors import UserError

# the format each extension claims; files with other extensions are judged by content alone
EXTENSIONS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".ts": "ts",
    ".tsf": "tsf",
    ".npz": "npz",
    ".npy": "npy",
}
NAMES = {
    "csv": "CSV",
    "parquet": "Parquet",
    "ts": ".ts (UCR/UEA)",
    "tsf": ".tsf (Monash)",
    "npz": ".npz",
    "npy": ".npy",
}
SUFFIX = {"csv": ".csv", "parquet": ".parquet", "ts": ".ts", "tsf": ".tsf", "npz": ".npz"}
# header tags only a Monash .tsf file has (a .ts file has @problemName, @classLabel, ...)
TSF_TAGS = {"@relation", "@attribute", "@frequency", "@horizon"}
MAGIC = {b"PAR1": "parquet", b"PK\x03\x04": "npz", b"\x93NUMPY": "npy"}


def detect_format(path: str | Path) -> str:
    """``"csv"``, ``"parquet"``, ``"ts"``, ``"tsf"``, ``"npz"``, ``"npy"`` or ``"folder"``,
    from the file's first bytes; a file whose extension claims another format is refused."""
    path = Path(path)
    if path.is_dir():
        return "folder"
    if not path.is_file():
        raise UserError(f"{path}: no such file; check the path")
    with path.open("rb") as f:
        head = f.read(4096)
    if not head.strip():
        raise UserError(f"{path.name}: the file is empty; give a file with data")
    found = next((fmt for magic, fmt in MAGIC.items() if head.startswith(magic)), None)
    if found is None:
        found = text_format(path)
    claimed = EXTENSIONS.get(path.suffix.lower())
    if claimed is not None and claimed != found:
        if claimed in ("ts", "tsf") and found == "csv":
            raise UserError(
                f"{path.name}: this is not a {NAMES[claimed]} file: it has no @ header lines "
                f"(@problemName ... @data); if it is CSV, rename it to .csv"
            )
        rename = f"rename it to {SUFFIX[found]}" if found in SUFFIX else "give a data file"
        raise UserError(
            f"{path.name}: this is a {NAMES[found]} file, not {NAMES[claimed]}; {rename}"
        )
    return found


def text_format(path: Path) -> str:
    """``ts`` or ``tsf`` when the first line that is not blank or a comment is an ``@`` tag (a
    .tsf header has @relation or @attribute before @data), otherwise ``csv``."""
    tags = []
    with path.open(encoding="utf-8-sig", errors="replace") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith(("#", "%")):
                continue
            if not line.startswith("@"):
                break
            tag = line.split()[0].lower()
            if tag == "@data":
                break
            tags.append(tag)
    if not tags:
        return "csv"
    return "tsf" if TSF_TAGS & set(tags) else "ts"


def read_text(path: Path) -> str:
    """The file as text: UTF-8 (a byte-order mark dropped), or Latin-1 for older files."""
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")
