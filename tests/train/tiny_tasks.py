"""User tasks for the training tests, resolved as ``tests.train.tiny_tasks:<function>``, or as
``tiny_tasks:<function>`` by a subprocess whose working directory is this one."""

import torch

from study.tasks import ClassificationTask


def _data(seed: int) -> dict:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(96, 5, generator=g)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).long()
    return {"train": (x[:64], y[:64]), "val": (x[64:80], y[64:80]), "test": (x[80:], y[80:])}


def small(seed: int) -> ClassificationTask:
    return ClassificationTask(**_data(seed), name="small", width=4, hidden=8, epochs=2,
                              batch_size=32, lr=1e-2)


class _NaNLoss(ClassificationTask):
    def loss(self, output, targets):
        return super().loss(output, targets) * float("nan")


def nan_loss(seed: int) -> ClassificationTask:
    return _NaNLoss(**_data(seed), name="nan-loss", width=4, hidden=8, epochs=2, batch_size=32)


class _NaNGradient(ClassificationTask):
    def loss(self, output, targets):
        # Adds exactly 0, whose gradient is NaN: sqrt's backward at 0 is 0 * inf.
        return super().loss(output, targets) + (output * 0).pow(2).sum().sqrt()


def nan_gradient(seed: int) -> ClassificationTask:
    return _NaNGradient(**_data(seed), name="nan-gradient", width=4, hidden=8, epochs=2,
                        batch_size=32)
