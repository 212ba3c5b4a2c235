"""`keiin demo` on a fresh folder: initialises, prints the URL and logins, and serves."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
import urllib.request

import pytest
import requests

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
        _partner_login_through_the_outbox(port, output)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)


def _csrf(html: str) -> str:
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert found, html[:2000]
    return found.group(1)


def _partner_login_through_the_outbox(port: int, output: str) -> None:
    """A newcomer logs in as the demo signatory, reading the one-time password on /outbox/."""
    base = f"http://127.0.0.1:{port}"
    found = re.search(r"(\S+) / keiin-demo-partner  \(signatory\)", output)
    assert found, output
    login_id = found.group(1)
    session = requests.Session()
    page = session.get(f"{base}/p/demo/login/", timeout=10)
    assert page.status_code == 200
    response = session.post(
        f"{base}/p/demo/login/",
        {
            "csrfmiddlewaretoken": _csrf(page.text),
            "login_id": login_id,
            "password": "keiin-demo-partner",
        },
        headers={"Referer": f"{base}/p/demo/login/"},
        timeout=10,
    )
    assert response.status_code == 200 and "/login/code/" in response.url, response.text[:2000]
    outbox = session.get(f"{base}/outbox/", timeout=10)
    assert outbox.status_code == 200
    code = re.search(r"^\s+(\d{6})\s*$", outbox.text, re.MULTILINE)
    assert code, outbox.text[:3000]
    response = session.post(
        response.url,
        {"csrfmiddlewaretoken": _csrf(response.text), "code": code.group(1)},
        headers={"Referer": response.url},
        timeout=10,
    )
    assert response.status_code == 200, response.text[:2000]
    assert response.url.rstrip("/").endswith("/p/demo"), response.url
    assert "デモ取引先株式会社" in response.text
