"""How many threads torch computes with: what this process may use, not what the machine has.

torch sizes its intra-op pool from the machine's cores. In a container with a CPU quota, in a
SLURM allocation, or beside other workers, that is more threads than cores this process gets,
and oversubscribed threads wait on each other at every parallel region (a run can take ten times
as long). The size, in order:

1. ``OMP_NUM_THREADS`` when set: the user's (or ``study launch``'s) choice is respected;
2. ``SLURM_CPUS_PER_TASK`` inside a SLURM job;
3. the CPUs this process may run on (``os.sched_getaffinity``), capped by the cgroup's CPU quota
   (cgroup v2 ``cpu.max``; v1 ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``), rounded up.

``study launch`` starting W workers on one machine gives each ``max(1, cpus // W)``
(``per_worker``, through ``OMP_NUM_THREADS``). ``apply`` sets torch's pool; ``study train`` and
``study worker`` call it before training.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path

OMP_ENV = "OMP_NUM_THREADS"
SLURM_ENV = "SLURM_CPUS_PER_TASK"
CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_CGROUP = Path("/proc/self/cgroup")


def _positive_int(text: str | None) -> int | None:
    """The leading whole number of ``text`` if positive (``OMP_NUM_THREADS=4,2`` nests: 4)."""
    try:
        value = int(str(text).split(",")[0].strip())
    except ValueError:
        return None
    return value if value > 0 else None


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _cgroup_dirs(root: Path, proc_cgroup: Path, controller: str | None) -> list[Path]:
    """The folders of this process's cgroup (``controller`` ``None``: v2), innermost first, up to
    the root: a quota anywhere above applies too."""
    relative = "/"
    for line in (_read(proc_cgroup) or "").splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        if (controller is None and controllers == "") or \
                (controller is not None and controller in controllers.split(",")):
            relative = path
    base = root if controller is None else root / controller
    folder = base / relative.lstrip("/")
    dirs = [folder, *folder.parents]
    return [d for d in dirs if d == base or base in d.parents]


def cgroup_quota(cgroup_root: Path = CGROUP_ROOT, proc_cgroup: Path = PROC_CGROUP
                 ) -> float | None:
    """The CPUs the cgroup quota allows (``1.5`` for 150000/100000), ``None`` without a quota;
    the smallest along the cgroup's path."""
    quotas = []
    for folder in _cgroup_dirs(cgroup_root, proc_cgroup, None):  # cgroup v2
        fields = (_read(folder / "cpu.max") or "").split()
        if len(fields) == 2 and fields[0] != "max":
            quotas.append((fields[0], fields[1]))
    for controller in ("cpu", "cpu,cpuacct"):  # cgroup v1
        for folder in _cgroup_dirs(cgroup_root, proc_cgroup, controller):
            quota = _read(folder / "cpu.cfs_quota_us")
            period = _read(folder / "cpu.cfs_period_us")
            if quota is not None and period is not None:
                quotas.append((quota, period))
    cpus = []
    for quota, period in quotas:
        try:
            q, p = int(quota), int(period)
        except ValueError:
            continue
        if q > 0 and p > 0:
            cpus.append(q / p)
    return min(cpus) if cpus else None


def available_cpus(environ: Mapping[str, str] | None = None, *,
                   affinity: set[int] | None = None, cgroup_root: Path = CGROUP_ROOT,
                   proc_cgroup: Path = PROC_CGROUP) -> int:
    """The CPUs this process may use: ``SLURM_CPUS_PER_TASK``, else its CPU affinity capped by
    the cgroup quota (rounded up: a quota of 1.5 CPUs keeps two threads busy half the time)."""
    environ = os.environ if environ is None else environ
    slurm = _positive_int(environ.get(SLURM_ENV))
    if slurm is not None:
        return slurm
    if affinity is None:
        try:
            affinity = os.sched_getaffinity(0)
        except AttributeError:  # not on Linux
            affinity = set(range(os.cpu_count() or 1))
    cpus = max(1, len(affinity))
    quota = cgroup_quota(cgroup_root, proc_cgroup)
    if quota is not None:
        cpus = min(cpus, max(1, math.ceil(quota)))
    return cpus


def threads(environ: Mapping[str, str] | None = None, **found) -> int:
    """Threads for torch's intra-op pool: ``OMP_NUM_THREADS`` if set, else ``available_cpus``
    (``found``: its keyword arguments)."""
    environ = os.environ if environ is None else environ
    chosen = _positive_int(environ.get(OMP_ENV))
    return chosen if chosen is not None else available_cpus(environ, **found)


def per_worker(workers: int, environ: Mapping[str, str] | None = None, **found) -> int:
    """Threads of each of ``workers`` processes sharing this machine: ``max(1, cpus //
    workers)``."""
    return max(1, available_cpus(environ, **found) // max(1, workers))


def apply() -> int:
    """Size torch's intra-op pool by ``threads()``; the number chosen."""
    import torch

    count = threads()
    if torch.get_num_threads() != count:
        torch.set_num_threads(count)
    return count
