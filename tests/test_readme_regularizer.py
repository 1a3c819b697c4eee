"""The README's "Bring your own regularizer" example, run as written: the module, `study train`
with its option, and an experiment that searches it with local workers."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

from optuna.trial import TrialState

from tests.search.helpers import load, run

README = Path(__file__).parent.parent / "README.md"


def _section() -> str:
    text = README.read_text()
    start = text.index("### Bring your own regularizer")
    return text[start:text.index("\n## ", start)]


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", _section(), re.DOTALL)


def _commands() -> list[list[str]]:
    lines = [line for block in _blocks("bash") for line in block.splitlines()]
    return [shlex.split(line)[1:] for line in lines if line.startswith("study ")]


def test_the_readme_regularizer_trains_and_is_searched(tmp_path):
    (module,) = _blocks("python")
    (experiment,) = _blocks("toml")
    assert module.startswith("# myregs.py") and experiment.startswith("# mine.toml")
    (tmp_path / "myregs.py").write_text(module)
    (tmp_path / "mine.toml").write_text(experiment)
    train, create, launch, status = _commands()

    trained = run(*train, "--device", "cpu", cwd=tmp_path, timeout=240)
    assert trained.returncode == 0, trained.stdout
    record = json.loads(trained.stdout)
    assert record["epochs"] == 1 and record["predict_nfe"] > 0

    for command in (create, launch, status):
        done = run(*command, cwd=tmp_path, timeout=600)
        assert done.returncode == 0, done.stdout
    assert "myregs:FixedPoint" in done.stdout
    studies = load(str(tmp_path / "runs" / "study.journal"), "mine")
    assert list(studies) == ["none", "local", "myregs:FixedPoint"]
    mine = studies["myregs:FixedPoint"].get_trials()
    assert [t.state for t in mine] == [TrialState.COMPLETE] * 2
    for t in mine:  # the declared option is an Optuna parameter and a flat config key
        assert set(t.params) == {"weight", "at"} and 0.0 <= t.params["at"] <= 0.9
        assert t.user_attrs["config"]["at"] == t.params["at"]
        assert t.user_attrs["config"]["regularizer"] == "myregs:FixedPoint"
