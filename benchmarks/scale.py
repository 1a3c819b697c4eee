"""How far the study service's storage goes: N concurrent worker processes on the real claim /
tell / heartbeat path, for direct PostgreSQL, the gRPC proxy (``study proxy``), PgBouncer in
session mode in front of PostgreSQL, and the embedded journal file.

The trainer is trivial: it returns fixed metrics at once, so this measures **the storage path,
not training**. Each worker is the service's own ``Worker`` (``study.search.worker``) in its own
process: it claims a trial under the experiment lock (failing lost trials, counting, asking,
recording the configuration and the first heartbeat), uploads the curves artifact, records the
metrics and tells. Per worker process it times every claim that started a trial, every
``tell``, and every heartbeat; the parent polls ``pg_stat_activity`` for the benchmark's database
every 50 ms (peak connections), counts the database's transactions (``pg_stat_database``: the
load per trial), and checks the final study: every study exactly its budget of
COMPLETE trials, nothing RUNNING, WAITING or FAILED, no trial completed twice (no lost or
duplicated trial).

Per-worker connection pools are chosen so that N workers fit the server's ``max_connections``
(``$STUDY_DB_POOL``, ``study.search.storage.rdb``): the default pool (2 kept + 1 extra, peak 3
per worker) while ``3 N`` fits, else no pool (a connection per call; a worker waiting for the
experiment lock still holds one). Through PgBouncer in session mode a client connection pins a
server connection for its whole session, so workers there use no pool (a pooled idle connection
would pin a server connection each).

    .venv/bin/python benchmarks/scale.py [--workers 1,4,16,64] \\
        [--modes postgres,proxy,pgbouncer,journal] [--trials-per-worker 4]

PostgreSQL is ``$STUDY_TEST_POSTGRES`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432/
test``, trust authentication); each run gets a fresh database, dropped afterwards. PgBouncer
(Debian package ``pgbouncer``) runs on a free port from a generated configuration in a temporary
folder (auth ``trust``, any user), as the ``postgres`` user. Results go to
``benchmarks/results/scale.{json,md}``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import warnings
from pathlib import Path

import sqlalchemy

RESULTS = Path(__file__).parent / "results"
ROOT = Path(__file__).resolve().parents[1]
ADMIN_URL = os.environ.get("STUDY_TEST_POSTGRES",
                           "postgresql+psycopg://postgres@127.0.0.1:5432/test")
NAME = "scale"
HEARTBEAT = 30  # the default interval; every trial records its first beat at its claim
POLL = 0.05
RESERVE = 10  # connections left for the benchmark itself, psql, other users


# ----------------------------------------------------------------------------- worker process

def trivial_train(config, **kwargs):
    """Fixed metrics at once: the benchmark measures the storage path, not training."""
    return {"val_accuracy": 0.5, "predict_nfe": 10.0, "predict_nfe_warm": 7.0,
            "train_seconds": 0.0, "curves": {"val_accuracy": [0.5]}}


def run_worker(url: str, out: str) -> None:
    """One worker process: the real ``Worker`` with the trivial trainer, timed."""
    import optuna

    from study.search.worker import Worker

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.simplefilter("ignore")
    times: dict[str, list[float]] = {"claim": [], "tell": [], "heartbeat": [], "lock_wait": [],
                                     "lock_hold": []}
    completed: list[list] = []
    idle = [0]

    class Timed(Worker):
        def _claim(self):
            start = time.perf_counter()
            claim = super()._claim()
            if claim is None or not hasattr(claim, "trial"):
                idle[0] += claim is None
            else:
                times["claim"].append(time.perf_counter() - start)
            return claim

    tell = optuna.Study.tell

    def timed_tell(self, trial, values=None, state=None, skip_if_finished=False):
        start = time.perf_counter()
        frozen = tell(self, trial, values, state, skip_if_finished)
        times["tell"].append(time.perf_counter() - start)
        if frozen.state == optuna.trial.TrialState.COMPLETE:
            completed.append([self.study_name, frozen.number])
        return frozen

    optuna.Study.tell = timed_tell
    worker = Timed(url, NAME, device="cpu", heartbeat=HEARTBEAT, poll=POLL, train=trivial_train,
                   out=io.StringIO())
    beat = getattr(worker.storage, "record_heartbeat", None)  # none on the journal file

    def timed_beat(trial_id):
        start = time.perf_counter()
        beat(trial_id)
        times["heartbeat"].append(time.perf_counter() - start)

    if beat is not None:
        worker.storage.record_heartbeat = timed_beat
    lock = worker.backend.lock

    @contextlib.contextmanager
    def timed_lock(storage, name):
        start = time.perf_counter()
        with lock(storage, name):
            held = time.perf_counter()
            times["lock_wait"].append(held - start)
            try:
                yield
            finally:
                times["lock_hold"].append(time.perf_counter() - held)

    worker.backend.lock = timed_lock
    start = time.time()
    result = worker.run()
    Path(out).write_text(json.dumps({
        "exit": result.exit_code, "message": result.message, "start": start, "end": time.time(),
        "times": times, "idle_polls": idle[0], "completed": completed}))


# ----------------------------------------------------------------------------- the parent

def admin_engine() -> sqlalchemy.Engine:
    return sqlalchemy.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Database:
    """A fresh database for one run."""

    def __init__(self, admin: sqlalchemy.Engine):
        self.admin = admin
        self.name = f"scale_{uuid.uuid4().hex[:10]}"
        with admin.connect() as c:
            c.execute(sqlalchemy.text(f'CREATE DATABASE "{self.name}"'))
        self.url = sqlalchemy.make_url(ADMIN_URL).set(database=self.name) \
            .render_as_string(hide_password=False)

    def connections(self) -> int:
        with self.admin.connect() as c:
            return c.execute(sqlalchemy.text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = :d "
                "AND pid <> pg_backend_pid()"), {"d": self.name}).scalar_one()

    def transactions(self) -> int:
        """Transactions the database has committed or rolled back (its statistics)."""
        with self.admin.connect() as c:
            return c.execute(sqlalchemy.text(
                "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = :d"),
                {"d": self.name}).scalar_one()

    def drop(self) -> None:
        with self.admin.connect() as c:
            c.execute(sqlalchemy.text(f'DROP DATABASE "{self.name}" WITH (FORCE)'))


class Sampler(threading.Thread):
    """Polls the database's connection count; ``peak`` is the largest seen."""

    def __init__(self, database: Database | None):
        super().__init__(daemon=True)
        self.database = database
        self.peak = 0
        self.done = threading.Event()

    def run(self) -> None:
        while self.database is not None and not self.done.wait(0.05):
            self.peak = max(self.peak, self.database.connections())

    def stop(self) -> int:
        self.done.set()
        self.join()
        return self.peak


