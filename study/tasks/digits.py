"""``digits``: scikit-learn's bundled 8x8 handwritten digits (1,797 images, no download).

A fixed 20 % is the test split (the same for every seed); the seed splits the rest 80/20 into
train and val. The model is the standard neural ODE classifier of ``ClassificationTask``.
"""

from __future__ import annotations

from pathlib import Path

import torch

from study.tasks.base import split_indices
from study.tasks.classification import ClassificationTask


class Digits(ClassificationTask, registered="digits"):
    @classmethod
    def load(cls, *, seed: int, data_dir: str | Path | None = None) -> Digits:
        from sklearn.datasets import load_digits

        data = load_digits()
        x = torch.as_tensor(data.data, dtype=torch.float32)
        y = torch.as_tensor(data.target, dtype=torch.long)
        idx = split_indices(len(y), seed=seed, val_fraction=0.2, test_fraction=0.2)
        pairs = {s: (x[torch.as_tensor(i)], y[torch.as_tensor(i)]) for s, i in idx.items()}
        # local's weight measured on digits (benchmarks/results/defaults.md), stronger than the
        # generic classifier's safe default
        return cls(name="digits", weights={"local": 3.0}, **pairs)
