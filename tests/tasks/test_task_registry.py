"""The task registry: names, specs, objectives, and user tasks from ``package.module:function``."""

import sys
import textwrap

import pytest
import torch

from study import tasks
from study.imports import load


def test_names_lists_the_shipped_tasks():
    assert {"digits", "mnist", "spiral"} <= set(tasks.names())


def test_objective_of_registered_tasks_needs_no_data():
    assert tasks.quality("digits") == ("val_accuracy", "maximize")
    assert tasks.quality("spiral") == ("val_loss", "minimize")
    # mnist answers although no data directory exists anywhere
    assert tasks.quality("mnist") == ("val_accuracy", "maximize")


@pytest.mark.parametrize("spec", ["nope", "a.b", "a:b:c", "a b:c", "", "1mod:f"])
def test_malformed_or_unknown_spec_is_rejected_with_the_accepted_forms(spec):
    with pytest.raises(ValueError, match=r"accepted are digits, mnist, spiral.*package.module"):
        tasks.get(spec, seed=0)


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    """A user package ``usertasks_pkg.mod`` importable from ``tmp_path``."""
    pkg = tmp_path / "usertasks_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "mod.py").write_text(textwrap.dedent("""
        import torch
        from study.tasks import ClassificationTask

        def make_task(seed):
            g = torch.Generator().manual_seed(seed)
            x = torch.randn(30, 3, generator=g)
            y = torch.arange(30) % 3
            return ClassificationTask(train=(x[:18], y[:18]), val=(x[18:24], y[18:24]),
                                      test=(x[24:], y[24:]), epochs=3)

        def with_dir(seed, data_dir=None):
            task = make_task(seed)
            task.seen_dir = data_dir
            return task

        def not_a_task(seed):
            return 42

        VALUE = 1
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "usertasks_pkg.mod"
    for name in [m for m in sys.modules if m.startswith("usertasks_pkg")]:
        del sys.modules[name]


def test_user_function_gets_the_seed_and_returns_a_task(user_module):
    a = tasks.get(f"{user_module}:make_task", seed=3)
    b = tasks.get(f"{user_module}:make_task", seed=3)
    c = tasks.get(f"{user_module}:make_task", seed=4)
    assert isinstance(a, tasks.ClassificationTask)
    assert torch.equal(a.splits["train"][0], b.splits["train"][0])
    assert not torch.equal(a.splits["train"][0], c.splits["train"][0])
    assert a.defaults.epochs == 3
    assert tasks.quality(f"{user_module}:make_task") == ("val_accuracy", "maximize")


def test_user_function_receives_data_dir_only_when_it_asks(user_module, tmp_path):
    task = tasks.get(f"{user_module}:with_dir", seed=0, data_dir=tmp_path)
    assert task.seen_dir == tmp_path
    tasks.get(f"{user_module}:make_task", seed=0, data_dir=tmp_path)  # no data_dir parameter


@pytest.mark.parametrize(("function", "message"), [
    ("not_a_task", "returned int, not a study.tasks.Task"),
    ("missing", "has no 'missing'"),
    ("VALUE", "is not a function"),
])
def test_bad_user_functions_are_named(user_module, function, message):
    with pytest.raises(ValueError, match=message):
        tasks.get(f"{user_module}:{function}", seed=0)


def test_missing_module_is_a_value_error():
    with pytest.raises(ValueError, match=r"cannot import module 'no_such_pkg_xyz\.mod'"):
        tasks.get("no_such_pkg_xyz.mod:make", seed=0)


def test_modules_in_the_working_directory_are_found(tmp_path, monkeypatch):
    (tmp_path / "cwd_tasks_xyz.py").write_text(
        "import torch\nfrom study.tasks import ClassificationTask\n"
        "def make(seed):\n"
        "    x = torch.randn(9, 2); y = torch.arange(9) % 2\n"
        "    return ClassificationTask(train=(x[:3], y[:3]), val=(x[3:6], y[3:6]),"
        " test=(x[6:], y[6:]))\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    assert isinstance(tasks.get("cwd_tasks_xyz:make", seed=0), tasks.Task)
    sys.modules.pop("cwd_tasks_xyz", None)


def test_registered_classes_carry_their_declarations():
    for name in tasks.names():
        declared = tasks.info(name)
        cls = load(declared.target, label=name)
        assert (cls.quality, dict(cls.solver_defaults), cls.min_last_gap) == (
            declared.quality, dict(declared.solver_defaults), declared.min_last_gap)
        assert cls.quality_objective() == tasks.quality(name)
    assert tasks.info("digits").kind == "ode" and tasks.info("spiral-sde").kind == "sde"
    assert tasks.info("mypkg.mod:make") is None  # a user's task is known once built


def test_the_spiral_grid_keeps_its_declared_last_gap():
    from study.tasks.spiral import generate

    times, _, _ = generate(4)
    assert float(times[-1] - times[-2]) >= tasks.info("spiral").min_last_gap
