"""`study launch` on the embedded default storage: local workers, no crash, no duplicate."""

from __future__ import annotations

import io
import re
from pathlib import Path

from optuna.trial import TrialState

from study.search.experiment import Experiment
from study.search.launch import _ending
from study.search.storage import backend
from study.search.studies import Counts
from tests.search.helpers import load, run, started_trials, write_experiment


def test_launch_runs_four_local_workers_on_the_embedded_default(tmp_path):
    result = run("launch", "--name", "local", "--workers", "4", "--poll", "0.3", "--device",
                 "cpu", "--config", str(write_experiment(tmp_path, 3)), cwd=tmp_path,
                 timeout=240)
    assert result.returncode == 0, result.stdout
    assert "6/6 trials complete" in result.stdout
    # It ends with a summary per regularizer and the commands to run next.
    summary = result.stdout[result.stdout.index("experiment local:"):].splitlines()
    assert summary[1].split() == ["regularizer", "complete", "failed", "pruned", "replicates"]
    assert summary[2].split() == ["none", "3/3", "0", "0", "-"]
    assert summary[3].split() == ["local", "3/3", "0", "0", "-"]
    assert summary[5] == "Next:" and len(summary) == 8
    assert re.fullmatch(r"  \S*study export --name local --out runs/local-export   # fronts, "
                        r"verdicts, figures", summary[6])
    assert re.fullmatch(r"  \S*study dashboard   # browse trials and curves", summary[7])
    logs = sorted((tmp_path / "runs" / "logs").glob("local.*.worker-*.log"))
    assert len(logs) == 4
    assert f"logs in {Path('runs', 'logs', logs[0].name[:-5])}*.log" in result.stdout
    outputs = [log.read_text() for log in logs]
    for output in outputs:
        assert "Traceback" not in output
        assert re.search(r"every study of local has its budget", output)
    started = started_trials(*outputs)
    assert len(started) == len(set(started)) == 6  # no trial run twice
    url = str(tmp_path / "runs" / "study.journal")
    for s in load(url, "local").values():
        trials = s.get_trials()
        assert [t.state for t in trials] == [TrialState.COMPLETE] * 3
        artifacts = tmp_path / backend("runs/study.journal").artifact_dir()
        for t in trials:
            for artifact_id in t.user_attrs["artifacts"].values():
                assert (artifacts / artifact_id).is_file()
    status = run("status", "--name", "local", cwd=tmp_path)
    assert status.returncode == 0
    assert re.search(r"^none +3/3 +0 +0 +0 ", status.stdout, re.MULTILINE), status.stdout
    assert "Best trade-offs" in status.stdout
    assert Path(tmp_path / "runs" / "study.journal").stat().st_size > 0

    # A second launch keeps its own logs: the first launch's stay as they were.
    first = {log: log.read_bytes() for log in logs}
    again = run("launch", "--name", "local", "--workers", "2", "--poll", "0.3", "--device",
                "cpu", cwd=tmp_path, timeout=240)
    assert again.returncode == 0, again.stdout
    second = sorted(set((tmp_path / "runs" / "logs").glob("local.*.worker-*.log")) - set(first))
    assert [p.name[-12:] for p in second] == ["worker-0.log", "worker-1.log"]
    assert all("every study of local has its budget" in p.read_text() for p in second)
    assert {log: log.read_bytes() for log in logs} == first


def test_launch_says_which_study_stopped_at_its_cap_of_trials():
    """A study that started ``max_trials`` trials (early stopping pruned some) is finished short
    of its budget: launch names it and the setting, and does not ask for a relaunch that
    could not go on; a study short for any other reason still gets that advice."""
    experiment = Experiment.from_dict(
        {"regularizers": ["none", "local"], "trials": 4, "max_trials": 6,
         "train": {"task": "digits"}, "search": {"early_stop": True}})
    standing = {"none": Counts(budget=4, complete=4),
                "local": Counts(budget=4, complete=2, pruned=4)}
    out = io.StringIO()
    assert _ending("nu", standing, experiment, 0, out) == 0
    assert out.getvalue() == (
        "nu.local started its cap of 6 trials (max_trials) with 2/4 COMPLETE (4 pruned, 0 "
        "failed): its front is what those found; raise max_trials (a new experiment) to "
        "search further\n")
    out = io.StringIO()
    standing["local"] = Counts(budget=4, complete=2, pruned=1)
    assert _ending("nu", standing, experiment, 0, out) == 1
    assert "again to go on" in out.getvalue() and "cap" not in out.getvalue()
    out = io.StringIO()
    standing["local"] = Counts(budget=4, complete=1, failed=4)
    assert _ending("nu", standing, experiment, 1, out) == 1
    assert out.getvalue().startswith("nu.local was given up after 4 failed trials")
