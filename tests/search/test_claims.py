"""Abandoned claims: a worker that died after its trial became RUNNING but before its
configuration was recorded. Simulated directly in the storage, so the half claim is exact."""

from __future__ import annotations

import io
import socket
import subprocess
from pathlib import Path

import optuna
from optuna.trial import TrialState

from study.cli import main
from study.search import claims
from study.search.studies import counts
from study.search.worker import Worker
from tests.search.helpers import load, write_experiment

SEARCHED = {"rtol", "weight", "sampling"}  # the tiny experiment's parameters for local


def _scripted(config, *, checkpoint=None, progress=None):
    return {"val_accuracy": 0.5 + config.weight / 100, "test_accuracy": 0.5,
            "predict_nfe": 12.0, "predict_nfe_warm": 10.0 / config.rtol ** 0.1, "epochs": 1,
            "curves": {}}


def _half_claim(url: str, name: str, chosen: int) -> optuna.trial.FrozenTrial:
    """A trial claimed by a worker that died after choosing ``chosen`` of its parameters."""
    gone = subprocess.Popen(["true"])
    gone.wait()  # ended and reaped: no process has its pid
    study = load(url, name)["local"]
    trial = study.ask()
    trial.set_user_attr("worker", f"{socket.gethostname()}:{gone.pid}")
    suggestions = [lambda: trial.suggest_float("rtol", 1e-4, 1e-2, log=True),
                   lambda: trial.suggest_float("weight", 0.1, 10.0, log=True),
                   lambda: trial.suggest_categorical("sampling", ["unbiased", "biased"])]
    for suggest in suggestions[:chosen]:
        suggest()
    return study._storage.get_trial(trial._trial_id)


def _create(tmp_path: Path, name: str) -> str:
    url = str(tmp_path / "study.journal")
    config = write_experiment(tmp_path, 2)
    # A half claim counted as a failure would make the worker give up.
    config.write_text("max_failed = 1\n" + config.read_text())
    assert main(["create", "--name", name, "--config", str(config), "--regularizers", "local",
                 "--storage", url]) == 0
    return url


def _work(url: str, name: str) -> tuple[Worker, str]:
    out = io.StringIO()
    result = Worker(url, name, device="cpu", poll=0.05, train=_scripted, out=out).run()
    assert result.exit_code == 0, out.getvalue()
    return result, out.getvalue()


def test_a_claim_abandoned_before_its_parameters_were_chosen_is_failed_and_not_rerun(tmp_path):
    url = _create(tmp_path, "half")
    half = _half_claim(url, "half", chosen=1)
    assert set(half.params) == {"rtol"} and half.state == TrialState.RUNNING
    _, log = _work(url, "half")
    study = load(url, "half")["local"]
    trials = {t.number: t for t in study.get_trials()}
    reruns = [t for t in trials.values() if t.system_attrs.get("failed_trial") == half.number]
    assert not reruns, [t.params for t in reruns]  # its half-chosen parameters are not a run
    abandoned = trials[half.number]
    assert abandoned.state == TrialState.FAIL
    assert abandoned.user_attrs["fail_reason"] == claims.REASON
    assert abandoned.user_attrs["abandoned_claim"] is True
    assert "not rerun (sampling, weight never chosen" in log
    complete = [t for t in trials.values() if t.state == TrialState.COMPLETE]
    assert len(complete) == 2
    for trial in complete:  # every run is a configuration chosen whole, and recorded as run
        assert set(trial.params) == SEARCHED
        assert {k: trial.user_attrs["config"][k] for k in SEARCHED} == trial.params
    c = counts(study)
    assert (c.complete, c.failed, c.abandoned, c.failures, c.started) == (2, 1, 1, 0, 2)


def test_a_claim_abandoned_after_its_parameters_were_chosen_is_rerun_exactly(tmp_path):
    url = _create(tmp_path, "whole")
    half = _half_claim(url, "whole", chosen=3)
    assert set(half.params) == SEARCHED and "config" not in half.user_attrs
    _work(url, "whole")
    trials = load(url, "whole")["local"].get_trials()
    abandoned = trials[half.number]
    assert abandoned.state == TrialState.FAIL
    assert abandoned.user_attrs["fail_reason"] == claims.REASON
    assert "abandoned_claim" not in abandoned.user_attrs
    rerun, = [t for t in trials if t.system_attrs.get("failed_trial") == half.number]
    assert rerun.state == TrialState.COMPLETE and rerun.params == half.params
    assert {k: rerun.user_attrs["config"][k] for k in SEARCHED} == half.params
    assert [t.state for t in trials].count(TrialState.COMPLETE) == 2
