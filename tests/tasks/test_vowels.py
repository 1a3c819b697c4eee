"""The ``vowels`` task: JapaneseVowels from the aeon package, masks, splits, the missing extra."""

from __future__ import annotations

import math
import socket
import subprocess
import sys
import urllib.request

import numpy as np
import pytest
import torch

from study import regularizers, tasks
from study.regularizers import STEER
from study.search import experiment as experiments
from study.tasks import SolverSettings
from study.tasks.vowels import (
    CHANNELS,
    MAX_FRAMES,
    MISSING_AEON,
    frame_masks,
    load_utterances,
    pool,
)
from study.train import TrainConfig, train


def test_importing_the_tasks_does_not_import_aeon():
    code = ("import sys, study.tasks, study.tasks.vowels; "
            "assert 'aeon' not in sys.modules, 'aeon imported'; "
            "assert 'vowels' in study.tasks.names()")
    subprocess.run([sys.executable, "-c", code], check=True)
    assert tasks.quality("vowels") == ("val_loss", "minimize")


def test_loading_reads_the_packaged_files_and_never_the_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the vowels task tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    load_utterances.cache_clear()
    train, test = load_utterances()
    assert len(train) == 270 and len(test) == 370
    lengths = [len(u) for u in train + test]
    assert min(lengths) == 7 and max(lengths) == MAX_FRAMES == 29
    assert all(u.shape[1] == CHANNELS == 12 and np.isfinite(u).all() for u in train + test)


def test_a_missing_aeon_names_the_extra(monkeypatch):
    load_utterances.cache_clear()
    monkeypatch.setitem(sys.modules, "aeon", None)
    monkeypatch.setitem(sys.modules, "aeon.datasets", None)
    with pytest.raises(ValueError, match=r"needs the optional package aeon") as info:
        tasks.get("vowels", seed=0)
    assert str(info.value) == MISSING_AEON and "\n" not in MISSING_AEON
    assert "pip install 'study[vowels]'" in MISSING_AEON
    load_utterances.cache_clear()


def test_masks_hide_targets_skip_padding_and_extrapolate_the_last_frames():
    data = pool()
    lengths = data["lengths"]
    valid, observed, interp, extrap = (data[k] for k in ("valid", "observed", "interp", "extrap"))
    assert valid.shape == (640, MAX_FRAMES) and data["values"].shape == (640, MAX_FRAMES, 12)
    assert not (observed & interp).any() and not (observed & extrap).any()
    assert not (interp & extrap).any()
    assert np.array_equal(observed | interp | extrap, valid)  # padding is in no mask
    assert np.array_equal(valid.sum(axis=1), lengths)
    assert np.all(data["values"][~valid] == 0)
    for i, length in enumerate(lengths):
        n_extrap = math.ceil(length / 5)
        assert np.flatnonzero(extrap[i]).tolist() == list(range(length - n_extrap, length))
        window = length - n_extrap
        assert interp[i].sum() == window // 2 and observed[i].sum() == window - window // 2
    # the same targets for every run
    again = frame_masks(lengths)
    assert all(np.array_equal(again[k], data[k]) for k in ("observed", "interp", "extrap"))


def test_splits_are_deterministic_disjoint_and_hide_the_targets():
    a, b, c = (tasks.get("vowels", seed=s) for s in (0, 0, 1))
    assert [a.size(s) for s in tasks.SPLITS] == [216, 54, 370]
    idx = a.indices
    assert set(idx["train"]).isdisjoint(idx["val"])
    assert set(idx["train"]) | set(idx["val"]) == set(range(270))
    assert idx["test"].tolist() == list(range(270, 640))
    for split in tasks.SPLITS:
        assert np.array_equal(a.indices[split], b.indices[split])
    assert np.array_equal(a.indices["test"], c.indices["test"])
    assert not np.array_equal(a.indices["val"], c.indices["val"])
    for split in tasks.SPLITS:
        (values_in, seen, lengths), (values, target) = a.splits[split]
        i = a.indices[split]
        assert torch.equal(seen, torch.as_tensor(a.masks["observed"][i]))
        assert torch.equal(target, torch.as_tensor(a.masks["interp"][i] | a.masks["extrap"][i]))
        assert torch.all(values_in[~seen] == 0) and not (seen & target).any()
        assert torch.equal(lengths, torch.as_tensor(a.masks["valid"][i].sum(axis=1)))
    # standardised with the training split's statistics
    (_, _, _), (values, _) = a.splits["train"]
    frames = values[torch.as_tensor(a.masks["valid"][a.indices["train"]])]
    assert torch.allclose(frames.mean(dim=0), torch.zeros(12), atol=1e-4)
    assert torch.allclose(frames.std(dim=0), torch.ones(12), atol=1e-2)


def test_the_loss_counts_target_frames_only():
    task = tasks.get("vowels", seed=0)
    (_, _, lengths), (values, target) = task.splits["val"]
    output = values[:, : int(lengths.max())].clone()
    assert task.loss(output, (values, target)) == 0
    output[~target[:, : output.shape[1]]] += 5.0  # observed and padded frames
    assert task.loss(output, (values, target)) == 0
    output[target[:, : output.shape[1]]] += 1.0
    assert task.loss(output, (values, target)) == pytest.approx(1.0)
    assert task.score(output, (values, target)) == pytest.approx(task.size("val"))


def test_the_model_steers_with_the_default_b_and_predicts_every_frame():
    task = tasks.get("vowels", seed=0)
    default_b = TrainConfig(regularizer="steer").options["b"]
    assert torch.all(torch.diff(task.times) == 1.0) and default_b < 1.0
    torch.manual_seed(0)
    model = task.build_model(SolverSettings(regularizer=STEER(b=default_b), rtol=1e-3,
                                            atol=1e-3))
    inputs, _ = next(task.batches("train", 8))
    model.train()
    output = model(inputs)
    assert output.shape == (8, int(inputs[2].max()), 12) and torch.isfinite(output).all()
    config = TrainConfig(task="vowels", regularizer="steer")
    assert config.options == {"b": 0.5}


def test_defaults_cover_every_regularizer_and_the_experiment_loads():
    task = tasks.get("vowels", seed=0)
    for reg in regularizers.names():
        assert (reg in task.defaults.weights) == regularizers.resolve(reg).penalised
    assert experiments.load(experiment="vowels").quality() == ("val_loss", "minimize")
    assert "vowels" in experiments.shipped()


def test_one_epoch_with_the_local_regularizer():
    record = train({"task": "vowels", "regularizer": "local", "epochs": 1, "batch_size": 64,
                    "rtol": 1e-4, "atol": 1e-4, "device": "cpu"})
    assert record["val_loss"] > 0 and math.isfinite(record["test_loss"])
    assert record["train_nfe_forward"] > 0 and (record["predict_nfe"] - 2) % 6 == 0
