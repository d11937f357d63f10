"""PostgreSQL and Redis for the distributed stack, from Debian's packages, on loopback.

Both run from a fresh temp dir on a free 127.0.0.1 port and are stopped by pid. PostgreSQL
refuses to run as root: when the tests run as root, the server runs as the unprivileged
``postgres`` user the Debian package creates (``setpriv`` execs it, so the pid we hold is the
postmaster's own). It runs without durability (``fsync=off``, ``synchronous_commit=off``,
``full_page_writes=off``): a test database, thrown away at the end.

``PostgresServer.restart(down_seconds)`` stops the server (fast shutdown: every connection is
cut, as a failover or a crash would) and starts it again on the same port and data.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

PG_BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


class ServiceUnavailable(RuntimeError):
    """A server's program is not installed on this machine."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_bin(name: str) -> str:
    for d in PG_BIN_DIRS:
        if (d / name).exists():
            return str(d / name)
    found = shutil.which(name)
    if not found:
        raise ServiceUnavailable(
            f"PostgreSQL's {name} not found (install Debian's postgresql package)"
        )
    return found


def _wait_port(
    port: int, proc: subprocess.Popen[bytes], what: str, log: Path, bound: float
) -> None:
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited rc={proc.returncode}:\n{_tail(log)}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.1)
    raise RuntimeError(
        f"{what} not accepting on 127.0.0.1:{port} after {bound:.0f}s:\n{_tail(log)}"
    )


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _stop(proc: subprocess.Popen[bytes] | None, sig: int, grace: float) -> None:
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(sig)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait(timeout=10)


@dataclass
class PostgresServer:
    """A throw-away PostgreSQL cluster with one database, ``airflow``."""

    port: int = 0
    database: str = "airflow"
    user: str = "postgres"
    root: Path = field(init=False)
    proc: subprocess.Popen[bytes] | None = field(init=False, default=None)
    restarts: int = field(init=False, default=0)

    @property
    def url(self) -> str:
        """The SQLAlchemy URL Airflow uses (psycopg2, trust auth on loopback)."""
        return f"postgresql+psycopg2://{self.user}@127.0.0.1:{self.port}/{self.database}"

    @property
    def log(self) -> Path:
        return self.root / "postgres.log"

    def _as_server_user(self, argv: list[str]) -> list[str]:
        if os.getuid() != 0:
            return argv
        try:
            pwd.getpwnam("postgres")
        except KeyError as e:
            raise ServiceUnavailable("running as root and there is no 'postgres' user") from e
        return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", *argv]

    def start(self) -> PostgresServer:
        initdb, postgres = _pg_bin("initdb"), _pg_bin("postgres")
        # Under /tmp, not pytest's 0700 tree: the server user must reach its data directory.
        self.root = Path(tempfile.mkdtemp(prefix="abs-postgres-"))
        (self.root / "data").mkdir()
        if os.getuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
            shutil.chown(self.root / "data", "postgres", "postgres")
        self.port = self.port or free_port()
        subprocess.run(
            self._as_server_user(
                [
                    initdb,
                    "-D",
                    str(self.root / "data"),
                    "-U",
                    self.user,
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--no-sync",
                ]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=120,
        )
        self._postgres = postgres
        self._spawn()
        self._create_database()
        return self

    def _spawn(self) -> None:
        argv = self._as_server_user(
            [
                self._postgres, "-D", str(self.root / "data"), "-p", str(self.port),
                "-h", "127.0.0.1", "-k", str(self.root),
                "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                "-c", "max_connections=300", "-c", "shared_buffers=64MB",
            ]
        )  # fmt: skip
        out = self.log.open("ab")
        try:
            self.proc = subprocess.Popen(
                argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )  # fmt: skip
        finally:
            out.close()
        _wait_port(self.port, self.proc, "postgres", self.log, 60)
        self._wait_ready()

    def _wait_ready(self, bound: float = 60) -> None:
        import psycopg2

        deadline = time.monotonic() + bound
        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                psycopg2.connect(
                    host="127.0.0.1", port=self.port, user=self.user, dbname="postgres"
                ).close()
                return
            except psycopg2.OperationalError as e:  # "the database system is starting up"
                last = e
                time.sleep(0.2)
        raise RuntimeError(f"postgres not ready after {bound:.0f}s: {last}\n{_tail(self.log)}")

    def _create_database(self) -> None:
        import psycopg2

        conn = psycopg2.connect(host="127.0.0.1", port=self.port, user=self.user, dbname="postgres")
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{self.database}"')
        finally:
            conn.close()

    def restart(self, down_seconds: float = 3.0) -> None:
        """Stop (fast shutdown: every session cut) and, ``down_seconds`` later, start again."""
        _stop(self.proc, signal.SIGINT, 30)
        time.sleep(down_seconds)  # the outage itself: its length is the point, not a bet
        self._spawn()
        self.restarts += 1

    def query(self, sql: str, *args: object) -> list[tuple[object, ...]]:
        """Rows of one statement on the ``airflow`` database (a short-lived connection)."""
        import psycopg2

        conn = psycopg2.connect(
            host="127.0.0.1", port=self.port, user=self.user, dbname=self.database
        )
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(sql, args or None)
                return list(cur.fetchall()) if cur.description else []
        finally:
            conn.close()

    def stop(self) -> None:
        _stop(self.proc, signal.SIGINT, 30)
        if getattr(self, "root", None) is not None:
            shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class RedisServer:
    """A Redis on loopback without persistence: Celery's broker."""

    port: int = 0
    root: Path = field(init=False)
    proc: subprocess.Popen[bytes] | None = field(init=False, default=None)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server")
        if not binary:
            raise ServiceUnavailable("redis-server not found (install Debian's redis-server)")
        self.root = Path(tempfile.mkdtemp(prefix="abs-redis-"))
        self.port = self.port or free_port()
        log = self.root / "redis.log"
        out = log.open("ab")
        try:
            self.proc = subprocess.Popen(
                [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", str(self.root), "--daemonize", "no"],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )  # fmt: skip
        finally:
            out.close()
        _wait_port(self.port, self.proc, "redis-server", log, 30)
        return self

    def stop(self) -> None:
        _stop(self.proc, signal.SIGTERM, 15)
        if getattr(self, "root", None) is not None:
            shutil.rmtree(self.root, ignore_errors=True)
