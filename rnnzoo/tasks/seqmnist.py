"""Images as sequences: each 28×28 image read row by row, 28 steps of 28 pixels (seq2vec).

With ``pixels``, read pixel by pixel instead: 784 steps of one value, the sequential MNIST of
Le, Jaitly & Hinton ("A Simple Way to Initialize Recurrent Networks of Rectified Linear
Units", 2015), which measures long-range memory: the strokes that tell the classes apart lie
hundreds of steps apart. With ``permute`` as well, the pixels come in one fixed random order
(permuted MNIST, from the same paper), drawn from ``seed`` by
``numpy.random.default_rng(seed).permutation(784)``, so that neighbouring pixels are no
longer neighbouring steps and the model cannot lean on local structure.

Reads the four standard IDX files (gzipped or not) of MNIST or Fashion-MNIST from ``data_dir``;
by default where the Debian package ``dataset-fashion-mnist`` installs them. Never downloads.
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import torch

from rnnzoo.errors import UserError
from rnnzoo.tasks.base import ClassificationTask, Split, require

DEBIAN_FASHION_MNIST = "/usr/share/datasets/fashion-mnist"
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
FASHION_LABELS = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]
DIGIT_LABELS = [str(i) for i in range(10)]
IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (the MNIST format), gzipped or not."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as error:  # a damaged gzip stream
        raise UserError(f"{path}: cannot read it ({error})") from None
    if len(data) < 4 or data[:2] != b"\0\0" or data[2] not in IDX_DTYPES:
        raise UserError(f"{path}: not an IDX file (bad magic number)")
    ndim = data[3]
    if len(data) < 4 + 4 * ndim:
        raise UserError(f"{path}: truncated IDX header")
    shape = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    array = np.frombuffer(data, dtype=IDX_DTYPES[data[2]], offset=4 + 4 * ndim)
    if array.size != int(np.prod(shape)):
        raise UserError(f"{path}: header says shape {shape} but holds {array.size} values")
    return array.reshape(shape)


def find_file(data_dir: Path, stem: str) -> Path | None:
    for name in (
        stem,
        stem + ".gz",
        stem.replace("-idx", ".idx"),
        stem.replace("-idx", ".idx") + ".gz",
    ):
        if (data_dir / name).is_file():
            return data_dir / name
    return None


def read_images(data_dir: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """The ``train`` or ``test`` images (n×28×28 uint8) and labels of an MNIST-format folder."""
    paths = [find_file(data_dir, stem) for stem in FILES[split]]
    if not data_dir.is_dir() or None in paths:
        raise UserError(
            f"no MNIST/Fashion-MNIST IDX files in {data_dir}: install them with "
            "'apt-get install dataset-fashion-mnist', or put MNIST's four files "
            "(train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
            "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz) in a folder and pass "
            "--param data_dir=FOLDER"
        )
    images, labels = (read_idx(p) for p in paths)
    if images.ndim != 3 or images.shape[1:] != (28, 28) or len(images) != len(labels):
        raise UserError(
            f"{paths[0]}: expected n×28×28 images matching {len(labels)} labels,"
            f" got shape {images.shape}"
        )
    return images, labels


def write_idx(path: Path, array: np.ndarray, gzipped: bool = True) -> None:
    """``array`` (uint8) as an IDX file, gzipped by default (``path`` gains ``.gz``)."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(
        f">{array.ndim}I", *array.shape
    )
    data = header + array.astype(np.uint8).tobytes()
    if gzipped:
        path.with_name(path.name + ".gz").write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)


def write_bars(folder: Path, n_train: int = 600, n_test: int = 200, gzipped: bool = True) -> Path:
    """A small, learnable MNIST-shaped set in the four IDX files: the label is the row where
    a bright bar lies. For smoke tests of tasks that read IDX files."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = rng.integers(0, 10, n)
        images = rng.integers(0, 60, (n, 28, 28))
        images[np.arange(n), 2 + 2 * labels] = 255
        write_idx(folder / f"{prefix}-images-idx3-ubyte", images, gzipped)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", labels, gzipped)
    return folder


class SeqMNIST(ClassificationTask):
    smoke_params = {"limit": 600}
    path_params = ("data_dir",)

    @classmethod
    def smoke_data(cls, folder: Path) -> dict:
        return {**cls.smoke_params, "data_dir": str(write_bars(folder / "idx"))}

    defaults = {
        "hidden": 128,
        "layers": 2,
        "bidirectional": True,
        "epochs": 12,
        "batch_size": 128,
        "schedule": "onecycle",
        "lr": 3e-3,
    }

    def __init__(
        self,
        data_dir: str = DEBIAN_FASHION_MNIST,
        validation_size: int = 5000,
        limit: int = 0,
        label_names: str = "auto",
        pixels: bool = False,
        permute: bool = False,
        seed: int = 42,
    ):
        super().__init__()
        self.data_dir, self.validation_size, self.limit = Path(data_dir), validation_size, limit
        self.pixels, self.permute, self.seed = pixels, permute, seed
        require(pixels or not permute, "permute needs pixels=true (it orders the 784 pixels)")
        self.input_size, self.output_size = (1 if pixels else 28), 10
        require(
            validation_size >= 1 and limit >= 0,
            "validation_size must be >= 1 and limit >= 0 (0: every example)",
        )
        require(limit == 0 or limit >= 10, "limit must be 0 (every example) or at least 10")
        if label_names == "auto":
            label_names = "fashion" if "fashion" in str(data_dir).lower() else "digits"
        if label_names not in ("fashion", "digits"):
            raise UserError(f"label_names must be auto, fashion or digits, not {label_names!r}")
        self.labels = FASHION_LABELS if label_names == "fashion" else DIGIT_LABELS
        if permute:
            self.preprocessing = (
                "the 784 pixels as 784 steps of 1 value, in the order "
                f"numpy.random.default_rng({seed}).permutation(784) of the row-major pixels; "
                "pixel values / 255"
            )
        elif pixels:
            self.preprocessing = (
                "the 784 pixels row by row as 784 steps of 1 value; pixel values / 255"
            )
        else:
            self.preprocessing = "rows of 28 pixels as 28 steps; pixel values / 255"

    def order(self) -> np.ndarray | None:
        """The pixels' order when ``permute``: indices into the 784 row-major pixels, the
        same for every split and every run with this ``seed``."""
        return np.random.default_rng(self.seed).permutation(784) if self.permute else None

    def load(self) -> dict[str, Split]:
        order = self.order()

        def split(images: np.ndarray, labels: np.ndarray) -> Split:
            x = images.astype(np.float32) / 255.0
            if self.pixels:
                x = x.reshape(len(x), 784, 1)
                if order is not None:
                    x = np.ascontiguousarray(x[:, order])
            x = torch.from_numpy(x)
            return Split(x, torch.from_numpy(labels.astype(np.int64)))

        images, labels = read_images(self.data_dir, "train")
        test_images, test_labels = read_images(self.data_dir, "test")
        if self.limit:
            images, labels = images[: self.limit], labels[: self.limit]
            test_images, test_labels = test_images[: self.limit], test_labels[: self.limit]
        n_val = min(self.validation_size, len(images) // 5)
        return {
            "train": split(images[:-n_val], labels[:-n_val]),
            "validation": split(images[-n_val:], labels[-n_val:]),
            "test": split(test_images, test_labels),
        }