class PgBouncer:
    """PgBouncer on a free port in front of the PostgreSQL of ``ADMIN_URL``."""

    def __init__(self, mode: str, pool_size: int):
        if shutil.which("pgbouncer") is None and not Path("/usr/sbin/pgbouncer").exists():
            raise SystemExit("pgbouncer is not installed: apt-get install -y pgbouncer")
        server = sqlalchemy.make_url(ADMIN_URL)
        self.folder = Path(tempfile.mkdtemp(prefix="scale-pgbouncer-"))
        self.folder.chmod(0o755)
        self.port = free_port()
        (self.folder / "users.txt").write_text('"postgres" ""\n')
        (self.folder / "pgbouncer.ini").write_text(f"""\
[databases]
* = host={server.host} port={server.port or 5432}
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {self.port}
unix_socket_dir =
auth_type = trust
auth_file = {self.folder}/users.txt
pool_mode = {mode}
default_pool_size = {pool_size}
max_client_conn = 5000
max_db_connections = {pool_size}
ignore_startup_parameters = extra_float_digits,options
logfile = {self.folder}/pgbouncer.log
pidfile = {self.folder}/pgbouncer.pid
""")
        binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
        command = [binary, str(self.folder / "pgbouncer.ini")]
        if os.geteuid() == 0:  # PgBouncer refuses to run as root
            command[1:1] = ["-u", "postgres"]
            for path in [self.folder, *self.folder.iterdir()]:
                shutil.chown(path, "postgres")
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    log = (self.folder / "pgbouncer.log").read_text() \
                        if (self.folder / "pgbouncer.log").exists() else ""
                    raise SystemExit(f"pgbouncer did not start: {log[-2000:]}") from None
                time.sleep(0.1)

    def url(self, database: str) -> str:
        return sqlalchemy.make_url(ADMIN_URL).set(host="127.0.0.1", port=self.port,
                                                  database=database) \
            .render_as_string(hide_password=False)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)
        shutil.rmtree(self.folder, ignore_errors=True)


