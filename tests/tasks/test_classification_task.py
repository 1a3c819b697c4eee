"""``ClassificationTask``: user tensors in, the standard neural ODE classifier out."""

import numpy as np
import pytest
import torch

from study import regularizers
from study.tasks import ClassificationTask, SolverSettings


def _pairs(n=12, shape=(2, 3)):
    x = torch.randn(n, *shape)
    y = torch.arange(n) % 4
    return (x[:6], y[:6]), (x[6:9], y[6:9]), (x[9:], y[9:])


def test_standard_classifier_gives_logits_and_solver_statistics():
    train, val, test = _pairs()
    task = ClassificationTask(train=train, val=val, test=test, width=5, hidden=7)
    assert task.n_classes == 4 and task.quality == "accuracy"
    model = task.build_model(SolverSettings(regularizer=regularizers.make("local")))
    out = model(train[0])
    assert out.shape == (6, 4)
    assert model.info.nfe > 0 and model.info.reg_nfe > 0  # training mode: the regularizer runs
    loss = task.loss(out, train[1])
    assert loss.ndim == 0
    assert 0 <= task.score(out, train[1]) <= 6


def test_numpy_and_integer_features_are_accepted():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 16, size=(9, 4))
    y = np.arange(9) % 3
    task = ClassificationTask(train=(x[:3], y[:3]), val=(x[3:6], y[3:6]), test=(x[6:], y[6:]))
    assert task.splits["train"][0].dtype == torch.get_default_dtype()
    assert task.splits["train"][1].dtype == torch.long


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"train": (torch.randn(4, 2), torch.zeros(3, dtype=torch.long))}, "differ in length"),
    ({"train": (torch.randn(4, 2), torch.zeros(4))}, "integer class labels"),
    ({"train": (torch.randn(4, 3), torch.zeros(4, dtype=torch.long))}, "feature shapes"),
    ({"train": (torch.randn(4), torch.zeros(4, dtype=torch.long))}, "batch dimension"),
    ({"train": (torch.randn(4, 2),)}, "must be a pair"),
    ({"train": (torch.randn(0, 2), torch.zeros(0, dtype=torch.long))}, "empty"),
])
def test_bad_tensors_are_rejected_with_a_reason(kwargs, message):
    base = {
        "train": (torch.randn(4, 2), torch.zeros(4, dtype=torch.long)),
        "val": (torch.randn(2, 2), torch.zeros(2, dtype=torch.long)),
        "test": (torch.randn(2, 2), torch.zeros(2, dtype=torch.long)),
    }
    with pytest.raises(ValueError, match=message):
        ClassificationTask(**{**base, **kwargs})


def test_batches_cover_a_split_in_order_or_shuffled():
    _, val, test = _pairs(n=30)
    train = (torch.randn(20, 2, 3), torch.arange(20) % 2)
    task = ClassificationTask(train=train, val=val, test=test)
    in_order = torch.cat([y for _, y in task.batches("train", 7)])
    assert torch.equal(in_order, task.splits["train"][1])
    g = torch.Generator().manual_seed(0)
    shuffled = [len(y) for _, y in task.batches("train", 7, generator=g)]
    assert shuffled == [7, 7, 6]
