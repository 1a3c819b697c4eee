"""``study status``: without a name, every experiment of the storage in one table."""

from __future__ import annotations

import re
import shutil

from study.cli import main
from study.search.experiment import Experiment
from study.search.storage import open_storage
from study.search.studies import create

LATER = {
    "regularizers": ["local"],
    "trials": 2,
    "train": {"task": "digits", "epochs": 1},
    "search": {"local": {"weight": {"low": 0.1, "high": 10.0, "log": True}}},
}


def test_status_without_a_name_tables_every_experiment(small_study, tmp_path, capsys):
    journal = str(tmp_path / "copy.journal")  # the shared study stays as it is
    shutil.copy(small_study.url, journal)
    create(journal, open_storage(journal), "later", Experiment.from_dict(LATER))

    assert main(["status", "--storage", journal]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("experiments in ") and lines[1] == ""
    assert lines[2].split() == ["experiment", "regularizer", "complete", "running", "failed",
                                "replicates"]
    rows = {tuple(line.split()[:2]): line.split()[2:] for line in lines[3:]}
    assert list(rows) == [("later", "local"), ("tiny", "none"), ("tiny", "local")]
    # The small study: budgets met, nothing running, its first run diverged, every front
    # configuration replicated.
    for regularizer in ("none", "local"):
        complete, running, _, *replicates = rows[("tiny", regularizer)]
        assert (complete, running) == ("3/3", "0")
        done = re.fullmatch(r"(\d+)/(\d+)(?: \((\d+) failed\))?", " ".join(replicates))
        assert done and int(done[2]) > 0 and int(done[1]) + int(done[3] or 0) == int(done[2])
    assert sum(int(rows[("tiny", r)][2]) for r in ("none", "local")) == 1
    assert rows[("later", "local")] == ["0/2", "0", "0", "after", "search"]


def test_status_of_one_experiment_states_its_compute(small_study, capsys):
    assert main(["status", "--storage", small_study.url, "--name", small_study.name]) == 0
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if line.startswith("regularizer"))
    assert header.split()[-5:] == ["fewest", "predict_nfe_warm", "training", "time",
                                   "hypervolume/h"]
    for regularizer in ("none", "local"):
        row = next(line for line in out.splitlines() if line.startswith(regularizer + " "))
        # Every trial trained on this machine's CPU: hours of it, then the validation
        # hypervolume per training hour, a positive number.
        hours, per_hour = re.search(r"([\d.e-]+) CPU-h\s+([\d.e+-]+)\s*$", row).groups()
        assert float(hours) > 0 and float(per_hour) > 0
