"""``TrainConfig``: defaults, validation that names the accepted values, dict round trips."""

import json

import pytest

from study import tasks
from study.train import TrainConfig, field_names, resolve_budget

EXPECTED_FIELDS = [
    "task", "regularizer", "options", "weight", "weight_final", "method", "rtol", "atol",
    "adjoint", "warm_steps", "epochs", "batch_size", "lr", "seed", "device", "data_dir",
    "max_steps",
]


def test_field_names_are_the_project_names():
    assert field_names() == EXPECTED_FIELDS
    config = TrainConfig()
    assert (config.task, config.regularizer, config.options, config.method) == (
        "digits", "none", {}, "dopri5")
    assert config.weight is None and config.epochs is None and config.adjoint is False
    assert config.max_steps >= 100
    # The regularizer's options are filled with their declared defaults, and written flat.
    local = TrainConfig(regularizer="local")
    assert local.options == {"sampling": "unbiased", "estimate": "error", "samples": 1,
                             "norm": "batch", "objective": "error"}
    assert list(local.to_dict())[:4] == ["task", "regularizer", "sampling", "estimate"]


def test_dict_round_trip_is_json_able():
    config = TrainConfig(task="spiral", regularizer="local", sampling="biased", weight=2.5,
                         weight_final=1.0, rtol=1e-8, adjoint="seminorm", seed=3)
    data = json.loads(json.dumps(config.to_dict()))
    assert TrainConfig.from_dict(data) == config
    assert data["adjoint"] == "seminorm" and data["weight_final"] == 1.0


def test_strings_are_coerced_like_cli_values():
    config = TrainConfig.from_dict({"regularizer": "taynode", "rtol": "1e-8", "epochs": "3",
                                    "adjoint": "true", "order": "3", "weight": "0.5"})
    assert (config.rtol, config.epochs, config.adjoint, config.options["order"],
            config.weight) == (1e-8, 3, True, 3, 0.5)
    assert TrainConfig(adjoint="false").adjoint is False


@pytest.mark.parametrize(("values", "message"), [
    ({"regularizer": "l2"}, "unknown regularizer 'l2': accepted are none, local"),
    ({"regularizer": "local", "sampling": "random"},
     "unknown sampling 'random': accepted are 'unbiased', 'biased'"),
    ({"regularizer": "local", "estimate": "x"}, "accepted are 'error', 'stiffness'"),
    ({"regularizer": "taynode", "order": 4}, "unknown order 4: accepted are 2, 3"),
    ({"order": 3}, r"order: not an option of regularizer 'none' \(an option of taynode\)"),
    ({"regularizer": "local", "b": 0.2},
     "b: not an option of regularizer 'local'.*the options of 'local' are: sampling, estimate"),
    ({"regularizer": "steer", "weight": 1.0}, "regularizer 'steer' adds no penalty"),
    ({"method": "rk4"}, "unknown method 'rk4': accepted are 'dopri5'"),
    ({"rtol": 0}, "rtol must be a positive"),
    ({"rtol": "abc"}, "rtol must be a number, got 'abc'"),
    ({"atol": -1}, "atol must be a non-negative"),
    ({"regularizer": "local", "weight": -2}, "weight must be a non-negative"),
    ({"regularizer": "local", "weight": float("inf")}, "weight must be a non-negative number"),
    ({"adjoint": "maybe"}, "unknown adjoint 'maybe': accepted are false, true and seminorm"),
    ({"epochs": 0}, "epochs must be an integer of at least 1"),
    ({"batch_size": 2.5}, "batch_size must be an integer"),
    ({"seed": -1}, "seed must be an integer of at least 0"),
    ({"device": "gpu"}, "unknown device 'gpu': accepted are auto, cpu, cuda and cuda:N"),
    ({"task": "nonsense"}, "unknown task 'nonsense': accepted are digits"),
    ({"max_steps": 0}, "max_steps must be an integer of at least 1"),
    ({"regularizer": "steer", "b": 0}, "b must be a positive"),
    ({"regularizer": "global-error", "adjoint": True}, "cannot be combined"),
    ({"colour": "red"}, "unknown configuration field.*colour.*accepted are task, regularizer"),
    # What the task refuses, known without loading it: its solver's kind, its last time gap.
    ({"method": "milstein"}, "method 'milstein' solves SDEs and task 'digits' is an ODE task: "
     "accepted are dopri5, bosh3, adaptive_heun, fehlberg2, dopri8"),
    ({"task": "spiral-sde", "method": "dopri5"}, "method 'dopri5' solves ODEs and task "
     "'spiral-sde' is an SDE task: accepted are euler, milstein, srk"),
    ({"regularizer": "steer", "b": 1.0}, "steer needs 0 < b < 1, the last time gap of task "
     "'digits'"),
    ({"task": "vowels", "regularizer": "steer", "b": 1.5}, "steer needs 0 < b < 1"),
    ({"task": "spiral", "regularizer": "steer", "b": 2}, "steer needs 0 < b < 1"),
])
def test_bad_values_name_themselves_and_the_accepted_ones(values, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig.from_dict(values)


@pytest.mark.parametrize(("regularizer", "given", "options"), [
    ("none", {}, {}),
    ("local", {"sampling": "biased"}, {"sampling": "biased", "estimate": "error", "samples": 1,
                                       "norm": "batch", "objective": "error"}),
    ("taynode", {}, {"order": 2}),
    ("rnode", {"jacobian": 0.5}, {"kinetic": 1.0, "jacobian": 0.5}),
    ("steer", {"b": 0.25}, {"b": 0.25}),
])
def test_the_regularizers_declared_options_are_passed(regularizer, given, options):
    config = TrainConfig(regularizer=regularizer, **given)
    assert config.options == options
    made = config.make_regularizer()
    assert made.name == regularizer and made.option_values() == options


def test_budget_and_schedule_default_to_the_task():
    task = tasks.get("spiral", seed=0)
    default_weight = task.defaults.weights["local"]
    default_final = task.defaults.weight_finals.get("local")
    budget = resolve_budget(TrainConfig(task="spiral", regularizer="local"), task)
    assert (budget.epochs, budget.batch_size, budget.lr) == (
        task.defaults.epochs, task.defaults.batch_size, task.defaults.lr)
    assert (budget.weight, budget.weight_final) == (default_weight, default_final)
    # weight alone: constant; weight_final alone: decay from the task's default weight
    assert resolve_budget(TrainConfig(regularizer="local", weight=2.0), task).weight_final is None
    decay = resolve_budget(TrainConfig(regularizer="local", weight_final=0.01), task)
    assert (decay.weight, decay.weight_final) == (default_weight, 0.01)
    given = resolve_budget(TrainConfig(epochs=2, batch_size=8, lr=0.1), task)
    assert (given.epochs, given.batch_size, given.lr) == (2, 8, 0.1)
