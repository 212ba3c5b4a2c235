"""Start a real Keiin server in a subprocess, on its own home and database, for tests.

On PostgreSQL (``DATABASE_URL`` set) each server gets a fresh database, dropped afterwards,
so the server and the test process never share rows by accident.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

KEIIN = [sys.executable, "-m", "keiin.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pg_admin_url() -> str | None:
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith(("postgres://", "postgresql://")) else None


def create_pg_database() -> tuple[str, str] | None:
    """Create a fresh PostgreSQL database next to ``DATABASE_URL``; return (url, name)."""
    admin = _pg_admin_url()
    if admin is None:
        return None
    import psycopg

    name = f"keiin_it_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(admin)
    return urlunsplit(parts._replace(path=f"/{name}")), name


def drop_pg_database(name: str) -> None:
    import psycopg

    with psycopg.connect(_pg_admin_url(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class KeiinServer:
    """A running server and the environment to run CLI commands against its home."""

    home: Path
    port: int
    env: dict[str, str]
    process: subprocess.Popen | None = None
    pg_name: str | None = None
    log_path: Path = field(default=Path("/dev/null"))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run ``keiin ARGS`` against this server's home."""
        result = subprocess.run(
            [*KEIIN, *args], env=self.env, capture_output=True, text=True, timeout=120
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"keiin {' '.join(args)} failed ({result.returncode}):\n"
                f"{result.stdout}\n{result.stderr}"
            )
        return result

    def launch(self, workers: int = 2) -> None:
        """Start ``keiin serve`` on this home and wait until it answers."""
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [*KEIIN, "serve", "--port", str(self.port), "--workers", str(workers)],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"keiin serve exited early:\n{self.log()}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"keiin serve did not become ready:\n{self.log()}")

    def kill(self) -> None:
        """SIGKILL the server and every worker at once (a crash, not a shutdown)."""
        if self.process is None:
            return
        for pid in descendants(self.process.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.pg_name:
            drop_pg_database(self.pg_name)
            self.pg_name = None

    def sql(self, query: str, params: tuple = ()) -> list[tuple]:
        """Run a read-only query against this server's database (SQLite or PostgreSQL)."""
        url = self.env.get("DATABASE_URL")
        if url:
            import psycopg

            with psycopg.connect(url) as conn:
                return conn.execute(query.replace("?", "%s"), params).fetchall()
        import sqlite3

        conn = sqlite3.connect(f"file:{self.home / 'keiin.sqlite3'}?mode=ro", uri=True)
        try:
            return conn.execute(query, params).fetchall()
        finally:
            conn.close()

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


def prepare_home(home: Path, port: int, extra_env: dict[str, str] | None = None) -> KeiinServer:
    """Create a home (``keiin init``) for a server on ``port``; do not start it."""
    env = dict(os.environ)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.update(
        {
            "KEIIN_HOME": str(home),
            "KEIIN_BASE_URL": f"http://127.0.0.1:{port}",
            "KEIIN_MAIL": "outbox",
            # No NTP on a test machine: servers that do not test the clock stamp unchecked.
            "KEIIN_NTP_SERVERS": "none",
            "KEIIN_TSA_ALLOW_UNCHECKED_CLOCK": "1",
            **(extra_env or {}),
        }
    )
    server = KeiinServer(home=home, port=port, env=env, log_path=home.parent / f"{home.name}.log")
    created = create_pg_database()
    if created:
        env["DATABASE_URL"], server.pg_name = created
    else:
        env.pop("DATABASE_URL", None)
    server.cli("init", "--admin-password", "test-admin-password-1")
    return server


def start_server(
    home: Path, *, workers: int = 2, extra_env: dict[str, str] | None = None
) -> KeiinServer:
    """``keiin init`` + ``keiin serve`` on a free port; waits until /healthz answers."""
    server = prepare_home(home, free_port(), extra_env)
    server.launch(workers)
    return server


def descendants(root: int) -> list[int]:
    """``root`` and every live process below it (from /proc)."""
    parents: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = Path(entry.path, "stat").read_bytes()
            except OSError:
                continue
            fields = stat.rsplit(b")", 1)[1].split()
            if fields[0] != b"Z":
                parents[int(entry.name)] = int(fields[1])
    found, frontier = [], [root]
    while frontier:
        pid = frontier.pop()
        if pid in parents:
            found.append(pid)
            frontier.extend(p for p, ppid in parents.items() if ppid == pid)
    return found
