"""``study train``: flags named like the config, ``--json``, one-line errors, exit codes."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from study import regularizers
from study.cli import main
from study.cli.errors import EXIT_DIVERGED, EXIT_USAGE
from study.train import field_names

TINY_TASKS = Path(__file__).parent.parent / "train"
SMALL = ["train", "--task", "tests.train.tiny_tasks:small", "--device", "cpu"]


def test_every_config_field_is_a_flag(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")  # no hyphenated names broken across lines
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = capsys.readouterr().out
    for name in field_names():
        if name != "options":
            assert f"--{name.replace('_', '-')} " in text
    for reg in regularizers.names():  # the regularizers' declared options too
        for option in regularizers.options(reg):
            assert f"{option.flag} " in text and option.help in " ".join(text.split())
    assert "[task default]" in text
    # The solver's defaults are the registered tasks' own, SDE tasks included.
    flat = " ".join(text.split())
    assert "[task default: dopri5; milstein for spiral-sde, digits-sde]" in flat
    assert "SDE tasks: euler, milstein, srk" in flat and "0.01 for spiral-sde" in flat


def test_json_prints_only_the_record(capsys):
    code = main([*SMALL, "--regularizer", "local", "--sampling", "biased", "--weight", "2.5",
                 "--weight-final", "1.0", "--rtol", "1e-5", "--adjoint", "false", "--json"])
    out, err = capsys.readouterr()
    assert code == 0
    record = json.loads(out)
    assert record["epochs"] == 2 and "val_accuracy" in record and "curves" in record
    assert {key: record["run"][key] for key in ("sampling", "weight", "weight_final", "rtol",
                                                "device")} == {
        "sampling": "biased", "weight": 2.5, "weight_final": 1.0, "rtol": 1e-5, "device": "cpu"}
    assert err == ""  # no progress bar off a terminal


def test_plain_output_and_checkpoint(capsys, tmp_path):
    assert main([*SMALL, "--epochs", "1", "--checkpoint", str(tmp_path / "m.pt")]) == 0
    out = capsys.readouterr().out
    assert "predict_nfe" in out and "curves" not in out
    lines = [" ".join(line.split()) for line in out.splitlines()]
    # What ran comes first, the task's defaults filled in and the device resolved.
    assert lines[:3] == ["task tests.train.tiny_tasks:small", "regularizer none", "method dopri5"]
    for expected in ("rtol 1e-06", "atol 1e-06", "epochs 1", "batch_size 32", "lr 0.01",
                     "seed 0", "device cpu"):
        assert expected in lines
    assert not any(line.startswith("weight") for line in lines)  # none takes no weight
    assert (tmp_path / "m.pt").is_file()


@pytest.mark.parametrize(("flags", "message"), [
    (["--rtol", "abc"], "rtol must be a number, got 'abc'"),
    (["--regularizer", "l2"], "unknown regularizer 'l2': accepted are"),
    (["--regularizer", "local", "--sampling", "odd"], "unknown sampling 'odd'"),
    (["--order", "3"], "order: not an option of regularizer 'none'"),
    (["--task", "no_such_module_xyz:make"], "cannot import module"),
    (["--task", "mnist"], "--data-dir"),
    (["--regularizer", "global-error", "--adjoint", "seminorm"], "cannot be combined"),
    (["--checkpoint", "/no/such/dir/m.pt"], "folder /no/such/dir does not exist"),
    (["--method", "srk"], "method 'srk' solves SDEs and task 'digits' is an ODE task"),
    # A user's task is checked as soon as its function returned it, before any training.
    ([*SMALL[1:], "--method", "milstein"],
     "method 'milstein' solves SDEs and task 'tests.train.tiny_tasks:small' is an ODE task"),
    ([*SMALL[1:], "--regularizer", "steer", "--b", "1.5"],
     "steer needs 0 < b < 1, the last time gap of task 'tests.train.tiny_tasks:small'"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, flags, message):
    assert main(["train", *flags]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and err.startswith("study: error: ")


@pytest.mark.parametrize(("checkpoint", "message"), [
    ("{tmp}", "--checkpoint {tmp}: is a folder; give a file path"),
    ("{tmp}/file.txt/m.pt", "--checkpoint {tmp}/file.txt/m.pt: {tmp}/file.txt is not a folder"),
    # Not writable, even by root (the tests may run as root, for whom permissions are no limit).
    ("/sys/study-m.pt", "--checkpoint /sys/study-m.pt: cannot write to folder /sys: "),
])
def test_an_unwritable_checkpoint_fails_before_training(capsys, monkeypatch, tmp_path,
                                                       checkpoint, message):
    from study.train import loop

    (tmp_path / "file.txt").write_text("")
    steps = []
    monkeypatch.setattr(loop._Run, "epoch", lambda run, epoch: steps.append(epoch))
    path = checkpoint.format(tmp=tmp_path)
    assert main([*SMALL, "--checkpoint", path]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message.format(tmp=tmp_path) in err, err
    assert steps == []  # nothing trained
    with pytest.raises(ValueError, match=r"^checkpoint "):  # the library checks it as well
        loop.train({"task": SMALL[2]}, checkpoint=path)
    assert steps == []


def test_divergence_has_its_own_exit_code(capsys):
    assert main([*SMALL, "--max-steps", "2"]) == EXIT_DIVERGED
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "diverged in epoch 1, step 0" in err


def test_unknown_flag_exits_2(capsys):
    with pytest.raises(SystemExit) as info:
        main([*SMALL, "--no-such-flag"])
    assert info.value.code == EXIT_USAGE


def test_real_process_diverges_without_traceback():
    # The working directory holds tiny_tasks.py: user modules are found there like `python -m`.
    small = ["train", "--task", "tiny_tasks:small", "--device", "cpu"]
    bad = subprocess.run([sys.executable, "-m", "study", *small, "--max-steps", "1"],
                         cwd=TINY_TASKS, capture_output=True, text=True, timeout=120)
    assert bad.returncode == EXIT_DIVERGED
    assert "Traceback" not in bad.stderr and bad.stderr.count("\n") == 1
    assert bad.stdout == ""
