"""The web page of an export in headless Chromium (Debian's chromium), served on 127.0.0.1: the
page runs the model with onnxruntime-web's wasm backend and posts its answers back, which must
be the Python runtime's. Skipped, with the reason, without chromium or onnxruntime-web."""

import json
import shutil
import subprocess
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from rnnzoo.errors import RuntimeInputError
from rnnzoo.export import export_run
from rnnzoo.runtime import Model
from rnnzoo.runtime.webpage import ort_web_dist, write_page
from tests.test_export import make_run

pytestmark = pytest.mark.portability
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def browser_answers(folder: Path, timeout: float = 120) -> dict:
    """Serve ``folder`` on 127.0.0.1, open the page in headless Chromium, and return what the
    page reports."""
    reported: dict = {}
    done = threading.Event()

    class Handler(SimpleHTTPRequestHandler):
        def do_POST(self):  # the page's report
            reported.update(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()
            done.set()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/index.html?report"
    browser = subprocess.Popen(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={folder}/.chromium",
            url,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert done.wait(timeout), "the page reported nothing"
    finally:
        browser.kill()
        browser.wait()
        server.shutdown()
    return reported


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (Debian: apt-get install chromium)")
    try:
        ort_web_dist()
    except RuntimeInputError as error:
        pytest.skip(str(error))


@pytest.mark.parametrize(
    "task,cell", [("sine", "gru"), ("reber", "mgu"), ("rain", "lstm"), ("dates", "gru")]
)
def test_the_page_gives_the_python_runtimes_answers(tmp_path, browser, task, cell):
    run = make_run(tmp_path / "run", task, cell, hidden=16)
    export = export_run(run, tmp_path / "export", runtimes=["onnxruntime"]).out
    page = write_page(export, tmp_path / "page")
    outcome = browser_answers(page)
    assert outcome.get("status") == "done", outcome
    expected = Model(export).answer_file(export / "example.json").answers
    got = outcome["answers"]
    if isinstance(expected[0], str) or (
        isinstance(expected[0], list) and isinstance(expected[0][0], str)
    ):
        assert got == expected  # class names, or decoded texts
    else:
        np.testing.assert_allclose(np.asarray(got), np.asarray(expected), rtol=1e-4, atol=1e-4)
