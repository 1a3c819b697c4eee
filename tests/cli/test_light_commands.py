"""Commands that neither train nor evaluate never import torch (it takes seconds to load)."""

from __future__ import annotations

import importlib
import subprocess
import sys
import types

import pytest

from tests.search.helpers import write_experiment

# Runs ``study ARGS...`` like the console script, then says whether torch was ever imported.
WRAPPER = """
import sys
from study.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
print("torch imported:", "torch" in sys.modules, file=sys.stderr)
sys.exit(code)
"""


def study(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", WRAPPER, *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120)


@pytest.fixture(scope="module")
def created(tmp_path_factory):
    """An experiment created in a journal file by ``study create`` (checked for torch too)."""
    where = tmp_path_factory.mktemp("light")
    config = write_experiment(where, trials=2)
    result = study("create", "--name", "light", "--config", str(config), "--storage",
                   "light.journal", cwd=where)
    assert result.returncode == 0, result.stderr
    assert "torch imported: False" in result.stderr
    return where


@pytest.mark.parametrize("args", [
    ["--help"],
    ["train", "--help"],
    ["dashboard", "--help"],
    ["create", "--help"],
    ["status", "--name", "light", "--storage", "light.journal"],
    ["status", "--storage", "light.journal"],
])
def test_commands_that_do_not_train_never_import_torch(created, args):
    result = study(*args, cwd=created)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip().splitlines()[-1] == "torch imported: False"


def test_validation_layers_import_without_torch():
    code = ("import sys\n"
            "import study.nde, study.regularizers, study.tasks, study.train, study.search, "
            "study.report\n"
            "import study.train.config, study.search.experiment, study.report.status\n"
            "from study import regularizers, tasks\n"
            "from study.train import TrainConfig\n"
            "TrainConfig(task='spiral', regularizer='steer', b=0.5)\n"
            "assert regularizers.resolve('local').solves and tasks.info('digits-sde').kind\n"
            "print(sorted(m for m in ('torch', 'plotly', 'optuna_dashboard') "
            "if m in sys.modules))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("package", ["study.nde", "study.tasks", "study.train", "study.search",
                                     "study.report"])
def test_lazily_exported_names_are_the_objects_not_their_modules(package):
    module = importlib.import_module(package)
    for name in module.__all__:
        assert not isinstance(getattr(module, name), types.ModuleType), name
    assert set(module.__all__) <= set(dir(module))
    with pytest.raises(AttributeError, match="has no attribute 'nonexistent'"):
        module.nonexistent  # noqa: B018
