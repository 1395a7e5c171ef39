"""A throwaway PostgreSQL cluster for the tests, started from the server binaries on the machine.

``initdb`` + ``pg_ctl`` in a temporary folder, listening only on 127.0.0.1 at a free port, with
trust authentication (nothing else can reach it). PostgreSQL refuses to run as root, so when
the tests run as root the cluster runs as the unprivileged ``postgres`` OS user, owning the
folder. Each test gets its own database cloned from a template that already carries the
migrated schema (``CREATE DATABASE ... TEMPLATE``, tens of milliseconds).

Used by ``tests/conftest.py`` and the benchmarks (``python -m tests.benchmarks...``).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

TEMPLATE_DB = "registry_template"


def find_server_binaries() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``: PG_BINDIR, Debian's layout, then PATH."""
    candidates = []
    if os.environ.get("PG_BINDIR"):
        candidates.append(Path(os.environ["PG_BINDIR"]))
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True)
    candidates += [Path(p) for p in versions]
    candidates += [Path(p) for p in sorted(glob.glob("/usr/local/opt/postgresql*/bin"))]
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    for folder in candidates:
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run_as(user: str | None, args: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, user=user, check=True, capture_output=True, text=True, **kwargs)


@dataclass
class PostgresCluster:
    bindir: Path
    folder: Path
    port: int
    user: str | None  # OS user the server runs as; None = the current user
    _counter: int = field(default=0)

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def admin(self):
        """An autocommit psycopg connection to the maintenance database."""
        import psycopg

        return psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True)

    def create_database(self, template: str | None = TEMPLATE_DB) -> str:
        self._counter += 1
        name = f"test_{os.getpid()}_{self._counter}"
        with self.admin() as conn:
            clause = f" TEMPLATE {template}" if template else ""
            conn.execute(f'CREATE DATABASE "{name}"{clause}')
        return name

    def drop_database(self, name: str) -> None:
        with self.admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        subprocess.run(
            [str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"],
            user=self.user, capture_output=True,
        )
        shutil.rmtree(self.folder, ignore_errors=True)


def start_cluster(bindir: Path) -> PostgresCluster:
    user = "postgres" if os.geteuid() == 0 else None
    folder = Path(tempfile.mkdtemp(prefix="pm-pgtest-"))
    if user:
        shutil.chown(folder, user=user)
    os.chmod(folder, 0o700)
    data = folder / "data"
    _run_as(user, [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                   "--encoding=UTF8", "--locale=C.UTF-8" if _has_c_utf8() else "--no-locale"], cwd=folder)
    port = _free_port()
    options = (
        f"-p {port} -c listen_addresses=127.0.0.1 -k {folder} -c fsync=off -c synchronous_commit=off "
        "-c full_page_writes=off -c max_connections=100 -c shared_buffers=64MB"
    )
    _run_as(user, [str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(folder / "server.log"), "-w",
                   "-t", "60", "start"], cwd=folder)
    cluster = PostgresCluster(bindir=bindir, folder=folder, port=port, user=user)
    deadline = time.monotonic() + 30
    while True:
        try:
            cluster.admin().close()
            break
        except Exception:
            if time.monotonic() > deadline:
                cluster.stop()
                raise
            time.sleep(0.2)
    return cluster


def _has_c_utf8() -> bool:
    try:
        out = subprocess.run(["locale", "-a"], capture_output=True, text=True).stdout.lower()
    except OSError:
        return False
    return "c.utf8" in out or "c.utf-8" in out


def prepare_template(cluster: PostgresCluster) -> None:
    """A database with the migrated schema, cloned for each test."""
    from panelmanager.core.db import open_registry

    with cluster.admin() as conn:
        conn.execute(f'CREATE DATABASE "{TEMPLATE_DB}"')
    registry = open_registry(cluster.url(TEMPLATE_DB), create=True)
    registry.close()
