"""Rainfall from radar sequences — Kaggle's "How Much Did It Rain? II" (seq2vec regression).

Reads the competition's ``train.csv``: one row per radar scan, rows of one rain gauge (``Id``)
together, 1–19 scans in the hour, ``Expected`` the gauge's millimetres. Radar values are often
missing: they stay NaN in the data, and the model's encoder — part of the exported graph —
standardises each column with training statistics, puts 0 where a value is missing and adds one
missing-indicator feature per radar column. So a deployed model takes raw rows, NaN included.

Gauge outliers (``Expected`` ≥ ``max_expected`` mm, 70 by default, as common in the competition)
are dropped from training and validation, never from the test split, where ``mae`` is the
competition's metric and ``mae_below_max`` ignores the outliers.

Baseline: Marshall–Palmer as in the competition's sample solution — Z = 200·R^1.6 from each
finite ``Ref`` (dBZ), each rate weighted by the minutes until the next scan (the last up to the
end of the hour).

Without ``data_file``, data in the same CSV format comes from a documented physical model (see
``generate_csv``) and goes through the same reader.
"""

from __future__ import annotations

import csv
import functools
import io
import math
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from rnnzoo.errors import UserError
from rnnzoo.tasks.base import Metric, Split, Task, require

RADAR = [
    f"{base}{suffix}"
    for base in ("Ref", "RefComposite", "RhoHV", "Zdr", "Kdp")
    for suffix in ("", "_5x5_10th", "_5x5_50th", "_5x5_90th")
]
FEATURES = ["minutes_past", "radardist_km", *RADAR]
COLUMNS = ["Id", *FEATURES, "Expected"]
REF = FEATURES.index("Ref")


def marshall_palmer(x: Tensor, lengths: Tensor) -> Tensor:
    """Millimetres in the hour from ``Ref`` and ``minutes_past``, per the sample solution."""
    minutes = x[:, :, 0]
    steps = torch.arange(x.shape[1]).unsqueeze(0)
    valid = steps < lengths.unsqueeze(1)
    previous = torch.cat([torch.zeros_like(minutes[:, :1]), minutes[:, :-1]], dim=1)
    hours = torch.where(valid, minutes - previous, torch.zeros_like(minutes))
    last = lengths - 1
    rows = torch.arange(len(x))
    hours[rows, last] += 60 - hours.sum(1)
    hours = hours / 60
    ref = x[:, :, REF]
    rate = ((10 ** (ref / 10)) / 200) ** 0.625
    rate = torch.where(torch.isfinite(rate) & valid, rate, torch.zeros_like(rate))
    return (rate * hours).sum(1)


def read_rows(
    source: io.TextIOBase, name: str, max_steps: int
) -> tuple[list[np.ndarray], list[float]]:
    """Group the CSV's rows by ``Id`` — rows of one gauge need not be contiguous — and order
    each gauge's scans by ``minutes_past`` (the time weights of Marshall–Palmer need it).
    A gauge whose rows disagree on ``Expected`` is refused with both line numbers."""
    reader = csv.reader(source)
    header = next(reader, None)
    if header is None:
        raise UserError(f"{name}: empty file; expected the header {','.join(COLUMNS)}")
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise UserError(f"{name}, line 1: missing column(s) {', '.join(missing)}")
    index = [header.index(c) for c in COLUMNS]
    gauges: dict[float, tuple[list[list[float]], float, int]] = {}  # Id: rows, Expected, line
    for line, row in enumerate(reader, start=2):
        if not row:
            continue
        if len(row) != len(header):
            raise UserError(f"{name}, line {line}: {len(row)} fields, expected {len(header)}")
        try:
            values = [float(row[i]) if row[i].strip() else float("nan") for i in index]
        except ValueError:
            raise UserError(f"{name}, line {line}: a value is not a number") from None
        gauge, expected = values[0], values[-1]
        if not math.isfinite(gauge):
            raise UserError(f"{name}, line {line}: the Id is missing or not a number")
        rows, first_expected, first_line = gauges.setdefault(gauge, ([], expected, line))
        if expected != first_expected and not (math.isnan(expected) and math.isnan(first_expected)):
            raise UserError(
                f"{name}, lines {first_line} and {line}: Id {gauge:g} has two Expected values "
                f"({first_expected:g} and {expected:g}); one gauge reads one total"
            )
        rows.append(values[1:-1])
    if not gauges:
        raise UserError(f"{name}: no data rows after the header")
    sequences = [
        np.asarray(sorted(rows, key=lambda r: (math.isnan(r[0]), r[0]))[:max_steps], np.float32)
        for rows, _, _ in gauges.values()
    ]
    return sequences, [expected for _, expected, _ in gauges.values()]


