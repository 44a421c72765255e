"""A real PostgreSQL server for the tests: Debian's `postgresql` binaries, `initdb` + `pg_ctl`
into a temporary folder, listening on 127.0.0.1 and a free port. One server per test process
(started on first use, stopped at exit); every caller gets a fresh database on it.

When the server cannot start, the tests that need it fail with the reason (`.ci/run` installs
the package); they are never skipped."""

from __future__ import annotations

import atexit
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import adbc_driver_postgresql.dbapi as adbc

USER = "platform"


def _binaries() -> Path:
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if not versions:
        raise RuntimeError(
            "PostgreSQL's initdb was not found (on PATH or in /usr/lib/postgresql/*/bin): "
            "install the server, e.g. apt-get install -y postgresql (as .ci/run does)"
        )
    return Path(versions[-1]).parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PostgresServer:
    _shared: PostgresServer | None = None

    def __init__(self) -> None:
        self.bin = _binaries()
        self.folder = Path(tempfile.mkdtemp(prefix="ml-platform-pg-"))
        self.port = _free_port()
        # PostgreSQL refuses to run as root: as root, the server runs as the package's user.
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            shutil.chown(self.folder, "postgres")
        data = self.folder / "data"
        self._run(["initdb", "-D", str(data), "-U", USER, "--auth=trust", "-E", "UTF8", "--no-sync"])
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.folder} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run(["pg_ctl", "-D", str(data), "-o", options, "-l", str(self.folder / "log"), "-w", "start"])
        self.data = data

    def _run(self, command: list[str]) -> None:
        done = subprocess.run(
            [*self.as_user, str(self.bin / command[0]), *command[1:]], capture_output=True, text=True
        )
        if done.returncode != 0:
            log = self.folder / "log"
            tail = log.read_text()[-2000:] if log.is_file() else ""
            raise RuntimeError(f"{' '.join(command[:2])} failed: {done.stderr.strip()}\n{tail}")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def fresh_database(self) -> str:
        """A new, empty database on the server; its URL."""
        name = f"t_{uuid.uuid4().hex[:16]}"
        connection = adbc.connect(self.url(), autocommit=True)
        try:
            with connection.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{name}"')
        finally:
            connection.close()
        return self.url(name)

    def stop(self) -> None:
        subprocess.run(
            [*self.as_user, str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
            capture_output=True,
        )
        shutil.rmtree(self.folder, ignore_errors=True)

    @classmethod
    def shared(cls) -> PostgresServer:
        if cls._shared is None:
            cls._shared = cls()
            atexit.register(cls._shared.stop)
        return cls._shared


def fresh_postgres_url() -> str:
    return PostgresServer.shared().fresh_database()
