"""``study proxy``: one process that serves a PostgreSQL database to many workers over gRPC
(``grpc://HOST:PORT``; the client side is ``study.search.storage.proxy``).

One gRPC server carries Optuna's storage proxy service, over Optuna's cached storage
(``optuna.storages.get_storage``) of one ``RDBStorage``, and study's side service ``SERVICE``:
the experiment lock, heartbeats, stale trials and database artifacts. Every database connection
of the workers behind it is one of the proxy's: up to ``connections`` for storage calls, one per
experiment lock held at the moment (up to as many again), and the artifact store's (up to 4).
"""

from __future__ import annotations

import contextlib
import io
import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any, TextIO

import grpc
import optuna
import sqlalchemy
from optuna.artifacts.exceptions import ArtifactNotFound
from optuna.storages import RDBStorage
from optuna.storages._grpc.auto_generated import api_pb2_grpc
from optuna.storages._grpc.servicer import OptunaStorageProxyService
from optuna.storages._rdb import models
from optuna.trial import TrialState

from study.search.errors import StorageError
from study.search.storage import artifacts
from study.search.storage.base import redact, scrub
from study.search.storage.proxy import SERVICE, pack, unpack, unpack_blob
from study.search.storage.rdb import PostgreSQL

#: gRPC server threads; at most half of them wait for an experiment lock at any time, so that
#: the holder's own calls always find a thread
THREADS = 32
#: database connections of the storage calls (Optuna's service, heartbeats, stale trials)
CONNECTIONS = 8
#: how long one lock request waits in the proxy before it answers "not yet"
LOCK_WAIT_SECONDS = 1.0
#: the largest message (an artifact upload)
MAX_MESSAGE_BYTES = 1 << 30
STOP_GRACE_SECONDS = 5


class SideService:
    """study's RPCs next to Optuna's (see ``study.search.storage.proxy``)."""

    def __init__(self, store: PostgreSQL, rdb: RDBStorage, threads: int):
        self._store = store
        self._rdb = rdb
        self._artifacts: Any = None
        self._artifacts_lock = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()
        self._waiters = threading.BoundedSemaphore(max(1, threads // 2))

    def handler(self) -> grpc.GenericRpcHandler:
        unary = {"Hello": self.hello, "Heartbeat": self.heartbeat,
                 "StaleTrials": self.stale_trials, "ReadArtifact": self.read_artifact,
                 "WriteArtifact": self.write_artifact, "RemoveArtifact": self.remove_artifact}
        methods = {name: grpc.unary_unary_rpc_method_handler(self._guarded(method))
                   for name, method in unary.items()}
        methods["Lock"] = grpc.stream_stream_rpc_method_handler(self.lock)
        return grpc.method_handlers_generic_handler(SERVICE, methods)

    def _guarded(self, method: Callable[[bytes], bytes]
                 ) -> Callable[[bytes, grpc.ServicerContext], bytes]:
        def call(request: bytes, context: grpc.ServicerContext) -> bytes:
            try:
                return method(request)
            except (KeyError, ArtifactNotFound) as exc:
                context.abort(grpc.StatusCode.NOT_FOUND, str(exc))
            except Exception as exc:  # the database failed: the worker reports it in one line
                context.abort(grpc.StatusCode.UNAVAILABLE,
                              scrub(f"{type(exc).__name__}: {exc}", self._store.url))
            raise AssertionError("unreachable")

        return call

    def hello(self, request: bytes) -> bytes:
        return pack({"storage": self._store.label})

    def heartbeat(self, request: bytes) -> bytes:
        self._rdb.record_heartbeat(int(unpack(request)["trial_id"]))
        return b"{}"

    def stale_trials(self, request: bytes) -> bytes:
        """RUNNING trials of a study whose heartbeat is older than the asking worker's grace
        period, by the database's clock (as ``RDBStorage`` decides for a direct worker)."""
        asked = unpack(request)
        trial, beat = models.TrialModel, models.TrialHeartbeatModel
        query = (sqlalchemy.select(trial.trial_id)
                 .join(beat, beat.trial_id == trial.trial_id)
                 .where(trial.study_id == int(asked["study_id"]),
                        trial.state == TrialState.RUNNING,
                        beat.heartbeat < sqlalchemy.func.localtimestamp()
                        - timedelta(seconds=float(asked["grace"]))))
        with self._rdb.engine.connect() as connection:
            return pack(sorted(connection.execute(query).scalars()))

    def _artifact_store(self) -> Any:
        with self._artifacts_lock:
            if self._artifacts is None:
                self._artifacts = artifacts.open_store(
                    artifacts.DATABASE, self._store.url,
                    {**self._store.engine_kwargs(), "pool_size": 2, "max_overflow": 2})
            return self._artifacts

    def read_artifact(self, request: bytes) -> bytes:
        return self._artifact_store().open_reader(unpack(request)["id"]).read()

    def write_artifact(self, request: bytes) -> bytes:
        header, body = unpack_blob(request)
        self._artifact_store().write(header["id"], io.BytesIO(body))
        return b"{}"

    def remove_artifact(self, request: bytes) -> bytes:
        self._artifact_store().remove(unpack(request)["id"])
        return b"{}"

    def _local(self, name: str) -> threading.Lock:
        with self._locks_lock:
            return self._locks.setdefault(name, threading.Lock())

    def lock(self, requests: Iterator[bytes], context: grpc.ServicerContext) -> Iterator[bytes]:
        """Experiment lock: answer ``granted`` once held, then hold it until the client ends
        the stream (or dies); answer ``not granted`` after ``LOCK_WAIT_SECONDS``, or at once
        when half the threads already wait."""
        try:
            name = unpack(next(requests))["name"]
        except (StopIteration, grpc.RpcError):
            return
        local = self._local(name)
        got = False
        if self._waiters.acquire(blocking=False):
            try:
                got = local.acquire(timeout=LOCK_WAIT_SECONDS)
            finally:
                self._waiters.release()
        if not got:
            yield pack({"granted": False})
            return
        try:
            # The lock direct workers take, so that they and the proxy's exclude each other.
            with self._store.lock(self._rdb, name):
                yield pack({"granted": True})
                with contextlib.suppress(grpc.RpcError):
                    for _ in requests:  # ends when the client closes the stream, or dies
                        break
        except Exception as exc:
            context.abort(grpc.StatusCode.UNAVAILABLE,
                          scrub(f"{type(exc).__name__}: {exc}", self._store.url))
        finally:
            local.release()


class _Scrubbing(logging.Formatter):
    def __init__(self, url: str):
        super().__init__("%(name)s: %(levelname)s: %(message)s")
        self._url = url

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record), self._url)


