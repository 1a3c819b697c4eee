"""Sizing torch's threads from what the process may use (``study.threads``), with fake
environments, affinity masks and cgroup files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from study import threads

EIGHT = set(range(8))


def cgroup(tmp_path: Path, files: dict[str, str], proc: str = "0::/\n") -> dict:
    """A fake cgroup tree under ``tmp_path`` and the ``/proc/self/cgroup`` that points into it;
    the keyword arguments of ``available_cpus``."""
    root = tmp_path / "cgroup"
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    root.mkdir(exist_ok=True)
    proc_file = tmp_path / "proc-self-cgroup"
    proc_file.write_text(proc)
    return {"cgroup_root": root, "proc_cgroup": proc_file}


def test_the_affinity_without_a_quota(tmp_path):
    found = cgroup(tmp_path, {"cpu.max": "max 100000\n"})
    assert threads.available_cpus({}, affinity=EIGHT, **found) == 8
    assert threads.threads({}, affinity={0, 3}, **found) == 2


def test_a_cgroup_v2_quota_caps_the_affinity_rounded_up(tmp_path):
    found = cgroup(tmp_path, {"cpu.max": "150000 100000\n"})
    assert threads.cgroup_quota(**found) == 1.5
    assert threads.available_cpus({}, affinity=EIGHT, **found) == 2
    assert threads.available_cpus({}, affinity={1}, **found) == 1  # the affinity is smaller


def test_the_smallest_quota_on_the_cgroup_path_applies(tmp_path):
    found = cgroup(tmp_path, {"cpu.max": "max 100000\n",
                              "jobs/cpu.max": "300000 100000\n",
                              "jobs/mine/cpu.max": "max 100000\n"},
                   proc="0::/jobs/mine\n")
    assert threads.available_cpus({}, affinity=EIGHT, **found) == 3


def test_a_cgroup_v1_quota(tmp_path):
    found = cgroup(tmp_path, {"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n",
                              "cpu/docker/x/cpu.cfs_quota_us": "400000\n",
                              "cpu/docker/x/cpu.cfs_period_us": "100000\n"},
                   proc="4:memory:/elsewhere\n2:cpu,cpuacct:/docker/x\n")
    assert threads.available_cpus({}, affinity=EIGHT, **found) == 4
    unlimited = cgroup(tmp_path / "v1", {"cpu/cpu.cfs_quota_us": "-1\n",
                                         "cpu/cpu.cfs_period_us": "100000\n"},
                       proc="2:cpu,cpuacct:/\n")
    assert threads.available_cpus({}, affinity=EIGHT, **unlimited) == 8


def test_no_cgroup_files_at_all(tmp_path):
    found = {"cgroup_root": tmp_path / "none", "proc_cgroup": tmp_path / "none" / "cgroup"}
    assert threads.available_cpus({}, affinity=EIGHT, **found) == 8


def test_slurm_then_omp_num_threads_take_precedence(tmp_path):
    found = cgroup(tmp_path, {"cpu.max": "200000 100000\n"})
    assert threads.available_cpus({"SLURM_CPUS_PER_TASK": "6"}, affinity=EIGHT, **found) == 6
    assert threads.threads({"SLURM_CPUS_PER_TASK": "6"}, affinity=EIGHT, **found) == 6
    assert threads.threads({"OMP_NUM_THREADS": "3", "SLURM_CPUS_PER_TASK": "6"},
                           affinity=EIGHT, **found) == 3  # the user's choice is respected
    assert threads.threads({"OMP_NUM_THREADS": "5,2"}, affinity=EIGHT, **found) == 5
    for unusable in ("", "0", "-2", "many"):
        assert threads.threads({"OMP_NUM_THREADS": unusable}, affinity=EIGHT, **found) == 2


@pytest.mark.parametrize(("cpus", "workers", "each"), [(8, 2, 4), (8, 3, 2), (2, 4, 1), (1, 1, 1)])
def test_workers_on_one_machine_share_its_cpus(tmp_path, cpus, workers, each):
    found = cgroup(tmp_path, {})
    assert threads.per_worker(workers, {}, affinity=set(range(cpus)), **found) == each


def test_apply_sizes_torchs_pool():
    """One CPU allotted (SLURM): one thread, whatever torch would take by itself."""
    environment = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    code = ("import torch\nfrom study import threads\n"
            "print(threads.apply(), torch.get_num_threads())\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, env={**environment, "SLURM_CPUS_PER_TASK": "1"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1", "1"]
