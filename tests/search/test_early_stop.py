"""Pareto-aware early stopping: the dominance rule, and trials that end PRUNED in a real worker
whose training is replaced by a scripted one (so that which trial is dominated is known)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from optuna.trial import TrialState

from study.cli import main
from study.search.early_stop import EarlyStop, dominates
from study.search.experiment import Experiment
from study.search.studies import counts
from study.search.worker import Worker
from study.train import Progress
from tests.search.helpers import load


def test_a_point_is_dominated_only_by_the_margin_in_both_objectives():
    assert dominates((0.95, 10), (0.90, 20), maximize=True, margin=0.0)
    assert not dominates((0.95, 10), (0.90, 20), maximize=True, margin=0.1)  # 0.95 < 0.99
    assert not dominates((0.95, 19), (0.90, 20), maximize=True, margin=0.1)  # 19 > 18
    assert dominates((0.2, 10), (0.5, 20), maximize=False, margin=0.1)
    assert not dominates((0.90, 20), (0.90, 20), maximize=True, margin=0.0)  # the same point


def test_the_rule_is_validated_and_never_stops_at_the_last_epoch():
    assert EarlyStop.from_value(False) is None
    assert EarlyStop.from_value(True) == EarlyStop((0.2, 0.3), 0.0)
    rule = EarlyStop.from_value({"at": [0.5, 0.25, 0.99], "margin": 0.02})
    assert rule.at == (0.25, 0.5, 0.99) and rule.epochs(20) == [5, 10, 19]
    for bad in ({"at": []}, {"at": [1.5]}, {"margin": -1}, {"when": [0.5]}, "soon"):
        with pytest.raises(ValueError):
            EarlyStop.from_value(bad)


def _scripted(config, *, checkpoint=None, progress=None):
    """Two epochs; a weight of at least 1 is accurate and cheap, below it neither."""
    good = config.weight >= 1.0
    quality, nfe = (0.9, 10.0) if good else (0.5, 50.0)
    for epoch in (1, 2):
        progress(Progress(epoch * 10, 20, epoch, 2, 1.0, 20, val=quality, predict_nfe=nfe + 10,
                          predict_nfe_warm=nfe, train_seconds=epoch * 1.5, device_name="cpu"))
    return {"val_accuracy": quality, "test_accuracy": quality, "predict_nfe": nfe + 10,
            "predict_nfe_warm": nfe, "train_seconds": 3.0, "epochs": 2, "curves": {},
            "device_name": "cpu"}


def test_the_trial_cap_defaults_to_the_measured_one_with_early_stopping():
    base = {"regularizers": ["local"], "trials": 15, "train": {"task": "digits"}}
    assert Experiment.from_dict(base).trial_limit == 45  # only failures are replaced
    stopping = {**base, "search": {"early_stop": True}}
    assert Experiment.from_dict(stopping).trial_limit == 16  # benchmarks/early_stop.py's choice
    assert Experiment.from_dict({**stopping, "max_trials": 30}).trial_limit == 30


def test_dominated_trials_end_pruned_without_counting_toward_the_budget(tmp_path: Path):
    # With seed 0 the random sampler draws a strong configuration before weak ones.
    url = str(tmp_path / "study.journal")
    (tmp_path / "stop.toml").write_text(
        'regularizers = ["local"]\ntrials = 3\nreplicates = 1\nsampler = "random"\nseed = 0\n'
        'max_trials = 12\n[train]\ntask = "digits"\nepochs = 2\n'
        '[search]\nearly_stop = { at = [0.5], margin = 0.05 }\n'
        '[search.local]\nweight = { low = 0.01, high = 100.0, log = true }\n')
    assert main(["create", "--name", "stop", "--config", str(tmp_path / "stop.toml"),
                 "--storage", url]) == 0
    result = Worker(url, "stop", device="cpu", poll=0.05, train=_scripted,
                    out=io.StringIO()).run()
    assert result.exit_code == 0, result.message
    study = load(url, "stop")["local"]
    trials = study.get_trials()
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    pruned = [t for t in trials if t.state == TrialState.PRUNED]
    assert len(complete) == 3 and pruned, [(t.state, t.params) for t in trials]
    first_good = min(t.number for t in trials if t.params["weight"] >= 1.0)
    for t in pruned:
        # Only a weak configuration started after a strong one reached epoch 1 is stopped.
        assert t.params["weight"] < 1.0 and t.number > first_good
        assert t.user_attrs["prune_reason"].startswith("dominated at epoch 1 by trial")
        assert t.user_attrs["train_seconds"] == 1.5 and t.user_attrs["early_stop"]["1"]
        assert t.user_attrs["device_name"] == "cpu"  # compute reports name the device
    c = counts(study)
    assert (c.complete, c.pruned) == (3, len(pruned)) and c.started <= 12
