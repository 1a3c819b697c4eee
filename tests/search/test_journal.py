"""A damaged embedded journal: a torn last record, a cut, garbage, an empty file, and
``study repair``. Every command refuses a damaged journal in one line and appends nothing."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from optuna.trial import TrialState

from study.cli import main
from study.search.errors import StorageError
from study.search.storage import open_storage
from study.search.worker import Worker
from tests.search.helpers import load, write_experiment


def _scripted(config, *, checkpoint=None, progress=None):
    return {"val_accuracy": 0.9, "test_accuracy": 0.9, "predict_nfe": 12.0,
            "predict_nfe_warm": 10.0, "epochs": 1, "curves": {}}


@pytest.fixture
def journal(tmp_path: Path) -> Path:
    """A journal whose last record makes its one trial COMPLETE."""
    path = tmp_path / "study.journal"
    assert main(["create", "--name", "j", "--config", str(write_experiment(tmp_path, 2)),
                 "--regularizers", "none", "--storage", str(path)]) == 0
    study = load(str(path), "j")["none"]
    trial = study.ask()
    study.tell(trial, [0.9, 10.0])
    return path


def _command(capsys, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _refused(capsys, path: Path, *, because: str) -> None:
    """Status, create and a worker all refuse the journal in one line, and write nothing."""
    before = path.read_bytes()
    config = str(path.parent / "tiny.toml")
    for args in (["status", "--name", "j"], ["status"],
                 ["create", "--name", "j", "--config", config, "--regularizers", "none"],
                 ["create", "--name", "other", "--config", config]):
        code, out, err = _command(capsys, *args, "--storage", str(path))
        assert code == 4, (args, out, err)
        assert because in err and len(err.strip().splitlines()) == 1, err
        assert "Traceback" not in err and out == ""
    with pytest.raises(StorageError, match=re.escape(because)):
        Worker(str(path), "j", device="cpu", train=_scripted, out=io.StringIO())
    assert path.read_bytes() == before


def test_a_journal_torn_by_a_few_bytes_is_refused_with_the_command_that_repairs_it(
        journal, capsys):
    data = journal.read_bytes()
    journal.write_bytes(data[:-5])  # the COMPLETE record loses its end
    records = data.count(b"\n")
    _refused(capsys, journal, because=f"ends in a torn record: record {records} is cut short")
    _, _, err = _command(capsys, "status", "--storage", str(journal))
    last = data[:-1].rpartition(b"\n")[2]
    assert f"({len(last) - 4} bytes at byte {len(data) - len(last) - 1}" in err
    assert f"run `study repair --storage {journal}`" in err


def test_a_journal_cut_to_half_is_refused(journal, capsys):
    data = journal.read_bytes()
    half = data[:len(data) // 2]
    assert not half.endswith(b"\n")  # cut inside a record
    journal.write_bytes(half)
    records = half.count(b"\n")
    _refused(capsys, journal, because=f"record {records + 1} is cut short")


@pytest.mark.parametrize("garbage", [bytes(range(256)) * 16, b"\x89PNG\r\n\x1a\n" + b"\0" * 64,
                                     b"not a journal at all"])
def test_a_file_that_is_not_a_journal_is_an_error_never_an_empty_storage(
        journal, capsys, garbage):
    journal.write_bytes(garbage)
    _refused(capsys, journal, because=f"{journal} is not a study journal")
    code, _, err = _command(capsys, "repair", "--storage", str(journal))
    assert code == 4 and "nothing was changed" in err
    assert journal.read_bytes() == garbage


def test_a_journal_damaged_inside_is_an_error(journal, capsys):
    lines = journal.read_bytes().split(b"\n")
    lines[1] = lines[1][:10] + b"\0" * 8 + lines[1][18:]
    journal.write_bytes(b"\n".join(lines))
    _refused(capsys, journal, because="is a damaged study journal: its line 2 (at byte")


def test_an_empty_journal_holds_no_storage_yet_and_can_be_created_into(tmp_path, capsys):
    path = tmp_path / "study.journal"
    path.write_bytes(b"")
    code, out, err = _command(capsys, "status", "--storage", str(path))
    assert code == 4 and "no storage at" in err and "(the file is empty)" in err
    assert "experiments" not in out
    code, _, _ = _command(capsys, "create", "--name", "j", "--config",
                          str(write_experiment(tmp_path, 1)), "--storage", str(path))
    assert code == 0
    code, out, _ = _command(capsys, "status", "--storage", str(path))
    assert code == 0 and "j" in out


def test_nothing_is_appended_after_a_record_torn_while_the_storage_is_open(journal):
    storage = open_storage(str(journal))
    torn = journal.read_bytes()[:-3]
    journal.write_bytes(torn)
    with pytest.raises(StorageError, match="nothing is written after it"):
        storage.set_study_user_attr(storage.get_all_studies()[0]._study_id, "note", "x")
    assert journal.read_bytes() == torn


def test_repair_backs_up_then_cuts_the_torn_record_and_every_command_works_again(
        journal, tmp_path, capsys):
    data = journal.read_bytes()
    journal.write_bytes(data[:-5])
    original = journal.read_bytes()
    keep = data[:-1].rpartition(b"\n")[0] + b"\n"  # every complete record
    code, out, err = _command(capsys, "repair", "--storage", str(journal))
    assert code == 0, err
    backups = list(tmp_path.glob("study.journal.*.backup"))
    assert len(backups) == 1 and backups[0].read_bytes() == original
    assert journal.read_bytes() == keep
    assert out.startswith(f"repaired journal {journal}: cut off its torn record")
    assert str(backups[0]) in out and len(out.strip().splitlines()) == 1
    # Without the torn record the trial is RUNNING again, its claim never finished: status
    # shows it, create finds the experiment, a worker settles it and meets the budget.
    code, out, _ = _command(capsys, "status", "--name", "j", "--storage", str(journal))
    assert code == 0 and "0/2" in " ".join(out.split()).replace(" / ", "/")
    code, out, _ = _command(capsys, "create", "--name", "j", "--config",
                            str(tmp_path / "tiny.toml"), "--regularizers", "none",
                            "--storage", str(journal))
    assert code == 0 and "already exists" in out
    result = Worker(str(journal), "j", device="cpu", poll=0.05, train=_scripted,
                    out=io.StringIO()).run()
    assert result.exit_code == 0, result.message
    states = [t.state for t in load(str(journal), "j")["none"].get_trials()]
    assert states.count(TrialState.COMPLETE) == 2
    code, out, _ = _command(capsys, "repair", "--storage", str(journal))
    assert code == 0 and "has no torn record: nothing to repair" in out
    assert len(list(tmp_path.glob("study.journal.*.backup"))) == 1


def test_repair_of_a_database_says_it_mends_journal_files_only(tmp_path, capsys):
    code, _, err = _command(capsys, "repair", "--storage", f"sqlite:///{tmp_path}/s.db")
    assert code == 4 and "mends journal files only" in err
