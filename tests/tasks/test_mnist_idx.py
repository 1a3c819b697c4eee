"""The MNIST task reads local IDX files (plain or gzipped) and names what is missing."""

import gzip
import struct

import numpy as np
import pytest

from study import tasks
from study.tasks.mnist import FILES, read_idx


def write_idx(path, array, code=0x08, compress=False):
    header = struct.pack(">BBBB", 0, 0, code, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    dtype = {0x08: ">u1", 0x0D: ">f4", 0x0C: ">i4"}[code]
    data = header + array.astype(dtype).tobytes()
    opener = gzip.open if compress else open
    with opener(path, "wb") as f:
        f.write(data)


def make_mnist(root, n_train=40, n_test=10, compress=False):
    rng = np.random.default_rng(0)
    suffix = ".gz" if compress else ""
    write_idx(root / (FILES["train_images"] + suffix),
              rng.integers(0, 256, (n_train, 28, 28)), compress=compress)
    write_idx(root / (FILES["train_labels"] + suffix), np.arange(n_train) % 10, compress=compress)
    write_idx(root / (FILES["test_images"] + suffix),
              rng.integers(0, 256, (n_test, 28, 28)), compress=compress)
    write_idx(root / (FILES["test_labels"] + suffix), np.arange(n_test) % 10, compress=compress)


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize(("code", "array"), [
    (0x08, np.arange(24).reshape(2, 3, 4) % 256),
    (0x0D, np.linspace(-1, 1, 6).reshape(3, 2)),
    (0x0C, np.array([-5, 0, 70000])),
])
def test_read_idx_round_trips(tmp_path, compress, code, array):
    path = tmp_path / ("x.idx.gz" if compress else "x.idx")
    write_idx(path, array, code=code, compress=compress)
    out = read_idx(path)
    assert out.shape == array.shape
    np.testing.assert_allclose(out, array, rtol=1e-6)


def test_read_idx_rejects_bad_magic_and_truncation(tmp_path):
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x01\x02\x08\x01\x00\x00\x00\x01\x07")
    with pytest.raises(ValueError, match="bad magic number"):
        read_idx(bad)
    short = tmp_path / "short"
    write_idx(short, np.arange(10))
    short.write_bytes(short.read_bytes()[:-3])
    with pytest.raises(ValueError, match="implies"):
        read_idx(short)


@pytest.mark.parametrize("compress", [False, True])
def test_mnist_task_from_idx_files(tmp_path, compress):
    make_mnist(tmp_path, compress=compress)
    task = tasks.get("mnist", seed=0, data_dir=tmp_path)
    assert (task.size("train"), task.size("val"), task.size("test")) == (36, 4, 10)
    x, y = task.splits["train"]
    assert x.shape[1:] == (28, 28) and float(x.max()) <= 1.0 and y.max() <= 9
    again = tasks.get("mnist", seed=0, data_dir=tmp_path)
    assert (again.splits["val"][1] == task.splits["val"][1]).all()


def test_missing_files_are_named_and_nothing_is_downloaded(tmp_path):
    make_mnist(tmp_path)
    (tmp_path / FILES["test_labels"]).unlink()
    (tmp_path / FILES["train_images"]).unlink()
    with pytest.raises(ValueError, match=f"missing in .*{FILES['train_images']}, "
                                         f"{FILES['test_labels']}.*never"):
        tasks.get("mnist", seed=0, data_dir=tmp_path)


def test_mnist_without_data_dir_says_how_to_give_it(tmp_path):
    with pytest.raises(ValueError, match="--data-dir"):
        tasks.get("mnist", seed=0)
    with pytest.raises(ValueError, match="does not exist"):
        tasks.get("mnist", seed=0, data_dir=tmp_path / "absent")