def serve(url: str, host: str, port: int, *, threads: int = THREADS,
          connections: int = CONNECTIONS, out: TextIO | None = None,
          ready: Callable[[int], None] | None = None) -> int:
    """Serve the database at ``url`` on ``host:port`` (0: a free port) until SIGTERM/SIGINT.
    Prints one line with the address; never the password."""
    out = out or sys.stdout
    store = PostgreSQL(url) if PostgreSQL.accepts(url) else None
    if store is None:
        raise StorageError(f"study proxy serves a PostgreSQL database "
                           f"(postgresql+psycopg://USER@HOST:PORT/DB), not {redact(url)}")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Scrubbing(url))
    logging.getLogger().addHandler(handler)  # gRPC logs failed calls; without the password
    # Storage calls use up to ``connections``; a held experiment lock keeps one more each.
    store.pool = (connections, connections)
    rdb = store.open()
    storage = optuna.storages.get_storage(rdb)
    server = grpc.server(ThreadPoolExecutor(max_workers=threads),
                         options=[("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                                  ("grpc.max_send_message_length", MAX_MESSAGE_BYTES)])
    api_pb2_grpc.add_StorageServiceServicer_to_server(OptunaStorageProxyService(storage), server)
    server.add_generic_rpc_handlers((SideService(store, rdb, threads).handler(),))
    try:
        bound = server.add_insecure_port(f"{host}:{port}")
    except RuntimeError:
        bound = 0
    if not bound:
        rdb.engine.dispose()
        raise StorageError(f"cannot listen on {host}:{port} (in use, or not an address of this "
                           "machine)")
    stop = threading.Event()
    previous = {s: signal.signal(s, lambda *_: stop.set())
                for s in (signal.SIGTERM, signal.SIGINT)}
    server.start()
    shown = f"[{host}]" if ":" in host else host
    print(f"study proxy: serving {store.label} at grpc://{shown}:{bound} "
          f"({threads} threads, {connections} database connections)", file=out, flush=True)
    if ready is not None:
        ready(bound)
    try:
        while not stop.wait(1.0):
            pass
    finally:
        server.stop(STOP_GRACE_SECONDS).wait()
        rdb.engine.dispose()
        for signum, handler_ in previous.items():
            signal.signal(signum, handler_)
    print("study proxy: stopped", file=out, flush=True)
    return 0
