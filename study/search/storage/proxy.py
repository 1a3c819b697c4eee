"""``grpc://HOST:PORT``: a PostgreSQL database reached through ``study proxy``
(``study.search.storage.proxy_server``), so that many workers share the proxy's few database
connections instead of opening their own.

The proxy is Optuna's gRPC storage proxy (``GrpcStorageProxy`` on this side) plus a small side
service of study's own on the same server (``SERVICE``; JSON or raw-bytes payloads, no protobuf),
for what Optuna's proxy does not carry:

- the **experiment lock**: a bidirectional stream that the proxy answers once it holds the same
  PostgreSQL advisory lock a direct worker takes (``PostgreSQL.lock``); it holds it until this
  side closes the stream, or its process or connection dies. A worker holding it through the
  proxy and one holding it directly exclude each other; budgets stay exact either way;
- **heartbeats**: recorded by the proxy in the database's heartbeat table, with the database's
  clock, exactly as a direct worker records them; lost trials are those whose heartbeat is older
  than the grace period of the worker that asks (``StaleTrials``);
- **artifacts in the database** (``database``): read, written and removed by the proxy.

Without authentication or TLS: a proxy belongs on a private network (see ``README`` of
``storage/``).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import grpc
import optuna
from optuna.artifacts.exceptions import ArtifactNotFound
from optuna.storages import BaseStorage, GrpcStorageProxy
from optuna.storages._grpc.auto_generated import api_pb2_grpc
from optuna.storages._grpc.client import GrpcClientCache

from study.search.errors import StorageError
from study.search.storage import artifacts
from study.search.storage.base import ARTIFACTS_ENV, GRACE_FACTOR, HEARTBEAT_SECONDS, Backend

SCHEME = "grpc"
SERVICE = "study.StorageProxy"
#: every call but the lock waits this long for an unreachable proxy (a restart) before failing
CALL_TIMEOUT_SECONDS = 60
CONNECT_TIMEOUT_SECONDS = 10
#: status codes that mean "the proxy or its database failed", not an answer Optuna's client
#: turns into KeyError, UpdateFinishedTrialError, ...
_FAILURES = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
             grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL,
             grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.UNIMPLEMENTED,
             grpc.StatusCode.CANCELLED}
_CHANNEL_OPTIONS = [("grpc.max_receive_message_length", -1),
                    ("grpc.max_send_message_length", -1)]


def pack(value: Any) -> bytes:
    return json.dumps(value).encode()


def unpack(data: bytes) -> Any:
    return json.loads(data.decode())


def pack_blob(header: dict, body: bytes) -> bytes:
    """A JSON header and raw bytes in one message (artifact uploads)."""
    head = pack(header)
    return len(head).to_bytes(4, "big") + head + body


def unpack_blob(data: bytes) -> tuple[dict, bytes]:
    size = int.from_bytes(data[:4], "big")
    return unpack(data[4:4 + size]), data[4 + size:]


def failure(exc: grpc.RpcError, address: str) -> optuna.exceptions.StorageInternalError:
    code = exc.code() if hasattr(exc, "code") else None
    details = exc.details() if hasattr(exc, "details") else str(exc)
    name = code.name.lower() if code is not None else "error"
    return optuna.exceptions.StorageInternalError(f"proxy {address}: {name}: {details}")


class _Calls:
    """A stub whose calls wait for a restarting proxy (up to ``CALL_TIMEOUT_SECONDS``) and turn
    its failures into ``StorageInternalError``, which the study layer reports in one line."""

    def __init__(self, stub: Any, address: str):
        self._stub = stub
        self._address = address

    def __getattr__(self, method: str) -> Any:
        call = getattr(self._stub, method)

        def invoke(request: Any) -> Any:
            try:
                return call(request, timeout=CALL_TIMEOUT_SECONDS, wait_for_ready=True)
            except grpc.RpcError as exc:
                if exc.code() in _FAILURES:
                    raise failure(exc, self._address) from None
                raise

        return invoke


class Client:
    """The side service of one proxy (see the module docstring)."""

    def __init__(self, host: str, port: int):
        self.address = f"{host}:{port}"
        self.channel = grpc.insecure_channel(self.address, options=_CHANNEL_OPTIONS)
        unary = ("Hello", "Heartbeat", "StaleTrials", "ReadArtifact", "WriteArtifact",
                 "RemoveArtifact")
        self._unary = {m: self.channel.unary_unary(f"/{SERVICE}/{m}") for m in unary}
        self._lock = self.channel.stream_stream(f"/{SERVICE}/Lock")

    def call(self, method: str, payload: bytes, *, wait: bool = True) -> bytes:
        try:
            if wait:
                return self._unary[method](payload, timeout=CALL_TIMEOUT_SECONDS,
                                           wait_for_ready=True)
            return self._unary[method](payload, timeout=CONNECT_TIMEOUT_SECONDS)
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                raise KeyError(exc.details()) from None
            raise failure(exc, self.address) from None

    def hello(self) -> dict:
        """What the proxy serves; a clear error when nothing, or no study proxy, listens."""
        try:
            return unpack(self._unary["Hello"](b"{}", timeout=CONNECT_TIMEOUT_SECONDS))
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.UNIMPLEMENTED:
                raise StorageError(
                    f"grpc://{self.address} is a gRPC server without study's lock and heartbeat "
                    "service (a bare Optuna proxy?): start the proxy with study proxy") from None
            raise StorageError(
                f"no study proxy answers at grpc://{self.address} "
                f"({exc.code().name.lower()}): start one with study proxy --storage "
                "postgresql+psycopg://... --port PORT") from None

    @contextlib.contextmanager
    def lock(self, name: str) -> Iterator[None]:
        """Hold experiment ``name``'s lock (see the module docstring). The proxy answers a
        request within about a second, granted or not; not granted, ask again."""
        delay = 0.005
        while True:
            release = threading.Event()

            def requests(release: threading.Event = release) -> Iterator[bytes]:
                yield pack({"name": name})
                release.wait()

            responses = self._lock(requests())
            try:
                granted = unpack(next(responses))["granted"]
            except grpc.RpcError as exc:
                release.set()
                raise failure(exc, self.address) from None
            if granted:
                break
            release.set()
            with contextlib.suppress(grpc.RpcError):
                for _ in responses:
                    pass
            time.sleep(delay * random.uniform(0.5, 1.5))
            delay = min(2 * delay, 0.2)
        try:
            yield
        finally:
            release.set()  # ends the stream: the proxy releases the lock
            with contextlib.suppress(grpc.RpcError):
                for _ in responses:  # wait until it has
                    pass

    def close(self) -> None:
        self.channel.close()


class ProxyStorage(GrpcStorageProxy):
    """Optuna's ``GrpcStorageProxy`` with heartbeats (through the side service) and failures
    reported as ``StorageInternalError``."""

    def __init__(self, host: str, port: int, heartbeat: int = HEARTBEAT_SECONDS):
        self.heartbeat_interval = heartbeat
        super().__init__(host=host, port=port)

    def _setup(self) -> None:
        self.client = Client(self._host, self._port)
        self._channel = self.client.channel
        self._stub = _Calls(api_pb2_grpc.StorageServiceStub(self._channel), self.client.address)
        self._cache = GrpcClientCache(self._stub)

    def __getstate__(self) -> dict[Any, Any]:
        state = super().__getstate__()
        state.pop("client", None)
        return state

    def record_heartbeat(self, trial_id: int) -> None:
        self.client.call("Heartbeat", pack({"trial_id": trial_id}))

    def get_heartbeat_interval(self) -> int:
        return self.heartbeat_interval

    def stale_trial_ids(self, study_id: int, grace: float) -> list[int]:
        return unpack(self.client.call("StaleTrials", pack({"study_id": study_id,
                                                            "grace": grace})))


class ProxyArtifactStore:
    """The artifacts stored in the proxy's database (``database``), through the proxy; Optuna's
    artifact-store protocol."""

    def __init__(self, client: Client):
        self._client = client

    def open_reader(self, artifact_id: str) -> BinaryIO:
        try:
            return io.BytesIO(self._client.call("ReadArtifact", pack({"id": artifact_id})))
        except KeyError:
            raise ArtifactNotFound(f"no artifact {artifact_id} in the database") from None

    def write(self, artifact_id: str, content_body: BinaryIO) -> None:
        self._client.call("WriteArtifact", pack_blob({"id": artifact_id}, content_body.read()))

    def remove(self, artifact_id: str) -> None:
        try:
            self._client.call("RemoveArtifact", pack({"id": artifact_id}))
        except KeyError:
            raise ArtifactNotFound(f"no artifact {artifact_id} in the database") from None


class Proxy(Backend):
    """``grpc://HOST:PORT``: the database behind a ``study proxy``."""

    @classmethod
    def accepts(cls, url: str) -> bool:
        return url.partition("://")[0].lower() == SCHEME

    @property
    def address(self) -> tuple[str, int]:
        parts = urllib.parse.urlsplit(self.url)
        try:
            port = parts.port
        except ValueError:
            port = None
        if not parts.hostname or port is None or parts.path not in ("", "/"):
            raise StorageError(f"bad proxy URL {self.label}: expected grpc://HOST:PORT")
        return parts.hostname, port

    def open(self, *, create: bool = False, heartbeat: int = HEARTBEAT_SECONDS) -> BaseStorage:
        if create:
            raise StorageError("create experiments on the database itself (study create "
                               "--storage postgresql+psycopg://...); workers, status, export "
                               f"and dashboard then reach them through {self.label}")
        host, port = self.address
        storage = ProxyStorage(host, port, heartbeat)
        storage.client.hello()
        return storage

    def lock(self, storage: BaseStorage, name: str) -> contextlib.AbstractContextManager[None]:
        return storage.client.lock(name)

    def runs_dir(self) -> Path:
        return Path("runs")

    def default_artifacts(self) -> str:
        """In the database behind the proxy, unless ``$STUDY_ARTIFACTS`` names a folder."""
        return super().default_artifacts() if os.environ.get(ARTIFACTS_ENV) else \
            artifacts.DATABASE

    def artifact_store(self, where: str | None = None) -> Any:
        where = where or self.default_artifacts()
        if where == artifacts.DATABASE:
            return ProxyArtifactStore(Client(*self.address))
        return artifacts.open_store(where, None)

    def heartbeat_interval(self, storage: BaseStorage) -> int | None:
        return storage.heartbeat_interval

    def lost_trials(self, storage: BaseStorage, study: optuna.Study) -> tuple[list[int], str]:
        grace = GRACE_FACTOR * storage.heartbeat_interval
        return (storage.stale_trial_ids(study._study_id, grace),
                f"worker lost: no heartbeat for over {grace} s")

    @contextlib.contextmanager
    def errors(self) -> Iterator[None]:
        try:
            with super().errors():
                yield
        except grpc.RpcError as exc:
            raise self.error(failure(exc, self.url.partition("://")[2])) from None
