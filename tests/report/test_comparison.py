"""Hypervolumes, reference points and local-vs-baseline pairs on hand-made objective values.

These studies hold synthetic objective values only (no metrics, no checkpoints): they test the
arithmetic, not any method.
"""

import random

import numpy as np
import optuna
import optuna_dashboard
import pytest
from optuna._hypervolume import compute_hypervolume

from study.report import ReportError, compare, parse_formats, publish
from study.report.pareto import default_reference, hypervolume, hypervolume_history
from study.report.tables import pairs


def _study(values, *, metric="val_accuracy", direction="maximize"):
    study = optuna.create_study(directions=[direction, "minimize"])
    study.set_metric_names([metric, "predict_nfe"])
    for v in values:
        study.add_trial(optuna.trial.create_trial(values=list(v)))
    return study


def test_hypervolume_of_a_staircase_by_hand():
    # Rectangles to (4, 4): 3x1 + 2x1 + 1x1; the dominated (3, 3) and the outside (5, 0) add none.
    assert hypervolume([(1, 3), (2, 2), (3, 1), (3, 3), (5, 0)], (4, 4)) == 6.0
    assert hypervolume([], (4, 4)) == 0.0


def test_hypervolume_matches_optuna_on_random_fronts():
    rng = random.Random(0)
    for _ in range(20):
        points = [(rng.uniform(0, 1), rng.uniform(0, 10)) for _ in range(rng.randint(1, 15))]
        reference = (1.1, 11.0)
        expected = compute_hypervolume(np.array(points), np.array(reference))
        assert hypervolume(points, reference) == pytest.approx(expected, rel=1e-12)


def test_history_never_decreases_and_ends_at_the_total():
    points = [(3, 1), (1, 3), (2, 2), (2.5, 2.5)]
    history = hypervolume_history(points, (4, 4))
    assert history == sorted(history)
    assert history[-1] == hypervolume(points, (4, 4))


def test_default_reference_is_the_nadir_pushed_out_by_a_tenth_of_the_range():
    assert default_reference([(0.0, 10.0), (2.0, 30.0)]) == pytest.approx((2.2, 32.0))
    assert default_reference([(-0.9, 20.0)]) == pytest.approx((-0.81, 22.0))


def test_one_reference_point_for_all_regularizers_in_the_objectives_units():
    studies = {
        "none": _study([(0.90, 30), (0.80, 20)]),
        "local": _study([(0.95, 25), (0.70, 10)]),
    }
    c = compare("exp", studies)
    # Worst accuracy 0.70 and NFE 30, pushed out by 10% of the ranges 0.25 and 20.
    assert c.reference == pytest.approx((0.675, 32.0))
    # In the objectives' own units: accuracy above the reference times NFE below it.
    q0, n0 = c.reference
    local = (0.95 - q0) * (n0 - 25) + (0.70 - q0) * (25 - 10)
    assert c.methods["local"].hypervolume == pytest.approx(local)


def test_a_stated_reference_point_is_used_as_given_and_for_val_loss_too():
    studies = {
        "none": _study([(0.5, 30)], metric="val_loss", direction="minimize"),
        "local": _study([(0.4, 20)], metric="val_loss", direction="minimize"),
    }
    c = compare("exp", studies, reference=(1.0, 40))
    assert c.reference == (1.0, 40.0)
    assert not c.maximize_quality
    assert c.methods["none"].hypervolume == pytest.approx(0.5 * 10)
    assert c.methods["local"].hypervolume == pytest.approx(0.6 * 20)


def test_local_is_set_against_each_baselines_most_accurate_front_trial():
    studies = {
        "none": _study([(0.90, 30), (0.80, 20)]),
        "local": _study([(0.95, 40), (0.91, 25), (0.85, 10)]),
        "steer": _study([(0.99, 50)]),
    }
    c = compare("exp", studies)
    by_baseline = {p.baseline: p for p in pairs(c)}
    # Against none's 0.90: the cheapest local trial at least as accurate is 0.91 at NFE 25.
    assert by_baseline["none"].local_trial.values == [0.91, 25]
    assert by_baseline["none"].reaches_quality
    # No local trial reaches steer's 0.99: the most accurate local one, flagged.
    assert by_baseline["steer"].local_trial.values == [0.95, 40]
    assert not by_baseline["steer"].reaches_quality


def test_mixed_quality_metrics_are_refused():
    studies = {
        "none": _study([(0.9, 3)]),
        "local": _study([(0.1, 3)], metric="val_loss", direction="minimize"),
    }
    with pytest.raises(ReportError, match="mixes quality metrics: val_accuracy, val_loss"):
        compare("exp", studies)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("html", ("html",)),
        ("png, SVG,png", ("png", "svg")),
        (["csv", "md"], ("csv", "md")),
    ],
)
def test_formats_are_parsed(text, expected):
    assert parse_formats(text) == expected


@pytest.mark.parametrize("text", ["html,pdf", "", "jpeg"])
def test_unknown_formats_name_the_accepted_ones(text):
    with pytest.raises(ReportError, match="accepted are html, png, svg, csv, md"):
        parse_formats(text)


def test_publishing_again_replaces_the_summary_and_keeps_a_persons_notes():
    studies = {"none": _study([(0.9, 30)]), "local": _study([(0.95, 20)])}
    c = compare("exp", studies)
    assert publish(c)
    note = optuna_dashboard.get_note(studies["local"])
    assert note.startswith("# exp: local regularization vs baselines")
    optuna_dashboard.save_note(studies["local"], note + "\nrerun with a larger budget\n")
    assert publish(c)
    again = optuna_dashboard.get_note(studies["local"])
    assert again.count("# exp: local regularization") == 1
    assert again.rstrip().endswith("rerun with a larger budget")


def test_the_dashboard_refreshes_a_saved_comparison_only_when_trials_were_added():
    studies = {"none": _study([(0.9, 30)]), "local": _study([(0.95, 20)])}
    assert publish(compare("exp", studies), if_stale=True)
    assert not publish(compare("exp", studies), if_stale=True)
    studies["none"].add_trial(optuna.trial.create_trial(values=[0.92, 25]))
    assert publish(compare("exp", studies), if_stale=True)