class ProxyProcess:
    def __init__(self, url: str):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "study", "proxy", "--storage", url, "--port", "0"],
            cwd=ROOT, env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True)
        line = self.process.stdout.readline()
        found = re.search(r"at (grpc://\S+)", line)
        if not found:
            raise SystemExit(f"study proxy did not start: {line}{self.process.stdout.read()}")
        self.url = found[1]
        threading.Thread(target=self.process.stdout.read, daemon=True).start()

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=60)


def child_env(**extra: str) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if k != "STUDY_STORAGE"}
    return {**environment, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", **extra}


def create_experiment(url: str, trials: int) -> None:
    import optuna

    from study.search import studies
    from study.search.experiment import Experiment
    from study.search.storage import open_storage

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    experiment = Experiment.from_dict({
        "regularizers": ["none", "local"], "trials": trials, "replicates": 1,
        "sampler": "random", "train": {"task": "digits", "epochs": 1, "atol": 1e-4},
        "search": {"rtol": {"low": 1e-4, "high": 1e-2, "log": True},
                   "local": {"weight": {"low": 0.1, "high": 10.0, "log": True}}},
    }, source="benchmark")
    storage = open_storage(url, create=True)
    studies.create(url, storage, NAME, experiment)


def create(url: str, trials: int) -> None:
    """``create_experiment`` in a child process, so that this one keeps no connection open."""
    subprocess.run([sys.executable, __file__, "--create", url, str(trials)], cwd=ROOT,
                   env=child_env(), check=True, stdout=subprocess.DEVNULL)


def check_study(url: str, trials: int, reports: list[dict]) -> dict:
    from optuna.trial import TrialState

    from study.search.storage import experiment_studies, open_storage

    states: dict[str, int] = {}
    complete = set()
    for s in experiment_studies(open_storage(url), NAME).values():
        for t in s.get_trials(deepcopy=False):
            states[t.state.name] = states.get(t.state.name, 0) + 1
            if t.state == TrialState.COMPLETE:
                complete.add((s.study_name, t.number))
    told = [tuple(c) for r in reports for c in r["completed"]]
    return {"states": states, "expected_complete": 2 * trials,
            "lost": 2 * trials - len(complete),
            "duplicated": len(told) - len(set(told)),
            "told_not_complete": len(set(told) - complete),
            "exact": states == {"COMPLETE": 2 * trials} and len(told) == len(set(told))
            == len(complete)}


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def pool_for(mode: str, workers: int, max_connections: int) -> str | None:
    if mode in ("journal", "proxy"):
        return None
    if mode == "pgbouncer":
        return "0"
    return "2+1" if 3 * workers <= max_connections - RESERVE else "0"


def one_run(mode: str, workers: int, trials_per_worker: int, max_connections: int,
            bouncer: PgBouncer | None, scratch: Path) -> dict:
    trials = max(2, math.ceil(trials_per_worker * workers / 2))  # per regularizer (2 studies)
    database = None
    proxy = None
    folder = scratch / f"{mode}-{workers}"
    folder.mkdir(parents=True)
    try:
        if mode == "journal":
            url = str(folder / "study.journal")
            create(url, trials)
            worker_url = url
        else:
            database = Database(admin_engine())
            url = database.url
            create(url, trials)
            worker_url = url
            if mode == "proxy":
                proxy = ProxyProcess(url)
                worker_url = proxy.url
            elif mode == "pgbouncer":
                worker_url = bouncer.url(database.name)
        pool = pool_for(mode, workers, max_connections)
        extra = {"STUDY_DB_POOL": pool} if pool else {}
        before = database.transactions() if database is not None else None
        sampler = Sampler(database)
        sampler.start()
        start = time.perf_counter()
        outs = [folder / f"worker-{i}.json" for i in range(workers)]
        processes = [subprocess.Popen(
            [sys.executable, __file__, "--run-worker", worker_url, str(out)], cwd=folder,
            env=child_env(**extra), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for out in outs]
        logs = [p.communicate(timeout=1800)[0] for p in processes]
        wall = time.perf_counter() - start
        peak = sampler.stop()
        failed = [(p.returncode, log[-1500:]) for p, log in zip(processes, logs)
                  if p.returncode != 0]
        reports = [json.loads(out.read_text()) for out in outs if out.exists()]
        check = check_study(url, trials, reports)
        claims = [x for r in reports for x in r["times"]["claim"]]
        tells = [x for r in reports for x in r["times"]["tell"]]
        beats = [x for r in reports for x in r["times"]["heartbeat"]]
        holds = [x for r in reports for x in r["times"]["lock_hold"]]
        waits = [x for r in reports for x in r["times"]["lock_wait"]]
        transactions = None
        if database is not None:
            if proxy is not None:
                proxy.stop()  # its connections end, and report their statistics
                proxy = None
            # Idle server connections (PgBouncer's) report their statistics within 10 s.
            time.sleep(11 if mode == "pgbouncer" else 1)
            transactions = database.transactions() - before
        if not reports:
            raise SystemExit(f"{mode} with {workers} workers: every worker failed: {failed[0]}")
        span = max(r["end"] for r in reports) - min(r["start"] for r in reports)
        row = {
            "mode": mode, "workers": workers, "trials": 2 * trials, "pool": pool or "-",
            "wall_s": round(wall, 2), "span_s": round(span, 2),
            "claims_per_s": round(len(claims) / span, 2),
            "claim_p50_ms": ms(percentile(claims, 0.5)),
            "claim_p99_ms": ms(percentile(claims, 0.99)),
            "tell_p50_ms": ms(percentile(tells, 0.5)), "tell_p99_ms": ms(percentile(tells, 0.99)),
            "heartbeat_p50_ms": ms(percentile(beats, 0.5)),
            "heartbeat_p99_ms": ms(percentile(beats, 0.99)),
            "lock_hold_p50_ms": ms(percentile(holds, 0.5)),
            "lock_hold_p99_ms": ms(percentile(holds, 0.99)),
            "lock_hold_mean_ms": ms(statistics.fmean(holds) if holds else None),
            "lock_wait_p50_ms": ms(percentile(waits, 0.5)),
            "lock_wait_p99_ms": ms(percentile(waits, 0.99)),
            "claim_mean_ms": ms(statistics.fmean(claims) if claims else None),
            "tell_mean_ms": ms(statistics.fmean(tells) if tells else None),
            "heartbeat_mean_ms": ms(statistics.fmean(beats) if beats else None),
            "idle_polls": sum(r["idle_polls"] for r in reports),
            "peak_db_connections": peak if database is not None else None,
            "db_transactions": transactions,
            "db_transactions_per_trial": None if transactions is None
            else round(transactions / (2 * trials), 1),
            "worker_failures": len(failed), **check,
        }
        if failed:
            row["first_failure"] = failed[0]
        return row
    finally:
        if proxy is not None:
            proxy.stop()
        if database is not None:
            database.drop()


def ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(1000 * seconds, 1)


def lock_semantics(mode: str, pool_size: int, *, session: bool, xact: bool) -> dict:
    """Whether a session advisory lock, and the transaction-level one the workers take, still
    exclude a second client through PgBouncer in ``mode`` with ``pool_size`` server connections
    (1 in transaction mode makes the two clients share one server connection, as they may under
    any load)."""
    bouncer = PgBouncer(mode, pool_size=pool_size)
    database = Database(admin_engine())
    found: dict = {"pool_mode": mode, "pool_size": pool_size}
    try:
        url = bouncer.url(database.name)
        auto = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool,
                                        isolation_level="AUTOCOMMIT")
        plain = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)
        if session:
            with auto.connect() as first, auto.connect() as second:
                first.execute(sqlalchemy.text("SELECT pg_advisory_lock(42)"))
                found["session_lock_holds"] = not second.execute(
                    sqlalchemy.text("SELECT pg_try_advisory_lock(42)")).scalar_one()
        if xact:
            with plain.begin() as first, auto.connect() as second:
                first.execute(sqlalchemy.text("SELECT pg_advisory_xact_lock(43)"))
                found["xact_lock_holds"] = not second.execute(
                    sqlalchemy.text("SELECT pg_try_advisory_xact_lock(43)")).scalar_one()
        auto.dispose()
        plain.dispose()
        return found
    finally:
        database.drop()
        bouncer.stop()


