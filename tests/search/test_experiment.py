"""Experiments from TOML: shipped defaults, overrides, and bad input refused before any write."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from study.cli import main
from study.search import experiment as experiments
from study.search.errors import ExperimentError
from tests.search.helpers import TINY, write_experiment


def test_shipped_experiments_load_with_their_objectives():
    assert {"digits", "spiral"} <= set(experiments.shipped())
    digits = experiments.load(experiment="digits")
    assert digits.quality() == ("val_accuracy", "maximize")
    assert "local" in digits.regularizers and "none" in digits.regularizers
    assert experiments.load(experiment="spiral").quality() == ("val_loss", "minimize")


def test_overrides_and_trial_configs(tmp_path):
    base = experiments.load(config=write_experiment(tmp_path, trials=6))
    exp = base.with_overrides(regularizers=["local"], trials=2, epochs=3)
    assert exp.regularizers == ("local",) and exp.trials == 2 and exp.train["epochs"] == 3
    assert "none" not in exp.to_dict()["search"]  # only the compared regularizers are stored
    config = exp.config("local", optuna.trial.FixedTrial(
        {"rtol": 1e-3, "weight": 2.0, "sampling": "biased"}))
    assert config["regularizer"] == "local" and config["weight"] == 2.0
    assert config["sampling"] == "biased" and config["atol"] == 1e-4
    fixed, params = exp.space("local")
    assert fixed == {} and {p.name for p in params} == {"rtol", "weight", "sampling"}
    with pytest.raises(ExperimentError, match="unknown regularizer 'nope'"):
        base.with_overrides(regularizers=["none", "nope"])


ONE = TINY.format(trials=2, replicates=1)
BAD = {
    "malformed TOML": ("trials = [1,", "malformed TOML"),
    "unknown regularizer": (ONE.replace('"local"]', '"lokal"]', 1),
                            "unknown regularizer 'lokal'"),
    "low above high": (ONE.replace("low = 0.1, high = 10.0",
                                                     "low = 10.0, high = 0.1"),
                       "impossible range"),
    "log range from zero": (ONE.replace("low = 1e-4, high = 1e-2",
                                                          "low = 0.0, high = 1e-2"),
                            "impossible log-scale range"),
    "unknown choice": (ONE.replace('"biased"]', '"sideways"]'),
                       "unknown sampling 'sideways'"),
    "option of another regularizer": (ONE + "[search.none]\norder = [2, 3]\n",
                                      "not an option of regularizer 'none'"),
    "unknown setting": (ONE.replace("epochs = 1", "epoch = 1"),
                        "not a training setting"),
    # Experiments whose every trial would fail in training.
    "SDE method on an ODE task": (
        ONE.replace("epochs = 1", 'epochs = 1\nmethod = "milstein"'),
        "method 'milstein' solves SDEs and task 'digits' is an ODE task: "
        "accepted are dopri5, bosh3, adaptive_heun, fehlberg2, dopri8"),
    "STEER's b beyond the task's last time gap": (
        ONE.replace('"local"]', '"local", "steer"]', 1)
        + "[search.steer]\nb = { low = 0.5, high = 1.5 }\n",
        "[search.steer] b = 1.5: steer needs 0 < b < 1, the last time gap of task 'digits'"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_experiment_files_fail_cleanly_and_write_nothing(case, tmp_path, monkeypatch,
                                                             capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("STUDY_STORAGE", raising=False)
    text, message = BAD[case]
    Path("bad.toml").write_text(text)
    assert main(["create", "--name", "x", "--config", "bad.toml"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("study: error:") and message in err and "\n" not in err
    assert not Path("runs").exists()


@pytest.mark.parametrize("args, message", [
    (["--experiment", "nope"], "unknown experiment 'nope'"),
    (["--experiment", "digits", "--regularizers", "none,lokal"], "unknown regularizer 'lokal'"),
    (["--experiment", "digits", "--trials", "0"], "--trials 0"),
    (["--config", "missing.toml"], "cannot read experiment file"),
    (["--experiment", "digits", "--name", "a.b"], "bad experiment name"),
])
def test_bad_command_lines_fail_cleanly_and_write_nothing(args, message, tmp_path, monkeypatch,
                                                          capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("STUDY_STORAGE", raising=False)
    name = [] if "--name" in args else ["--name", "x"]
    assert main(["create", *name, *args]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err
    assert not Path("runs").exists()


def test_the_paper_protocol_experiment_fixes_the_papers_settings():
    paper = experiments.load(experiment="vowels-paper")
    config = paper.config("local", optuna.trial.FixedTrial({}))
    assert (config["method"], config["rtol"], config["atol"]) == ("dopri5", 1.4e-8, 1.4e-8)
    assert config["sampling"] == "unbiased"
    assert config["weight"] / config["weight_final"] == pytest.approx(10.0)
    assert paper.config("none", optuna.trial.FixedTrial({}))["rtol"] == 1.4e-8
