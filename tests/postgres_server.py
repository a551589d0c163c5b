"""A throwaway PostgreSQL server for the suite: the machine's own PostgreSQL binaries (Debian's `postgresql`
package; any version from 13), a new cluster in a temporary folder, a free loopback port, password
authentication, stopped and deleted at the end. PostgreSQL refuses to run as root, so as root the server runs as
the `postgres` user (`runuser`)."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg

from sequin_emulator.launcher import HOST, free_port

USER, PASSWORD, DATABASE = "sequin", "sequin-secret", "app"


def binaries() -> Path | None:
    """The folder of `pg_ctl` and `initdb`: on PATH, or Debian's newest /usr/lib/postgresql/N/bin."""
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(found).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]))
    return Path(candidates[-1]).parent if candidates else None


class PostgresServer:
    def __init__(self, bin_dir: Path) -> None:
        self.bin = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="sequin-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
        os.chmod(self.root, 0o700)
        password_file = self.root / "password"
        password_file.write_text("postgres-secret\n")
        if self.as_postgres:
            shutil.chown(password_file, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=scram-sha-256",
                  f"--pwfile={password_file}", "--no-sync", "-E", "UTF8")
        self.start()
        with self.connect(user="postgres", password="postgres-secret", dbname="postgres") as admin:
            admin.autocommit = True
            admin.execute(f"CREATE ROLE {USER} LOGIN PASSWORD '{PASSWORD}'")
            admin.execute(f"CREATE DATABASE {DATABASE} OWNER {USER}")

    def _run(self, program: str, *arguments: str) -> None:
        command = [str(self.bin / program), *arguments]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120, cwd=self.root)

    def start(self) -> None:
        options = (f"-c listen_addresses={HOST} -c port={self.port} -c unix_socket_directories={self.root} "
                   "-c fsync=off -c full_page_writes=off")
        self._run("pg_ctl", "start", "-w", "-D", str(self.data), "-l", str(self.root / "log"), "-o", options)

    def stop(self) -> None:
        self._run("pg_ctl", "stop", "-w", "-m", "fast", "-D", str(self.data))

    def connection(self) -> dict:
        """The Postgres target's `connection`, as the API takes it."""
        return {"host": HOST, "port": self.port, "database": DATABASE, "username": USER, "password": PASSWORD}

    def connect(self, **overrides: str) -> psycopg.Connection:
        settings = {"host": HOST, "port": self.port, "dbname": DATABASE, "user": USER, "password": PASSWORD,
                    **overrides}
        return psycopg.connect(**settings)  # type: ignore[arg-type]

    def close(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
