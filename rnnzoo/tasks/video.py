"""CNN + RNN video classification (seq2vec): a small CNN reads every frame, the recurrent stack
reads the frames' features over time.

Generated clips show a sprite (one of several shapes, on a noisy background) moving left,
right, up or down: the class is visible only in the motion, never in one frame — each class's
positions, pooled over time, have the same distribution as its mirror image's. The baseline is
the same CNN trained on one frame of each clip, which stays near chance.

``data_dir`` reads clips instead: one sub-folder per class, each clip a ``.npy`` array of
``T×H×W`` or ``T×H×W×C``; every clip must share ``H×W(×C)``, lengths may differ.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from rnnzoo.errors import UserError
from rnnzoo.tasks.base import ClassificationTask, Split, require, split_generators

DIRECTIONS = ["left", "right", "up", "down"]
SHAPES = ("square", "cross", "ring", "bar")


def sprite(kind: str, size: int) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size] - (size - 1) / 2
    if kind == "square":
        return np.ones((size, size))
    if kind == "cross":
        return ((np.abs(xx) < 1) | (np.abs(yy) < 1)).astype(float)
    if kind == "ring":
        r = np.hypot(xx, yy)
        return ((r > size / 4) & (r < size / 2)).astype(float)
    return (np.abs(yy) < 1.5).astype(float)  # bar


def make_clip(label: int, frames: int, side: int, rng: np.random.Generator) -> np.ndarray:
    """One clip of ``label``'s motion. The middle of the path is uniform over the same box on
    both axes, so the middle frame looks alike for every class."""
    size = 6
    speed = int(rng.integers(1, 3))
    reach = speed * max(frames // 2, frames - 1 - frames // 2)  # farthest from the middle
    center_along, center_across = rng.integers(reach, side - size - reach + 1, size=2)
    pattern = sprite(SHAPES[rng.integers(len(SHAPES))], size) * rng.uniform(0.6, 1.0)
    clip = rng.uniform(0, 0.3, (frames, side, side))
    sign = 1 if label in (1, 3) else -1  # right and down grow the coordinate
    for t in range(frames):
        along = center_along + sign * speed * (t - frames // 2)
        row, col = (center_across, along) if label in (0, 1) else (along, center_across)
        clip[t, row : row + size, col : col + size] = np.maximum(
            clip[t, row : row + size, col : col + size], pattern
        )
    return clip[..., None].astype(np.float32)  # T × H × W × 1


FEATURES = 64  # what the CNN makes of each frame


class FrameCNN(nn.Module):
    """Per-frame features: ``(batch, time, H, W, C)`` → ``(batch, time, features)``."""

    def __init__(self, height: int, width: int, channels: int, features: int = FEATURES):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(channels, 8, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(8, 16, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Flatten(),
        )
        flat = 16 * ((height + 3) // 4) * ((width + 3) // 4)
        self.project = nn.Sequential(nn.Linear(flat, features), nn.ReLU())

    def forward(self, x: Tensor) -> Tensor:
        # reshapes that leave one axis to infer (-1), so an exported graph keeps batch and
        # time dynamic and no runtime must multiply two symbolic sizes
        frames = x.reshape(-1, *x.shape[2:]).permute(0, 3, 1, 2)  # (batch·time, C, H, W)
        features = self.project(self.conv(frames))
        return features.reshape(-1, x.shape[1], features.shape[-1])


class Video(ClassificationTask):
    smoke_params = {"n_train": 800, "n_test": 200}
    path_params = ("data_dir",)
    defaults = {"hidden": 64, "epochs": 8, "batch_size": 32, "lr": 2e-3}

    def __init__(
        self,
        data_dir: str = "",
        n_train: int = 4000,
        n_test: int = 500,
        frames: int = 11,
        side: int = 32,
        seed: int = 42,
    ):
        super().__init__()
        self.data_dir, self.n_train, self.n_test = data_dir, n_train, n_test
        self.frames, self.side, self.seed = frames, side, seed
        self.input_size = FEATURES  # the CNN's features per frame
        require(min(n_train, n_test) >= 1 and frames >= 2, "need n_train, n_test >= 1, frames >= 2")
        require(
            side >= 6 + 4 * (frames // 2 + 1),
            f"side must be at least {6 + 4 * (frames // 2 + 1)} for {frames} frames",
        )
        self.preprocessing = "frames as (time, height, width, channels), values in [0, 1]"

    @functools.cached_property
    def _data(self) -> tuple[dict[str, Split], list[str]]:
        """The splits and the class names, read or generated once per task object."""
        return self.read_folder() if self.data_dir else (self.generated(), list(DIRECTIONS))

    @property
    def labels(self) -> list[str]:
        """The directions, or the sub-folders of ``data_dir``."""
        return self._data[1] if self.data_dir else list(DIRECTIONS)

    @property
    def output_size(self) -> int:
        return len(self.labels)

    @property
    def step_shape(self) -> tuple[int, ...]:
        """One frame: ``(height, width, channels)``."""
        if self.data_dir:
            return tuple(self._data[0]["train"].x.shape[2:])
        return (self.side, self.side, 1)

    def generated(self) -> dict[str, Split]:
        rngs = split_generators(self.seed)

        def split(n: int, rng: np.random.Generator) -> Split:
            labels = rng.integers(0, len(DIRECTIONS), n)
            clips = np.stack([make_clip(int(c), self.frames, self.side, rng) for c in labels])
            return Split(torch.from_numpy(clips), torch.from_numpy(labels))

        return {
            "train": split(self.n_train, rngs["train"]),
            "validation": split(self.n_test, rngs["validation"]),
            "test": split(self.n_test, rngs["test"]),
        }

    def read_folder(self) -> tuple[dict[str, Split], list[str]]:
        root = Path(self.data_dir)
        classes = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
        if not classes:
            raise UserError(f"{root}: expected one sub-folder of .npy clips per class")
        clips, labels, shape = [], [], None
        for label, name in enumerate(classes):
            for path in sorted((root / name).glob("*.npy")):
                try:
                    clip = np.load(path, allow_pickle=False)
                except (ValueError, OSError) as error:
                    raise UserError(f"{path}: not a readable .npy array ({error})") from None
                clip = clip[..., None] if clip.ndim == 3 else clip
                if clip.ndim != 4 or len(clip) == 0:
                    raise UserError(f"{path}: expected T×H×W or T×H×W×C, got shape {clip.shape}")
                if shape is not None and clip.shape[1:] != shape:
                    raise UserError(
                        f"{path}: frames of shape {clip.shape[1:]}, but earlier "
                        f"clips have {shape}; all clips must share H×W(×C)"
                    )
                shape = clip.shape[1:]
                clips.append(clip.astype(np.float32))
                labels.append(label)
        if len(clips) < 3:
            raise UserError(f"{root}: found {len(clips)} clips; need at least 3")
        order = np.random.default_rng(self.seed).permutation(len(clips))
        n_test = max(1, len(clips) // 10)
        parts = {
            "test": order[:n_test],
            "validation": order[n_test : 2 * n_test],
            "train": order[2 * n_test :],
        }
        splits = {}
        for name, ids in parts.items():
            lengths = torch.tensor([len(clips[i]) for i in ids])
            x = torch.zeros(len(ids), int(lengths.max()), *shape)
            for row, i in enumerate(ids):
                x[row, : len(clips[i])] = torch.from_numpy(clips[i])
            splits[name] = Split(x, torch.tensor([labels[i] for i in ids]), lengths)
        return splits, classes

    def load(self) -> dict[str, Split]:
        return dict(self._data[0])

    def encoder(self) -> nn.Module:
        height, width, channels = self.step_shape
        return FrameCNN(height, width, channels, self.input_size)

    def baseline(self, train: Split, split: Split) -> dict[str, float]:
        """The same CNN and a linear layer trained on the middle frame of each clip."""
        with torch.random.fork_rng():  # leave the caller's random state alone
            torch.manual_seed(0)
            return self._single_frame_baseline(train, split)

    def _single_frame_baseline(self, train: Split, split: Split) -> dict[str, float]:
        generator = torch.Generator().manual_seed(0)
        model = nn.Sequential(
            self.encoder(), nn.Flatten(), nn.Linear(self.input_size, self.output_size)
        )
        optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
        frames = train.x[:, train.x.shape[1] // 2].unsqueeze(1)
        for _ in range(150):
            index = torch.randint(len(frames), (64,), generator=generator)
            loss = self.loss(model(frames[index]), train.y[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            prediction = model(split.x[:, split.x.shape[1] // 2].unsqueeze(1))
        return {"accuracy": (prediction.argmax(-1) == split.y).float().mean().item()}
