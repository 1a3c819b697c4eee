"""Replicates: every front configuration trained again with further seeds, as work items that
workers claim after the search, exactly once each, rerun when their worker is lost."""

from __future__ import annotations

import io
import signal
from collections import Counter

import pytest
from optuna.trial import TrialState

from study.cli import main
from study.search import replicates
from study.search.storage import REPLICATES, experiment_studies, open_storage
from study.search.studies import pareto_front
from study.search.worker import Worker
from tests.search.helpers import env, load, run, study, wait_for_training, write_experiment


def _replicates(url: str, name: str) -> dict:
    return experiment_studies(open_storage(url), name, role=REPLICATES)


def test_every_front_configuration_gets_its_seeds_once_after_the_search(tmp_path, capsys):
    url = str(tmp_path / "study.journal")
    config = str(write_experiment(tmp_path, trials=2, replicates=3))
    assert main(["create", "--name", "rep", "--config", config, "--storage", url]) == 0
    result = Worker(url, "rep", device="cpu", poll=0.1, out=io.StringIO()).run()
    assert result.exit_code == 0, result.message
    searches, copies = load(url, "rep"), _replicates(url, "rep")
    assert set(copies) == {"none", "local"}
    for regularizer, search in searches.items():
        trials = copies[regularizer].get_trials()
        front = pareto_front(search)
        # Exactly the front's configurations, each with the two seeds other than the search's.
        assert Counter(replicates.pair(t) for t in trials) == Counter(
            (t.number, seed) for t in front for seed in (1, 2))
        assert all(t.state == TrialState.COMPLETE for t in trials)
        for t in trials:
            source = search.trials[t.params["replicate_of"]]
            assert {k: v for k, v in t.params.items() if k in source.params} == source.params
            expected = {**source.user_attrs["config"], "seed": t.params["seed"]}
            assert t.user_attrs["config"] == expected
            assert "test_accuracy" in t.user_attrs and "predict_nfe_warm" in t.user_attrs
        assert [t.state for t in search.get_trials()] == [TrialState.COMPLETE] * 2
    capsys.readouterr()
    assert main(["status", "--name", "rep", "--storage", url]) == 0
    status = capsys.readouterr().out
    total = {r: 2 * len(pareto_front(s)) for r, s in searches.items()}
    assert f"{total['local']}/{total['local']}" in status

    # More seeds later: one more run per configuration, and nothing run twice.
    assert main(["replicate", "--name", "rep", "--replicates", "4", "--storage", url]) == 0
    assert "queued" in capsys.readouterr().out
    assert Worker(url, "rep", device="cpu", poll=0.1, out=io.StringIO()).run().exit_code == 0
    for regularizer, copy in _replicates(url, "rep").items():
        pairs = [replicates.pair(t) for t in copy.get_trials()]
        assert len(pairs) == len(set(pairs)) == 3 * len(pareto_front(searches[regularizer]))
        assert {seed for _, seed in pairs} == {1, 2, 3}


@pytest.mark.postgres
def test_a_replicate_whose_worker_is_killed_is_rerun_and_counts_stay_exact(pg_url, tmp_path):
    config = str(write_experiment(tmp_path, trials=1, replicates=2))
    environment = env(STUDY_STORAGE=pg_url)
    assert run("create", "--name", "kill", "--config", config, "--regularizers", "local",
               cwd=tmp_path, environment=environment).returncode == 0
    worker = ["worker", "--name", "kill", "--heartbeat", "1", "--poll", "0.3", "--device", "cpu"]
    victim = study(*worker, cwd=tmp_path, environment=environment)
    killed = wait_for_training(pg_url, "kill", victim.pid, timeout=180, role=REPLICATES)
    victim.send_signal(signal.SIGKILL)
    victim.communicate(timeout=30)
    survivor = study(*worker, cwd=tmp_path, environment=environment)
    output = survivor.communicate(timeout=180)[0]
    assert survivor.returncode == 0, output
    copies = _replicates(pg_url, "kill")["local"].get_trials()
    lost = next(t for t in copies if t.number == killed.number)
    assert lost.state == TrialState.FAIL and "no heartbeat" in lost.user_attrs["fail_reason"]
    reruns = [t for t in copies if t.system_attrs.get("failed_trial") == killed.number]
    assert len(reruns) == 1 and reruns[0].state == TrialState.COMPLETE
    assert replicates.pair(reruns[0]) == replicates.pair(killed)
    assert reruns[0].user_attrs["config"] == killed.user_attrs["config"]
    assert Counter(t.state for t in copies) == {TrialState.COMPLETE: 1, TrialState.FAIL: 1}
    search = load(pg_url, "kill")["local"]
    progress = replicates.progress(replicates.stored_experiment(search), search,
                                   _replicates(pg_url, "kill")["local"])
    assert (progress.total, progress.complete, progress.failed) == (1, 1, 0)