TRIAL_SECONDS = 600  # the projection's GPU trials: 10 minutes each
FLEETS = (100, 1000)


def projection(runs: list[dict], max_connections: int) -> list[dict]:
    """Fleets of GPU workers with 10-minute trials, from the per-call costs measured with one
    worker (the lock's hold time, transactions per trial: with 10-minute trials claims rarely
    meet) and the connections measured with the most workers."""
    rows = []
    single = {r["mode"]: r for r in runs if r["workers"] == 1}
    largest = {}
    for r in runs:
        if r["workers"] >= largest.get(r["mode"], {"workers": 0})["workers"]:
            largest[r["mode"]] = r
    for fleet in FLEETS:
        for mode, r in single.items():
            if mode == "journal":
                continue  # one machine's workers only
            trials_per_s = fleet / TRIAL_SECONDS
            beats_per_s = fleet / HEARTBEAT if mode != "journal" else 0.0
            hold_s = (r["lock_hold_mean_ms"] or 0) / 1000
            per_trial = r["db_transactions_per_trial"]
            big = largest[mode]
            if mode == "postgres":
                connections = f"{2 * fleet} kept, up to {3 * fleet} (pool 2+1); no pool: " \
                    f"{big['peak_db_connections']} seen with {big['workers']} busy workers"
            elif mode == "pgbouncer":
                connections = f"server <= PgBouncer's pool ({big['peak_db_connections']} seen " \
                    f"with {big['workers']} busy workers); {fleet} client connections"
            else:
                connections = f"<= {big['peak_db_connections']} seen with {big['workers']} " \
                    "busy workers, whatever the fleet"
            rows.append({
                "fleet": fleet, "mode": mode, "trials_per_s": round(trials_per_s, 3),
                "heartbeats_per_s": round(beats_per_s, 2),
                "db_transactions_per_s": None if per_trial is None
                else round(trials_per_s * per_trial + beats_per_s, 1),
                "lock_busy_fraction": round(trials_per_s * hold_s, 3),
                "connections": connections,
            })
    return rows


