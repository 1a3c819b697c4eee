"""Splits are deterministic for a seed, disjoint, and the test split is the same for every seed."""

import numpy as np
import pytest
import torch

from study import tasks
from study.tasks import split_indices
from study.tasks.spiral import N_INTERP, T_END, T_OBS, generate


def test_split_indices_partition_and_fixed_test_set():
    a = split_indices(100, seed=0, val_fraction=0.25, test_fraction=0.2)
    b = split_indices(100, seed=0, val_fraction=0.25, test_fraction=0.2)
    c = split_indices(100, seed=1, val_fraction=0.25, test_fraction=0.2)
    assert all(np.array_equal(a[s], b[s]) for s in a)
    assert np.array_equal(a["test"], c["test"])
    assert not np.array_equal(a["val"], c["val"])
    everything = np.concatenate([a["train"], a["val"], a["test"]])
    assert sorted(everything) == list(range(100))
    assert (len(a["test"]), len(a["val"]), len(a["train"])) == (20, 20, 60)


def test_split_indices_without_test_fraction_only_splits_train_and_val():
    out = split_indices(10, seed=0, val_fraction=0.3)
    assert set(out) == {"train", "val"}
    assert (len(out["val"]), len(out["train"])) == (3, 7)


def _rows(x):
    return {tuple(r) for r in x.flatten(1).tolist()}


def test_digits_splits_are_deterministic_and_disjoint():
    a, b, c = (tasks.get("digits", seed=s) for s in (0, 0, 1))
    assert sum(a.size(s) for s in tasks.SPLITS) == 1797
    for split in tasks.SPLITS:
        assert torch.equal(a.splits[split][0], b.splits[split][0])
        assert torch.equal(a.splits[split][1], b.splits[split][1])
    assert torch.equal(a.splits["test"][0], c.splits["test"][0])
    assert not torch.equal(a.splits["val"][0], c.splits["val"][0])
    # (a few digits images are duplicates, so compare counts rather than demand disjoint sets)
    assert len(_rows(a.splits["train"][0]) & _rows(a.splits["test"][0])) < 5
    assert a.n_classes == 10


def test_spiral_data_and_splits():
    times, _, observed = generate(20)
    assert times[0] == 0 and times[-1] == T_END
    assert torch.all(torch.diff(times) > 0)
    assert times[-1] - times[-2] >= 1.0  # STEER's b < 1 never crosses a target
    assert not observed[:, N_INTERP:].any() and observed[:, :N_INTERP].any()
    assert torch.all(times[N_INTERP:] > T_OBS)
    a, b, c = (tasks.get("spiral", seed=s) for s in (0, 0, 1))
    (va, ma), ta = a.splits["val"]
    (vb, mb), tb = b.splits["val"]
    assert torch.equal(va, vb) and torch.equal(ma, mb) and torch.equal(ta, tb)
    assert torch.equal(a.splits["test"][1], c.splits["test"][1])
    assert not torch.equal(a.splits["val"][1], c.splits["val"][1])
    # inputs hide what the encoder may not see
    (values_in, mask), _ = a.splits["train"]
    assert torch.all(values_in[~mask] == 0)


@pytest.mark.parametrize("name", ["digits", "spiral", "vowels"])
def test_shipped_tasks_carry_defaults_for_every_regularizer(name):
    from study import regularizers

    task = tasks.get(name, seed=0)
    for reg in regularizers.names():
        # Every regularizer with a penalty has a weight measured on the task.
        assert (reg in task.defaults.weights) == regularizers.resolve(reg).penalised
    assert task.defaults.epochs >= 1 and task.defaults.batch_size >= 1 and task.defaults.lr > 0
