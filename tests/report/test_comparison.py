"""Fronts, reference points, hypervolumes, bootstrap intervals and verdicts on hand-made studies.

These studies hold synthetic values only (no checkpoints): they test the arithmetic and the
rules, not any method. A configuration is (validation quality, cost, {seed: test quality}); its
search trial has seed 0 and its replicates the other seeds.
"""

import random

import numpy as np
import optuna
import optuna_dashboard
import pytest
from optuna._hypervolume import compute_hypervolume
from optuna.distributions import FloatDistribution, IntDistribution

from study.report import ReportError, analyse, compare, parse_formats
from study.report.dashboard import publish
from study.report.pareto import default_reference, hypervolume, hypervolume_history
from study.report.stats import NO_VERDICT

COST = "predict_nfe_warm"


def _studies(configs, *, quality="accuracy", direction="maximize", report=None):
    """A search study and a replicate study of one regularizer from ``configs``."""
    search = optuna.create_study(directions=[direction, "minimize"])
    search.set_metric_names([f"val_{quality}", COST])
    search.set_user_attr("experiment", {"report": report or {}})
    search.set_user_attr("budget", len(configs))
    copies = optuna.create_study(directions=[direction, "minimize"])
    copies.set_metric_names([f"val_{quality}", COST])
    seeds = max(len(tests) for _, _, tests in configs)
    copies.set_user_attr("replicates", seeds)
    dist = {"x": FloatDistribution(0, 1)}
    ints = IntDistribution(0, 2**31 - 1)
    for i, (val, cost, tests) in enumerate(configs):
        def attrs(seed, val=val, cost=cost, tests=tests):
            return {f"val_{quality}": val, f"test_{quality}": tests[seed], COST: cost,
                    "predict_nfe": cost + 10, "train_seconds": 2.0, "config": {"seed": seed}}
        search.add_trial(optuna.trial.create_trial(
            values=[val, cost], params={"x": i / 10}, distributions=dist, user_attrs=attrs(0)))
        for seed in sorted(tests)[1:]:
            copies.add_trial(optuna.trial.create_trial(
                values=[val, cost], params={"x": i / 10, "replicate_of": i, "seed": seed},
                distributions={**dist, "replicate_of": ints, "seed": ints},
                user_attrs=attrs(seed)))
    return search, copies


def _compare(by_regularizer, **kwargs):
    pairs = {r: _studies(c, **kwargs) for r, c in by_regularizer.items()}
    return compare("exp", {r: p[0] for r, p in pairs.items()},
                   {r: p[1] for r, p in pairs.items()})


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


def test_the_fallback_reference_is_the_nadir_pushed_out_by_a_tenth_of_the_range():
    assert default_reference([(0.0, 10.0), (2.0, 30.0)]) == pytest.approx((2.2, 32.0))
    assert default_reference([(-0.9, 20.0)]) == pytest.approx((-0.81, 22.0))


def test_the_default_reference_comes_from_vanillas_replicated_means_not_one_trial():
    c = _compare({
        # vanilla's most accurate configuration on validation is the first: test mean 0.90.
        "none": [(0.93, 20, {0: 0.92, 1: 0.90, 2: 0.88}), (0.91, 12, {0: 0.85, 1: 0.86, 2: 0.87}),
                 (0.10, 2, {0: 0.10, 1: 0.10, 2: 0.10})],  # a diverged-looking trial
        "local": [(0.92, 8, {0: 0.90, 1: 0.91, 2: 0.89})],
    })
    assert c.reference == pytest.approx((0.90 * 0.9, 20 * 1.5))
    assert "vanilla's most accurate configuration (trial 0, 3 seed(s))" in c.reference_source
    # The test hypervolume is recomputed from the configurations' means over seeds.
    q, n = c.reference
    assert c.methods["local"].test_hypervolume == pytest.approx((0.90 - q) * (n - 8))
    assert c.box() == pytest.approx((1 - q) * n)


def test_a_stated_reference_is_used_as_given_and_for_loss_too():
    studies = {
        r: _studies(configs, quality="loss", direction="minimize",
                    report={"reference": {"quality": 1.0, "nfe": 40}})
        for r, configs in {"none": [(0.5, 30, {0: 0.5, 1: 0.5})],
                           "local": [(0.4, 20, {0: 0.4, 1: 0.4})]}.items()
    }
    c = compare("exp", {r: s for r, (s, _) in studies.items()},
                {r: s for r, (_, s) in studies.items()})
    assert c.reference == (1.0, 40.0) and c.reference_source == "stated in the experiment"
    assert not c.maximize_quality and c.test_metric == "test_loss"
    assert c.methods["none"].test_hypervolume == pytest.approx(0.5 * 10)
    assert c.methods["local"].test_hypervolume == pytest.approx(0.6 * 20)
    overridden = compare("exp", {r: s for r, (s, _) in studies.items()}, reference=(2.0, 50))
    assert overridden.reference == (2.0, 50.0)


