"""Image captioning (vector → sequence): Fashion-MNIST items placed side by side, and the
caption that names them from left to right — "sneaker left of bag" (three items: "coat left
of sneaker left of bag"). A small CNN encodes the image to one vector, which starts a decoder
that writes the caption a word at a time.

The images come from the Debian package ``dataset-fashion-mnist`` (or any folder of the four
MNIST-format IDX files, ``data_dir``); nothing is downloaded. Training and validation images
are composed from the training set's items, test images from the test set's: no test item is
ever seen in training. ``classes`` keeps some classes only (comma-separated names).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from rnnzoo import text
from rnnzoo.tasks.base import Split, TokenSequenceTask, pad_ids, require, split_generators
from rnnzoo.tasks.seqmnist import DEBIAN_FASHION_MNIST, read_images, write_bars

NAMES = [
    "t-shirt",
    "trouser",
    "pullover",
    "dress",
    "coat",
    "sandal",
    "shirt",
    "sneaker",
    "bag",
    "boot",
]


def caption(names: list[str]) -> str:
    return " left of ".join(names)


class ImageCNN(nn.Module):
    """``(batch, height, width)`` grey images → ``(batch, features)``."""

    def __init__(self, height: int, width: int, features: int = 256):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1),
            nn.BatchNorm2d(32),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1),
            nn.BatchNorm2d(64),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
        )
        flat = 64 * (height // 4) * (width // 4)
        self.project = nn.Sequential(
            nn.Dropout(0.3), nn.Linear(flat, features), nn.LayerNorm(features)
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.project(self.conv(x.unsqueeze(1)))


class Caption(TokenSequenceTask):
    kind = "vec2seq"
    target_tokens = "word"
    smoke_params = {"n_train": 600, "n_test": 100}
    path_params = ("data_dir",)

    @classmethod
    def smoke_data(cls, folder: Path) -> dict:
        return {**cls.smoke_params, "data_dir": str(write_bars(folder / "idx"))}

    defaults = {"hidden": 128, "epochs": 10, "batch_size": 64, "lr": 2e-3}

    def __init__(
        self,
        data_dir: str = DEBIAN_FASHION_MNIST,
        items: int = 2,
        classes: str = "all",
        n_train: int = 30000,
        n_test: int = 2000,
        seed: int = 42,
        fresh: bool = True,
    ):
        super().__init__()
        require(items in (1, 2, 3), "items must be 1, 2 or 3")
        self.fresh = fresh  # new compositions of the training images every epoch
        require(min(n_train, n_test) >= 1, "n_train and n_test must be >= 1")
        self.data_dir, self.items, self.seed = Path(data_dir), items, seed
        self.n_train, self.n_test = n_train, n_test
        if classes == "all":
            self.classes = list(range(len(NAMES)))
        else:
            wanted = [c.strip() for c in classes.split(",") if c.strip()]
            unknown = [c for c in wanted if c not in NAMES]
            require(
                not unknown and len(wanted) >= 2,
                f"classes: give 'all' or at least two of {', '.join(NAMES)}"
                + (f" (unknown: {', '.join(unknown)})" if unknown else ""),
            )
            self.classes = sorted({NAMES.index(c) for c in wanted})
        words = text.tokenize(caption([NAMES[c] for c in self.classes]), "word")
        self.target_vocab = text.build_vocab([words])
        self.target_length = len(text.tokenize(caption(["t-shirt"] * items), "word")) + 1
        self.step_shape = (28, 28 * items)
        self.input_size = 256  # the CNN's features
        self.preprocessing = (
            f"a 28×{28 * items} grey image, pixel values / 255 (items side by side)"
        )

    def encoder(self) -> nn.Module:
        return ImageCNN(*self.step_shape, features=self.input_size)

    def compose(self, images: np.ndarray, labels: np.ndarray, n: int, rng) -> Split:
        pool = np.flatnonzero(np.isin(labels, self.classes))
        chosen = rng.choice(pool, size=(n, self.items))
        x = np.concatenate([images[chosen[:, i]] for i in range(self.items)], axis=2)
        index = {t: i for i, t in enumerate(self.target_vocab)}
        targets = [
            text.to_ids(text.tokenize(caption([NAMES[labels[j]] for j in row]), "word"), index)
            + [text.EOS]
            for row in chosen
        ]
        y, _ = pad_ids(targets, self.target_length)
        return Split(torch.from_numpy(x.astype(np.float32) / 255.0), y)

    def load(self) -> dict[str, Split]:
        rngs = split_generators(self.seed)
        images, labels = read_images(self.data_dir, "train")
        test_images, test_labels = read_images(self.data_dir, "test")
        held_out = np.random.default_rng(self.seed).permutation(len(images))
        n_val = len(images) // 6  # validation items are kept apart from training items
        val, train = held_out[:n_val], held_out[n_val:]
        self._train_pool = images[train], labels[train]  # what train_split composes from
        return {
            "train": self.compose(images[train], labels[train], self.n_train, rngs["train"]),
            "validation": self.compose(images[val], labels[val], self.n_test, rngs["validation"]),
            "test": self.compose(test_images, test_labels, self.n_test, rngs["test"]),
        }

    def train_split(self, epoch: int) -> Split | None:
        """With ``fresh``, new compositions of the same training images each epoch: the
        2-item captions of ten classes have 100 orders, and a fixed set of 30,000 images lets
        the model memorise them rather than learn to name each item."""
        if not self.fresh or epoch == 0:
            return None
        images, labels = self._train_pool
        return self.compose(images, labels, self.n_train, np.random.default_rng((self.seed, epoch)))
