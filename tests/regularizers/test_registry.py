"""The registry and schedules: names, options and errors a person can act on."""

import math

import pytest

from study import regularizers


def test_names_list_every_method():
    assert regularizers.names() == [
        "none", "local", "global-error", "global-stiffness", "taynode", "rnode", "steer"
    ]


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("nope", {}, "unknown regularizer 'nope': accepted are none, local, global-error"),
        ("no.such_module:Reg", {}, "cannot import module 'no.such_module'"),
        ("study.tasks:Task", {}, "not a subclass of study.regularizers.Regularizer"),
        ("local", {"sampling": "sometimes"},
         "unknown sampling 'sometimes': accepted are 'unbiased', 'biased'"),
        ("local", {"estimate": "guess"}, "unknown estimate 'guess': accepted are 'error'"),
        ("local", {"order": 2}, "unknown option.* order for regularizer 'local': accepted are "
                                "sampling, estimate"),
        ("taynode", {"order": 4}, "unknown order 4: accepted are 2, 3"),
        ("steer", {"b": -0.1}, "b must be a positive number, got -0.1"),
        ("rnode", {"kinetic": -1}, "kinetic must be a non-negative number"),
    ],
)
def test_bad_options_name_the_value_and_the_accepted_ones(name, options, message):
    with pytest.raises(ValueError, match=message):
        regularizers.make(name, **options)


def test_options_are_reported_for_storage():
    assert regularizers.make("local", sampling="biased").option_values() == {
        "sampling": "biased", "estimate": "error", "samples": 1, "norm": "batch",
        "objective": "error",
    }
    assert regularizers.option_names("rnode") == ["kinetic", "jacobian"]


def test_constant_and_exponential_schedules():
    assert regularizers.Schedule(2.0).at(123) == 2.0
    decay = regularizers.Schedule(weight=2.5, weight_final=1.0, total_steps=100)
    assert decay.kind == "exponential"
    assert decay.at(0) == pytest.approx(2.5)
    assert decay.at(100) == pytest.approx(1.0)
    assert decay.at(50) == pytest.approx(2.5 * math.exp(-0.5 * math.log(2.5)))
    assert decay.at(10) > decay.at(20) > decay.at(30)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"weight": -1.0}, "weight must be a non-negative number, got -1.0"),
        ({"weight": 1.0, "weight_final": -2.0}, "weight_final must be a non-negative"),
        ({"weight": 1.0, "weight_final": 0.0}, "both positive"),
        ({"weight": "heavy"}, "weight must be a number, got 'heavy'"),
        ({"weight": float("inf")}, "weight must be a non-negative number, got inf"),
    ],
)
def test_bad_weights_raise_value_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        regularizers.Schedule(**kwargs)