def test_a_configuration_that_falls_off_when_replicated_is_reported():
    c = _compare({
        "none": [(0.95, 30, {0: 0.95, 1: 0.95, 2: 0.95})],
        # Trial 0 is on the validation front (best validation), but its test mean is worse
        # than trial 1's at a lower cost.
        "local": [(0.99, 20, {0: 0.99, 1: 0.80, 2: 0.80}), (0.97, 10, {0: 0.95, 1: 0.95, 2: 0.95})],
    })
    local = c.methods["local"]
    assert [t.number for t in local.front] == [1, 0]
    assert [cfg.trial.number for cfg in local.test_front] == [1]
    assert analyse(c).moved == {"none": [], "local": [0]}


def test_verdicts_follow_the_bootstrap_intervals():
    clearly = _compare({
        "none": [(0.90, 40, {0: 0.90, 1: 0.91, 2: 0.89, 3: 0.90})],
        "local": [(0.92, 10, {0: 0.92, 1: 0.93, 2: 0.92, 3: 0.91})],
    })
    analysis = analyse(clearly)
    (versus,) = analysis.versus
    assert analysis.seeds == [0, 1, 2, 3]
    assert versus.hypervolume.verdict == "local better" and versus.hypervolume.low > 0
    assert versus.quality.verdict == "local better"
    assert versus.quality.estimate == pytest.approx(0.92 - 0.90)
    assert versus.cost_ratio == pytest.approx(10 / 40)
    # Deterministic: the same intervals again.
    assert analyse(clearly).versus[0].quality == versus.quality

    noisy = _compare({
        "none": [(0.90, 10, {0: 0.95, 1: 0.85, 2: 0.90})],
        "local": [(0.90, 10, {0: 0.85, 1: 0.95, 2: 0.91})],
    })
    (versus,) = analyse(noisy).versus
    assert versus.quality.low < 0 < versus.quality.high
    assert versus.quality.verdict == "not distinguishable at this budget"


def test_matched_cost_needs_a_local_configuration_at_most_as_costly():
    c = _compare({
        "none": [(0.90, 10, {0: 0.90, 1: 0.90})],
        "local": [(0.95, 20, {0: 0.95, 1: 0.95})],
    })
    (versus,) = analyse(c).versus
    assert versus.baseline_config.trial.number == 0
    assert versus.local_config is None and versus.quality is None


def test_one_seed_gives_no_interval_and_no_verdict():
    c = _compare({"none": [(0.9, 20, {0: 0.9})], "local": [(0.95, 10, {0: 0.95})]})
    (versus,) = analyse(c).versus
    assert versus.hypervolume.verdict == NO_VERDICT and versus.quality.verdict == NO_VERDICT


def test_mixed_quality_metrics_are_refused():
    none, _ = _studies([(0.9, 3, {0: 0.9})])
    local, _ = _studies([(0.1, 3, {0: 0.1})], quality="loss", direction="minimize")
    with pytest.raises(ReportError, match="mixes objectives"):
        compare("exp", {"none": none, "local": local})


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


def _pair():
    return _compare({"none": [(0.9, 30, {0: 0.9, 1: 0.9})],
                     "local": [(0.95, 20, {0: 0.95, 1: 0.95})]})


def test_publishing_again_replaces_the_summary_and_keeps_a_persons_notes():
    c = _pair()
    study = c.methods["local"].study
    assert publish(c, "# exp: the summary", {})
    note = optuna_dashboard.get_note(study)
    assert note.startswith("# exp: the summary")
    optuna_dashboard.save_note(study, note + "\nrerun with a larger budget\n")
    assert publish(c, "# exp: the summary", {})
    again = optuna_dashboard.get_note(study)
    assert again.count("# exp: the summary") == 1
    assert again.rstrip().endswith("rerun with a larger budget")


def test_the_dashboard_refreshes_a_saved_comparison_only_when_trials_were_added():
    c = _pair()
    assert publish(c, "note", {}, if_stale=True)
    assert not publish(c, "note", {}, if_stale=True)
    none = c.methods["none"].study
    none.add_trial(optuna.trial.create_trial(values=[0.92, 25]))
    assert publish(compare("exp", {r: m.study for r, m in c.methods.items()}), "note", {},
                   if_stale=True)
