"""A new regularizer is one file plus one registry line: everything else derives from its
declaration (config keys, flags, validation, experiment keys, Optuna parameters)."""

from __future__ import annotations

import optuna
import pytest
import torch

from study import regularizers
from study.cli import main
from study.nde import solve_ode
from study.search import experiment as experiments
from study.train import TrainConfig
from tests.nde.fields import MLPField
from tests.regularizers.plugin import LastSteps


@pytest.fixture
def registered(monkeypatch):
    monkeypatch.setitem(regularizers._REGISTRY, LastSteps.name, LastSteps)  # the registry line


def test_the_declaration_drives_config_flags_and_validation(registered, capsys):
    config = TrainConfig(regularizer="last-steps", count="3")
    assert config.options == {"count": 3} and config.to_dict()["count"] == 3
    with pytest.raises(ValueError, match=r"count must be an integer in \[1, 5\], got 9"):
        TrainConfig(regularizer="last-steps", count=9)
    with pytest.raises(ValueError, match="the options of 'last-steps' are: count"):
        TrainConfig(regularizer="last-steps", sampling="biased")
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--count COUNT last-steps: how many of the last accepted steps [1]" in help_text


def test_it_regularizes_a_solve(registered):
    field = MLPField(scale=2.0).double()
    y0 = torch.randn(4, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    t = torch.tensor([0.0, 1.0], dtype=torch.float64)
    _, one = solve_ode(field, y0, t, regularizer=regularizers.make("last-steps"))
    _, three = solve_ode(field, y0, t, regularizer=regularizers.make("last-steps", count=3))
    assert 0 < float(one.reg.detach()) < float(three.reg.detach())
    (grad,) = torch.autograd.grad(three.reg, next(field.parameters()))
    assert torch.count_nonzero(grad) > 0


def test_its_options_are_experiment_keys_and_optuna_parameters(registered):
    exp = experiments.Experiment.from_dict({
        "regularizers": ["none", "last-steps"], "trials": 2,
        "train": {"task": "digits"},
        "search": {"last-steps": {"count": {"low": 1, "high": 4},
                                  "weight": {"low": 0.01, "high": 1.0, "log": True}}},
    })
    _, params = exp.space("last-steps")
    assert {p.name: p.integer for p in params} == {"count": True, "weight": False}
    study = optuna.create_study(directions=["maximize", "minimize"])
    config = exp.config("last-steps", study.ask())
    assert set(study.trials[0].params) == {"count", "weight"}
    assert isinstance(config["count"], int) and config["regularizer"] == "last-steps"
    with pytest.raises(experiments.ExperimentError, match=r"count = 9.*an integer in"):
        experiments.Experiment.from_dict({
            "regularizers": ["last-steps"], "trials": 1,
            "search": {"last-steps": {"count": {"low": 1, "high": 9}}}})
    with pytest.raises(experiments.ExperimentError, match="an option of last-steps only"):
        experiments.Experiment.from_dict({"regularizers": ["last-steps"], "trials": 1,
                                          "search": {"count": [1, 2]}})


@pytest.mark.parametrize(("spec", "message"), [
    ("tests.regularizers.nope:X", "cannot import module 'tests.regularizers.nope'"),
    ("tests.regularizers.plugin:Missing", "has no 'Missing'"),
    ("tests.regularizers.plugin:NotARegularizer", "is not a subclass of"),
])
def test_a_bad_import_path_is_one_line(spec, message, capsys):
    assert main(["train", "--regularizer", spec]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_a_regularizer_by_import_path_needs_no_registration():
    config = TrainConfig(regularizer="tests.regularizers.plugin:LastSteps", count=2)
    assert config.make_regularizer().count == 2
    assert "tests.regularizers.plugin:LastSteps" not in regularizers.names()