def generate_csv(n_ids: int, rng: np.random.Generator) -> str:
    """Rain gauges and radar scans in the competition's CSV format, from a physical model.

    Each gauge gets a storm type — stratiform (Z = 200·R^1.6, small drops, low Zdr) or
    convective (Z = 300·R^1.4, big drops, high Zdr and Kdp) — and a rain rate that drifts
    through the hour. Every scan measures reflectivity from the true rate through the storm's
    Z–R relation, with radar noise growing with distance and a range bias; the 5×5 percentiles,
    composite, RhoHV, Zdr and Kdp follow from it with their own noise. Scans miss values (more
    often far away and in light rain). The gauge reads the rate integrated over the hour with
    5 % multiplicative error, and 1 % of gauges are broken (huge or stuck readings).
    """
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for gauge in range(1, n_ids + 1):
        scans = int(rng.integers(1, 20))
        minutes = np.sort(rng.choice(60, size=scans, replace=False))
        distance = float(rng.uniform(1, 20))
        convective = rng.random() < 0.4
        a, b = (300.0, 1.4) if convective else (200.0, 1.6)
        peak = rng.gamma(1.2, 6.0 if convective else 2.0)
        drift = rng.normal(0, 0.6)
        rate = peak * np.exp(drift * (minutes / 60 - 0.5)) * rng.lognormal(0, 0.25, scans)
        rate = np.where(rng.random(scans) < 0.15, 0.0, rate)
        valid_hours = np.diff(np.append(minutes, 60)) / 60
        expected = float((rate * valid_hours).sum() + rate[0] * minutes[0] / 60)
        expected *= rng.lognormal(0, 0.05)
        if rng.random() < 0.01:
            expected = float(rng.choice([rng.uniform(300, 5000), 0.0]))
        dbz = 10 * np.log10(np.maximum(a * np.maximum(rate, 1e-3) ** b, 1e-3))
        dbz = dbz - 0.15 * distance + rng.normal(0, 1 + 0.1 * distance, scans)
        for t in range(scans):
            ref = dbz[t]
            spread = abs(rng.normal(2, 1))
            zdr = (0.3 if not convective else 1.2) + 0.03 * ref + rng.normal(0, 0.3)
            kdp = (0.05 + (0.02 * max(ref - 30, 0) if convective else 0)) + rng.normal(0, 0.1)
            rho = min(1.0, 0.97 + rng.normal(0, 0.01))
            values = [
                ref,
                ref - spread,
                ref,
                ref + spread,
                ref + abs(rng.normal(1, 1)),
                ref - spread,
                ref + 1,
                ref + spread + 1,
                rho,
                rho - 0.02,
                rho,
                rho + 0.01,
                zdr,
                zdr - 0.5,
                zdr,
                zdr + 0.5,
                kdp,
                kdp - 0.3,
                kdp,
                kdp + 0.3,
            ]
            p_missing = min(0.9, 0.02 * distance + (0.4 if rate[t] < 0.5 else 0.05))
            row = [gauge, int(minutes[t]), round(distance, 1)]
            for v in values:
                row.append("" if rng.random() < p_missing else f"{v:.4f}")
            row.append(f"{expected:.4f}")
            writer.writerow(row)
    return out.getvalue()


class RainEncoder(nn.Module):
    """Standardise with training statistics; 0 and a missing flag where a radar value is NaN."""

    def __init__(self, mean: Tensor, std: Tensor):
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)

    def forward(self, x: Tensor) -> Tensor:
        missing = torch.isnan(x)
        values = torch.where(missing, torch.zeros_like(x), (x - self.mean) / self.std)
        return torch.cat([values, missing[..., 2:].to(x.dtype)], dim=-1)


def pad(sequences: list[np.ndarray]) -> tuple[Tensor, Tensor]:
    lengths = torch.tensor([len(s) for s in sequences])
    x = torch.zeros(len(sequences), int(lengths.max()), len(FEATURES))
    for row, seq in enumerate(sequences):
        x[row, : len(seq)] = torch.from_numpy(seq)
    return x, lengths