def markdown(result: dict) -> str:
    runs = result["runs"]
    lines = [
        "# Scale: N workers on the storage path",
        "",
        "Made by `benchmarks/scale.py`; reproduce with",
        "",
        f"    {result['command']}",
        "",
        "N concurrent `Worker` processes on the real claim / tell / heartbeat path with a "
        "**trivial trainer** (fixed metrics, no training): this measures the storage path, not "
        f"training. Machine: {result['cpu_count']} cores (load average "
        f"{result.get('load', '?')}, before / after; up to 64 processes on them), so throughput "
        "numbers "
        "are lower bounds and latencies upper bounds; single runs, no repeats, so differences "
        "under about 2x are within the machine's noise (compare the 1-worker rows). "
        "PostgreSQL 15 on the same machine, "
        f"`max_connections = {result['max_connections']}`. Latencies are per call in one "
        "worker: a claim is waiting for the experiment lock plus everything under it (fail lost "
        "trials, count, ask, record the configuration and the first heartbeat); *lock held* is "
        "the part under the lock, the claim's service time: claims of one experiment are "
        "serialised, so claims/s is at most 1 / lock held. What it means for choosing a mode: "
        "`storage/README.md`, *Which mode for how many workers*.",
        "",
        "| mode | workers | trials | pool | claims/s | claim p50 / p99 ms | lock held p50 / p99 "
        "ms | tell p50 / p99 ms | heartbeat p50 / p99 ms | peak DB connections | DB "
        "transactions / trial | workers failed | lost | duplicated | exact |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        lines.append(
            f"| {r['mode']} | {r['workers']} | {r['trials']} | {r['pool']} | "
            f"{r['claims_per_s']} | {r['claim_p50_ms']} / {r['claim_p99_ms']} | "
            f"{r['lock_hold_p50_ms']} / {r['lock_hold_p99_ms']} | "
            f"{r['tell_p50_ms']} / {r['tell_p99_ms']} | "
            f"{_pair(r['heartbeat_p50_ms'], r['heartbeat_p99_ms'])} | "
            f"{_dash(r['peak_db_connections'])} | {_dash(r['db_transactions_per_trial'])} | "
            f"{r['worker_failures']} | {r['lost']} | {r['duplicated']} | "
            f"{'yes' if r['exact'] else 'NO'} |")
    for r in runs:
        if r.get("first_failure"):
            error = r["first_failure"][1].strip().splitlines()[-1]
            lines += ["", f"{r['mode']} with {r['workers']} workers: {r['worker_failures']} "
                      "worker(s) ended with an error (the others finished the budget), the first "
                      f"with: `{error[:300]}`"]
    lines += ["", "Pools (`$STUDY_DB_POOL`): `2+1` (the default: 2 kept, 1 extra) while "
              "3 x workers fits `max_connections`, else `0` (a connection per call); through "
              "PgBouncer in session mode always `0` (a pooled idle client connection would pin "
              "a server connection). `-`: no database pool in the worker (journal file, proxy).",
              "", "## PgBouncer and advisory locks (measured)", "",
              "| pool mode | server connections | session lock (`pg_advisory_lock`) holds | "
              "transaction lock (`pg_advisory_xact_lock`, the workers') holds |",
              "|---|---|---|---|"]
    for lock in result["pgbouncer_locks"]:
        lines.append(f"| {lock['pool_mode']} | {lock['pool_size']} | "
                     f"{_yes(lock.get('session_lock_holds'))} | "
                     f"{_yes(lock.get('xact_lock_holds'))} |")
    lines += ["", f"## Projection: GPU workers with {TRIAL_SECONDS // 60}-minute trials", "",
              f"From the per-call costs measured with one worker, heartbeats every {HEARTBEAT} "
              "s. *Lock busy* is the fraction of time one experiment's lock is held by claims "
              "(claims are serialised per experiment; near 1 the workers queue).", "",
              "| workers | mode | trials/s | heartbeats/s | DB transactions/s | lock busy | "
              "DB connections |", "|---|---|---|---|---|---|---|"]
    for p in projection(runs, result["max_connections"]):
        lines.append(f"| {p['fleet']} | {p['mode']} | {p['trials_per_s']} | "
                     f"{p['heartbeats_per_s']} | {_dash(p['db_transactions_per_s'])} | "
                     f"{p['lock_busy_fraction']} | {p['connections']} |")
    return "\n".join(lines) + "\n"


