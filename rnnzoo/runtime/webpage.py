"""A web page for an export: one static HTML file beside the model and onnxruntime-web's wasm
build, so the model runs in a browser with nothing downloaded. A forecaster draws its
forecast, a classifier names the classes of the example rows, a model that decodes text
turns what is typed into its answer."""

from __future__ import annotations

import shutil
from pathlib import Path

from rnnzoo.errors import RuntimeInputError
from rnnzoo.files import atomic_write, parse_json
from rnnzoo.runtime import zoo
from rnnzoo.runtime.engines import node_modules
from rnnzoo.runtime.model import Model

PAGE = Path(__file__).resolve().parent / "web" / "index.html"
# onnxruntime-web's wasm build: the script (global `ort`), its loader and the binary
ORT_WEB_FILES = ("ort.wasm.min.js", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")


def ort_web_dist() -> Path:
    folder = node_modules()
    dist = folder / "onnxruntime-web" / "dist" if folder else None
    if dist is None or not all((dist / f).is_file() for f in ORT_WEB_FILES):
        raise RuntimeInputError(
            "the web page needs onnxruntime-web's files: run `npm install --ignore-scripts "
            "onnxruntime-web` in rnnzoo's folder, or set RNNZOO_NODE_MODULES to a node_modules "
            "folder that has it"
        )
    return dist


def write_page(export: str | Path, out: str | Path) -> Path:
    """``out/index.html`` with the export's files (fp32) and onnxruntime-web beside it;
    ``export`` is a folder or a model's name on the shelf, as for ``Model``."""
    export, out = zoo.find(export), Path(out)
    model = Model(export)  # a valid export, or one line saying why not
    dist = ort_web_dist()
    if out.exists() and any(out.iterdir()) and not (out / "index.html").is_file():
        raise RuntimeInputError(f"{out} exists and is not an rnnzoo web page; choose another --out")
    try:
        parse_json((export / "example.json").read_text())
    except (OSError, ValueError, UnicodeDecodeError) as error:
        raise RuntimeInputError(
            f"{export / 'example.json'}: the page's example input cannot be read ({error}); "
            "export the run again"
        ) from None
    out.mkdir(parents=True, exist_ok=True)
    files = [f.name for f in model.runner.files.values() if "int8" not in f.name]
    sources = [export / name for name in [*files, "card.json", "example.json"]]
    sources += [dist / name for name in ORT_WEB_FILES]
    for source, name in [*((s, s.name) for s in sources), (PAGE, "index.html")]:
        atomic_write(out / name, lambda tmp, source=source: shutil.copyfile(source, tmp))
    return out