class Rain(Task):
    kind = "seq2vec"
    missing_values = True
    metrics = (Metric("mae", False), Metric("mae_below_max", False))
    smoke_params = {"n_generated": 1500}
    path_params = ("data_file",)
    defaults = {"hidden": 64, "layers": 2, "epochs": 15, "batch_size": 64, "lr": 2e-3}

    def __init__(
        self,
        data_file: str = "",
        n_generated: int = 20000,
        max_expected: float = 70.0,
        max_steps: int = 19,
        seed: int = 42,
    ):
        super().__init__()
        self.data_file, self.n_generated, self.seed = data_file, n_generated, seed
        self.max_expected, self.max_steps = max_expected, max_steps
        self.step_shape = (len(FEATURES),)
        self.input_size, self.output_size = 2 * len(FEATURES) - 2, 1
        require(30 <= n_generated <= 1_000_000, "n_generated must be 30 to 1,000,000")
        require(max_expected > 0 and max_steps >= 1, "max_expected must be > 0, max_steps >= 1")
        self.preprocessing = (
            "raw radar rows in the competition's column order "
            f"({', '.join(FEATURES)}), NaN where missing; standardisation "
            "and missing flags are inside the graph"
        )

    def read(self) -> tuple[list[np.ndarray], list[float]]:
        if not self.data_file:
            text = generate_csv(self.n_generated, np.random.default_rng(self.seed))
            return read_rows(io.StringIO(text), "<generated>", self.max_steps)
        path = Path(self.data_file)
        if not path.is_file():
            raise UserError(
                f"{path}: no such file; pass the competition's train.csv with "
                "--param data_file=PATH, or leave it out for generated data"
            )
        try:
            with open(path, newline="") as f:
                return read_rows(f, str(path), self.max_steps)
        except UnicodeDecodeError:
            raise UserError(f"{path}: not a text (UTF-8) CSV file") from None

    def data_files(self) -> list[Path]:
        return [Path(self.data_file)] if self.data_file else []  # the encoder's statistics

    @functools.cached_property
    def _splits(self) -> dict[str, Split]:
        """The data, read once per task object; ``load`` and the statistics share it."""
        sequences, targets = self.read()
        order = np.random.default_rng(self.seed).permutation(len(sequences))
        n_test = n_val = max(1, len(order) // 10)
        parts = {
            "test": order[:n_test],
            "validation": order[n_test : n_test + n_val],
            "train": order[n_test + n_val :],
        }
        splits = {}
        for name, ids in parts.items():
            if name != "test":  # drop gauge outliers from what the model learns and selects on
                ids = [i for i in ids if targets[i] < self.max_expected]
            require(
                len(ids) > 0,
                f"no gauge of the {name} split reads below max_expected={self.max_expected:g} "
                f"mm; raise max_expected or give more data",
            )
            x, lengths = pad([sequences[i] for i in ids])
            y = torch.tensor([targets[i] for i in ids], dtype=torch.float32).unsqueeze(1)
            splits[name] = Split(x, y, lengths)
        return splits

    def load(self) -> dict[str, Split]:
        return dict(self._splits)

    def statistics(self) -> tuple[Tensor, Tensor]:
        """Mean and standard deviation of each radar column over the training split's valid
        steps, NaN left out: what the encoder standardises with."""
        train = self._splits["train"]
        steps = torch.arange(train.x.shape[1]).unsqueeze(0) < train.lengths.unsqueeze(1)
        rows = train.x[steps]
        mean = torch.nanmean(rows, dim=0).nan_to_num(0.0)
        centred = torch.where(torch.isnan(rows), torch.zeros_like(rows), rows - mean)
        count = (~torch.isnan(rows)).sum(0).clamp(min=1)
        return mean, (centred.square().sum(0) / count).sqrt().clamp(min=1e-3)

    def encoder(self) -> nn.Module:
        return RainEncoder(*self.statistics())

    def head(self, rnn_output_size: int) -> nn.Module:
        return nn.Sequential(nn.Linear(rnn_output_size, 1), nn.Softplus())  # mm are >= 0

    def loss(self, prediction: Tensor, target: Tensor) -> Tensor:
        return nn.functional.l1_loss(prediction, target)

    def evaluate(self, prediction: Tensor, target: Tensor) -> dict[str, float]:
        error = (prediction - target).abs()
        kept = target < self.max_expected
        return {"mae": error.mean().item(), "mae_below_max": error[kept].mean().item()}

    def baseline(self, train: Split, split: Split) -> dict[str, float]:
        """Marshall-Palmer: rain from each hour's radar reflectivity by the Z-R relation."""
        return self.evaluate(marshall_palmer(split.x, split.lengths).unsqueeze(1), split.y)