def _dash(value) -> str:
    return "-" if value is None else str(value)


def _pair(a, b) -> str:
    return "-" if a is None else f"{a} / {b}"


def _yes(value) -> str:
    return "-" if value is None else ("yes" if value else "**no**")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run-worker", nargs=2, metavar=("URL", "OUT"), help=argparse.SUPPRESS)
    parser.add_argument("--create", nargs=2, metavar=("URL", "TRIALS"), help=argparse.SUPPRESS)
    parser.add_argument("--workers", default="1,4,16,64")
    parser.add_argument("--modes", default="postgres,proxy,pgbouncer,journal")
    parser.add_argument("--trials-per-worker", type=int, default=4)
    parser.add_argument("--out", default=str(RESULTS / "scale"))
    parser.add_argument("--report", action="store_true",
                        help="only write OUT.md from OUT.json (the measured table and the "
                        "projection)")
    args = parser.parse_args()
    if args.report:
        result = json.loads(Path(args.out + ".json").read_text())
        Path(args.out + ".md").write_text(markdown(result))
        return
    if args.run_worker:
        run_worker(*args.run_worker)
        return
    if args.create:
        create_experiment(args.create[0], int(args.create[1]))
        return
    counts = [int(n) for n in args.workers.split(",")]
    modes = args.modes.split(",")
    with admin_engine().connect() as c:
        max_connections = int(c.execute(sqlalchemy.text("SHOW max_connections")).scalar_one())
    print(f"max_connections = {max_connections}", flush=True)
    bouncer = PgBouncer("session", pool_size=40) if "pgbouncer" in modes else None
    rows = []
    locks = []
    load = [round(os.getloadavg()[0], 1)]
    scratch = Path(tempfile.mkdtemp(prefix="scale-"))
    try:
        for workers in counts:
            for mode in modes:
                row = one_run(mode, workers, args.trials_per_worker, max_connections, bouncer,
                              scratch)
                rows.append(row)
                print(json.dumps(row), flush=True)
                Path(args.out + ".partial.json").write_text(json.dumps(rows, indent=1))
        if "pgbouncer" in modes:
            locks = [lock_semantics("session", 4, session=True, xact=True),
                     lock_semantics("transaction", 1, session=True, xact=False),
                     lock_semantics("transaction", 4, session=False, xact=True)]
            print(json.dumps(locks), flush=True)
    finally:
        if bouncer is not None:
            bouncer.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    command = "PYTHONPATH=$PWD .venv/bin/python benchmarks/scale.py " + " ".join(sys.argv[1:])
    load.append(round(os.getloadavg()[0], 1))
    result = {"command": command.strip(), "max_connections": max_connections,
              "load": " / ".join(map(str, load)),
              "cpu_count": os.cpu_count(), "heartbeat_s": HEARTBEAT, "runs": rows,
              "pgbouncer_locks": locks}
    Path(args.out + ".json").write_text(json.dumps(result, indent=1) + "\n")
    Path(args.out + ".md").write_text(markdown(result))
    print(f"wrote {args.out}.json and .md", flush=True)


if __name__ == "__main__":
    main()
