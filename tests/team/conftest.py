"""A real PostgreSQL server for the team-ledger tests, started in a temporary folder.

``initdb`` and ``pg_ctl`` come from the distribution's packages (scripts/system-deps installs
``postgresql``); Debian keeps them under ``/usr/lib/postgresql/<major>/bin``. The server
listens on 127.0.0.1 on a free port, trusts local connections (it lives for one test
process, in a folder only it uses), and is stopped when the process ends. PostgreSQL refuses
to run as root, so under root (CI) it runs as the ``postgres`` account the package creates.
Each test gets its own database: ``shared_db`` is the URL of an empty one.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.governance.conftest import gov, team  # noqa: F401 - the governed workspace


def _program(name: str) -> str:
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None
    )
    if found is None:
        raise pytest.UsageError(f"{name} is missing: install postgresql (scripts/system-deps)")
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PgServer:
    """One running server: its data folder, port and a way to stop and start it again."""

    def __init__(self) -> None:
        """Create the cluster (not started)."""
        self.root = Path(tempfile.mkdtemp(prefix="ledgerml-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.user: str | None = None
        if os.geteuid() == 0:
            self.user = "postgres"
            pw = pwd.getpwnam(self.user)
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
        self._run(
            _program("initdb"),
            "-D",
            str(self.data),
            "-U",
            "ledgerml",
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
        )
        self._counter = itertools.count(1)

    def _run(self, *args: str) -> None:
        cmd = list(args)
        if self.user is not None:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=self.root)

    def start(self) -> None:
        """Start the server and wait until it accepts connections (pg_ctl -w waits)."""
        opts = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} -c fsync=off "
            "-c max_connections=60"
        )
        self._run(
            _program("pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            opts,
            "-l",
            str(self.root / "log"),
            "-w",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``immediate`` is a crash: no checkpoint, transactions cut)."""
        self._run(_program("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def url(self, database: str = "postgres") -> str:
        """A connection URL for ``database``."""
        return f"postgresql://ledgerml@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """Create an empty database and return its URL."""
        import psycopg

        name = f"team_{os.getpid()}_{next(self._counter)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """The test process's PostgreSQL server."""
    server = PgServer()
    server.start()
    try:
        yield server
    finally:
        try:
            server.stop("immediate")
        finally:
            shutil.rmtree(server.root, ignore_errors=True)


@pytest.fixture
def shared_db(pg_server: PgServer) -> str:
    """The URL of a new, empty database on the test server."""
    return pg_server.new_database()
