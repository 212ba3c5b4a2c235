"""`keiin demo` on a fresh folder: initialises, prints the URL and logins, and serves."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.request

import pytest

from tests.support.server import KEIIN, free_port

pytestmark = pytest.mark.server


def test_demo_starts_from_nothing_and_serves(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "KEIIN_BASE_URL")}
    env["KEIIN_HOME"] = str(tmp_path / "keiin-data")
    log_path = tmp_path / "demo.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [*KEIIN, "demo", "--port", str(port), "--workers", "1"],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        body = b""
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                url = f"http://127.0.0.1:{port}/repository/"
                with urllib.request.urlopen(url, timeout=2) as r:
                    body = r.read()
                    break
            except OSError:
                time.sleep(0.3)
        output = log_path.read_text()
        assert "認証局リポジトリ".encode() in body, output
        assert f"Keiin demo is running: http://127.0.0.1:{port}/" in output
        assert "keiin-demo-admin" in output
        assert (tmp_path / "keiin-data" / "keiin.sqlite3").exists()
        assert (tmp_path / "keiin-data" / "secrets" / "master.key").stat().st_mode & 0o077 == 0
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
