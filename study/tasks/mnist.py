"""``mnist``: MNIST from local IDX files (plain or gzipped) in ``data_dir``; never downloads.

Expected files (each may end in ``.gz``): ``train-images-idx3-ubyte``,
``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``. The
t10k set is the test split; the seed holds out 10 % of the training set as val. Pixels are scaled
to ``[0, 1]``; the model is the standard neural ODE classifier of ``ClassificationTask``.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import torch

from study.tasks.base import split_indices
from study.tasks.classification import ClassificationTask

FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

# IDX element types: the third byte of the magic number -> big-endian numpy dtype.
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | Path) -> np.ndarray:
    """The array stored in an IDX file (``.gz`` files are decompressed); ``ValueError`` if the
    file is not a well-formed IDX file."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as exc:
        raise ValueError(f"cannot read IDX file {str(path)!r}: {exc}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise ValueError(f"{str(path)!r} is not an IDX file (bad magic number)")
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{str(path)!r} is truncated (incomplete IDX header)")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(raw) != expected:
        raise ValueError(
            f"{str(path)!r} has {len(raw)} bytes, but its IDX header {shape} implies {expected}"
        )
    array = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="))  # native byte order, writable


def find_files(data_dir: str | Path | None) -> dict[str, Path]:
    """The four MNIST files in ``data_dir``, plain or gzipped; ``ValueError`` names any missing."""
    if data_dir is None:
        raise ValueError(
            "the mnist task reads the MNIST IDX files from a local directory (it never downloads): "
            f"pass --data-dir DIR holding {', '.join(FILES.values())} (plain or .gz)"
        )
    root = Path(data_dir)
    if not root.is_dir():
        raise ValueError(f"mnist: data directory {str(root)!r} does not exist")
    found, missing = {}, []
    for key, name in FILES.items():
        candidates = [root / name, root / f"{name}.gz"]
        path = next((p for p in candidates if p.is_file()), None)
        if path is None:
            missing.append(name)
        else:
            found[key] = path
    if missing:
        raise ValueError(
            f"mnist: missing in {str(root)!r}: {', '.join(missing)} (plain or .gz); the task never "
            "downloads, copy the IDX files there"
        )
    return found


class MNIST(ClassificationTask, registered="mnist"):
    @classmethod
    def load(cls, *, seed: int, data_dir: str | Path | None = None) -> MNIST:
        paths = find_files(data_dir)
        arrays = {key: read_idx(path) for key, path in paths.items()}
        for part in ("train", "test"):
            images, labels = arrays[f"{part}_images"], arrays[f"{part}_labels"]
            if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
                raise ValueError(
                    f"mnist: {part} images {images.shape} and labels {labels.shape} do not match "
                    "(expected (n, rows, cols) images and n labels)"
                )
        x = torch.as_tensor(arrays["train_images"], dtype=torch.float32) / 255.0
        y = torch.as_tensor(arrays["train_labels"].astype(np.int64))
        idx = split_indices(len(y), seed=seed, val_fraction=0.1)
        test = (torch.as_tensor(arrays["test_images"], dtype=torch.float32) / 255.0,
                torch.as_tensor(arrays["test_labels"].astype(np.int64)))
        return cls(
            name="mnist",
            train=(x[torch.as_tensor(idx["train"])], y[torch.as_tensor(idx["train"])]),
            val=(x[torch.as_tensor(idx["val"])], y[torch.as_tensor(idx["val"])]),
            test=test,
            width=64, hidden=128, epochs=10, batch_size=128, lr=1e-3,
        )
