"""Several ``study create`` of one experiment at once on a fresh PostgreSQL database: every one
succeeds and one experiment exists (the tables and the studies are created under locks)."""

from __future__ import annotations

import contextlib
import io
import multiprocessing

import pytest

from study.search.storage import list_experiments, open_storage
from tests.search.helpers import load, write_experiment

pytestmark = pytest.mark.postgres

CREATES = 4


def _create(barrier, results, args: list[str]) -> None:
    from study.cli import main  # imported before the barrier: the creates start together

    out, err = io.StringIO(), io.StringIO()
    barrier.wait(timeout=120)
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args)
    results.put((code, out.getvalue() + err.getvalue()))


def test_concurrent_creates_on_a_fresh_database_all_succeed_with_one_experiment(pg_url,
                                                                                 tmp_path):
    args = ["create", "--name", "race", "--config", str(write_experiment(tmp_path, 2)),
            "--storage", pg_url]
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(CREATES), context.Queue()
    processes = [context.Process(target=_create, args=(barrier, results, args))
                 for _ in range(CREATES)]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=300) for _ in processes]
    for process in processes:
        process.join(timeout=60)
    assert [code for code, _ in outcomes] == [0] * CREATES, outcomes
    created = [text for _, text in outcomes if text.startswith("created experiment race")]
    assert len(created) == 1, outcomes
    assert list_experiments(open_storage(pg_url)) == ["race"]
    assert sorted(load(pg_url, "race")) == ["local", "none"]
