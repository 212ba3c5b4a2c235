"""RFC 3161 time-stamp tokens per second over HTTP, beside two baselines measured in the same run.

Subject: a real Keiin (``keiin init`` on a temporary home, SQLite, ``keiin tsa account create``,
``keiin serve --workers N``) answering ``POST /tsa`` with HTTP Basic authentication and the
durable issuance log on: every reply is a freshly signed token (new serial, genTime, nonce
echoed, TSA certificate included) whose log row was committed before the reply left.

Baselines, loaded alternately with Keiin (B1 K B2, B2 K B1, ...):

(a) ``baseline_app.py``: a bare ASGI app under granian with ``keiin serve``'s own options,
    returning a fixed 800-byte ``application/timestamp-reply`` body to the same POST. Goal
    (from the issue): Keiin at least 70% of it, and at least 10,000 tokens/s absolute.
(b) ``certomancer_tsa.py``: certomancer's Python TSA (its "Animator" WSGI app) under granian
    with the same options and ``--interface wsgi``, same request (no authentication: it has
    none). No goal; the speed-up is printed. The published figure for a tuned commercial TSA
    is "500+ requests per second".

No NTP server is reachable on the benchmark machine, so Keiin runs with
``KEIIN_NTP_SERVERS=none KEIIN_TSA_ALLOW_UNCHECKED_CLOCK=1``: the clock guard is consulted on
every request but has no NTP offset to check. Before loading, the bench checks that Keiin's
reply is granted and passes ``openssl ts -verify -queryfile`` against the CA chain, that a
request without credentials gets HTTP 401, and that certomancer's reply verifies against its
root. After loading it checks that the issuance log grew by at least the number of tokens wrk
received (every one of them HTTP 200 with a full-size body), i.e. the durable log was on.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import dataclasses
import hashlib
import importlib.util
import os
import secrets
import sqlite3
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

from asn1crypto import core, tsp
from harness import (
    BENCH_DIR,
    KEIIN,
    BenchError,
    LoadSettings,
    Result,
    Services,
    Target,
    WrkRun,
    compare_many,
    free_port,
    run_with_services,
    say,
    start_keiin,
    tail,
    wait_http,
    wrk,
)

GOAL_RATIO = 0.70
GOAL_RATE = 10_000.0
PUBLISHED_RATE = 500.0  # "500+ requests per second" for a tuned commercial TSA
BASELINE_BODY_BYTES = 800
QUERY_TYPE = "application/timestamp-query"
REPLY_TYPE = "application/timestamp-reply"
ISSUANCE_TABLE = "timestamping_issuedtoken"
CLOCK_NOTE = (
    "clock: KEIIN_NTP_SERVERS=none KEIIN_TSA_ALLOW_UNCHECKED_CLOCK=1 (no NTP server reachable "
    "here; the clock guard runs on every request but has no offset to check)"
)


def run(args: argparse.Namespace) -> list[Result]:
    settings = LoadSettings.from_args(args)
    return run_with_services(
        "keiin-bench-tsa-", lambda tmp, services: _run(settings, tmp, services)
    )


def _ports(count: int) -> list[int]:
    ports: list[int] = []
    for _ in range(1000):  # the kernel may hand out the port it just freed
        port = free_port()
        if port not in ports:
            ports.append(port)
        if len(ports) == count:
            return ports
    raise BenchError("could not find free ports")


def _run(settings: LoadSettings, tmp: Path, services: Services) -> list[Result]:
    keiin_port, bare_port, certomancer_port = _ports(3)
    keiin_url = f"http://127.0.0.1:{keiin_port}"
    bare_url = f"http://127.0.0.1:{bare_port}"
    home = tmp / "home"
    env = _keiin_env(home, keiin_url)
    say(CLOCK_NOTE)

    say("creating a Keiin home and a TSA account")
    user, password = "bench-customer", secrets.token_urlsafe(18)
    _cli(env, "init", "--admin-password", secrets.token_urlsafe(16))
    _cli(env, "tsa", "account", "create", "--user", user, "--password", password)
    chain = tmp / "chain.pem"
    _cli(env, "ca", "chain", "--out", str(chain))
    authorization = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    query = _query()
    query_file = tmp / "query.tsq"
    query_file.write_bytes(query)

    say(f"starting keiin serve on {keiin_url} ({settings.workers} workers)")
    keiin, keiin_log = start_keiin(services, keiin_port, settings.workers, env, tmp)
    reply = _post(f"{keiin_url}/tsa", query, authorization)
    _check_reply(reply, query_file, chain, tmp, "keiin")
    _check_refused_without_credentials(f"{keiin_url}/tsa", query)
    rows_before = _issued_rows(home)

    bare_body = tmp / "bare-body.der"
    bare_body.write_bytes(secrets.token_bytes(BASELINE_BODY_BYTES))
    say(f"starting the bare-ASGI baseline on {bare_url} ({BASELINE_BODY_BYTES}-byte body)")
    bare_log = tmp / "bare.log"
    bare = services.start(
        "bare baseline",
        _granian(bare_port, settings.workers, "asgi", "baseline_app:app"),
        env=_bench_env(BENCH_BODY_FILE=str(bare_body), BENCH_CONTENT_TYPE=REPLY_TYPE),
        log_path=bare_log,
        cwd=BENCH_DIR,
    )
    if wait_http(f"{bare_url}/", bare, bare_log) != bare_body.read_bytes():
        raise BenchError("the bare baseline does not return its body")

    certomancer, certomancer_tsa_url, missing = _start_certomancer(
        services, tmp, certomancer_port, settings.workers, query, query_file
    )

    common = {"method": "POST", "body_file": query_file, "content_type": QUERY_TYPE}
    subject = Target(
        label="keiin POST",
        url=f"{keiin_url}/tsa",
        server=keiin,
        headers=(("Authorization", authorization),),
        min_response_bytes=len(reply),
        **common,
    )
    bare_target = Target(
        label="bare POST",
        url=f"{bare_url}/tsa",
        server=bare,
        headers=(("Authorization", authorization),),
        min_response_bytes=BASELINE_BODY_BYTES,
        **common,
    )
    baselines = [bare_target]
    if certomancer is not None:
        baselines.append(
            Target(
                label="certomancer POST",
                url=certomancer_tsa_url,
                server=certomancer,
                # At tens of tokens per second, a 1-second run holds little more than the
                # first wave of 64 concurrent requests: give it a few seconds.
                min_seconds=3,
                min_response_bytes=len(_post(certomancer_tsa_url, query, None)),
                **common,
            )
        )

    keiin_runs: list[WrkRun] = []
    for target in (*baselines, subject):
        if settings.warmup > 0:
            say(f"warm-up {target.label} ({settings.warmup}s)")
            run_ = wrk(target, max(settings.warmup, target.min_seconds), settings)
            if target is subject:
                keiin_runs.append(run_)
    say(f"--- tsa POST: {settings.rounds} rounds of {settings.run_seconds}s each")
    comparisons = compare_many(
        subject, baselines, dataclasses.replace(settings, warmup=0), services
    )
    vs_bare = comparisons[0]
    keiin_runs.extend(vs_bare.subject)

    # Every token wrk received (all HTTP 200, full size) must be in the issuance log.
    received = sum(r.requests for r in keiin_runs)
    logged = _issued_rows(home) - rows_before
    if logged < received:
        raise BenchError(
            f"the issuance log grew by {logged} rows but wrk received {received} tokens"
        )
    say(f"issuance log: +{logged:,} rows for {received:,} tokens received by wrk")
    # The load must not have changed what Keiin answers, nor made it log errors.
    _check_reply(_post(f"{keiin_url}/tsa", query, authorization), query_file, chain, tmp, "keiin")
    log_text = keiin_log.read_text(errors="replace")
    if "Traceback" in log_text or "[ERROR]" in log_text:
        raise BenchError(f"keiin serve logged errors during the benchmark:\n{tail(keiin_log)}")

    bare_result = vs_bare.result("tsa POST vs bare", "tokens/s", GOAL_RATIO)
    if certomancer is not None:
        certomancer_result = comparisons[1].result("tsa POST vs certomancer", "tokens/s", None)
    else:
        certomancer_result = Result(
            name="tsa POST vs certomancer", figure=None, unit="tokens/s", error=missing
        )
    absolute = Result(
        name="tsa POST vs 10k/s goal",
        figure=bare_result.figure,
        unit="tokens/s",
        baseline=GOAL_RATE,
        goal=1.0,
        details={k: bare_result.details[k] for k in ("p50_ms", "p99_ms")},
    )
    extra = {
        "clock": CLOCK_NOTE,
        "issuance_log_rows_added": logged,
        "tokens_received": received,
        "token_bytes": len(reply),
        "baseline_body_bytes": BASELINE_BODY_BYTES,
        "published_commercial_rate": PUBLISHED_RATE,
    }
    for result in (bare_result, certomancer_result, absolute):
        result.details.update(extra)
    _summary(bare_result, certomancer_result)
    return [bare_result, certomancer_result, absolute]


def _start_certomancer(
    services: Services, tmp: Path, port: int, workers: int, query: bytes, query_file: Path
) -> tuple[subprocess.Popen | None, str, str]:
    """Start baseline (b); ``(None, "", why)`` if certomancer is not installed."""
    missing = [m for m in ("certomancer", "werkzeug") if importlib.util.find_spec(m) is None]
    if missing:
        why = (
            f"{' and '.join(missing)} not installed: baseline (b) skipped "
            "(pip install certomancer werkzeug)"
        )
        say(why)
        return None, "", why
    import certomancer_tsa

    url = f"http://127.0.0.1:{port}"
    say(f"starting certomancer's TSA on {url} (granian, WSGI)")
    config = certomancer_tsa.write_config(tmp / "certomancer")
    root = tmp / "certomancer-root.pem"
    root.write_bytes(certomancer_tsa.root_certificate_pem(config))
    log_path = tmp / "certomancer.log"
    proc = services.start(
        "certomancer",
        _granian(port, workers, "wsgi", "certomancer_tsa:app"),
        env=_bench_env(BENCH_CERTOMANCER_CONFIG=str(config)),
        log_path=log_path,
        cwd=BENCH_DIR,
    )
    tsa_url = url + certomancer_tsa.TSA_PATH
    _wait_post(tsa_url, query, proc, log_path)
    _check_reply(_post(tsa_url, query, None), query_file, root, tmp, "certomancer")
    return proc, tsa_url, ""


def _summary(bare: Result, certomancer: Result) -> None:
    """The one-line verdict the issue asks for (stdout, above run.py's table)."""
    d = bare.details
    rate, bare_rate, ratio = bare.figure or 0.0, bare.baseline or 0.0, bare.ratio or 0.0
    if certomancer.error is None:
        versus = f"vs certomancer {certomancer.baseline or 0:,.0f} ({certomancer.ratio or 0:.1f}x)"
    else:
        versus = f"vs certomancer: {certomancer.error}"
    print(
        f"tsa POST {rate:,.0f} tokens/s  p50 {d['p50_ms']:.2f} ms  p99 {d['p99_ms']:.2f} ms  "
        f"vs bare {bare_rate:,.0f} (ratio {ratio:.2f}, goal >= {GOAL_RATIO:.2f}: "
        f"{'OK' if ratio >= GOAL_RATIO else 'BELOW GOAL'})  "
        f"{versus}  "
        f"absolute goal >= {GOAL_RATE:,.0f} tokens/s: "
        f"{'OK' if rate >= GOAL_RATE else 'BELOW GOAL'}  "
        f"(published commercial TSA: {PUBLISHED_RATE:,.0f}+ /s, {rate / PUBLISHED_RATE:.0f}x)",
        flush=True,
    )
    print(f"  {CLOCK_NOTE}", flush=True)


# --------------------------------------------------------------------------- helpers


def _keiin_env(home: Path, base_url: str) -> dict[str, str]:
    """A clean environment: SQLite in the temporary home, nothing from the caller's Keiin."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("KEIIN_") and k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")
    }
    env.update(
        {
            "KEIIN_HOME": str(home),
            "KEIIN_BASE_URL": base_url,
            "KEIIN_MAIL": "outbox",
            "KEIIN_NTP_SERVERS": "none",
            "KEIIN_TSA_ALLOW_UNCHECKED_CLOCK": "1",
        }
    )
    return env


def _bench_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(BENCH_DIR), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def _cli(env: dict[str, str], *args: str) -> None:
    done = subprocess.run([*KEIIN, *args], env=env, capture_output=True, text=True, timeout=180)
    if done.returncode != 0:
        raise BenchError(f"keiin {' '.join(args[:3])} failed ({done.returncode}):\n{done.stderr}")


def _granian(port: int, workers: int, interface: str, app: str) -> list[str]:
    """``keiin serve``'s own granian command line, pointed at ``app`` with ``interface``."""
    from keiin.cli import _granian_command

    cmd = _granian_command(argparse.Namespace(host="127.0.0.1", port=port, workers=workers))
    if cmd[-1] != "keiin.web.asgi:application" or "--interface" not in cmd:
        raise BenchError(f"unexpected keiin serve command line: {cmd}")
    cmd = [*cmd[:-1], app]
    cmd[cmd.index("--interface") + 1] = interface
    return cmd


def _query() -> bytes:
    """A fixed SHA-256 TimeStampReq with a nonce and certReq true (as ``openssl ts -query``)."""
    return tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": {
                "hash_algorithm": {"algorithm": "sha256"},
                "hashed_message": hashlib.sha256(b"Keiin TSA benchmark").digest(),
            },
            "nonce": secrets.randbits(63) | 1 << 62,
            "cert_req": True,
        }
    ).dump()


def _post(url: str, body: bytes, authorization: str | None) -> bytes:
    request = urllib.request.Request(url, data=body, method="POST")
    request.add_header("Content-Type", QUERY_TYPE)
    if authorization:
        request.add_header("Authorization", authorization)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            ctype = response.headers.get("Content-Type")
            if response.status != 200 or ctype != REPLY_TYPE:
                raise BenchError(f"{url}: HTTP {response.status}, {ctype}")
            return response.read()
    except urllib.error.HTTPError as exc:
        raise BenchError(f"{url}: HTTP {exc.code} {exc.read()[:200]!r}") from None


def _wait_post(url: str, body: bytes, proc: subprocess.Popen, log_path: Path) -> None:
    """Wait for a WSGI server whose only route is a POST."""
    import time

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"server exited early ({proc.returncode}):\n{tail(log_path)}")
        try:
            _post(url, body, None)
            return
        except (OSError, BenchError):
            time.sleep(0.3)
    raise BenchError(f"no answer from {url} within 60s:\n{tail(log_path)}")


def _check_reply(reply: bytes, query_file: Path, ca_file: Path, tmp: Path, who: str) -> None:
    """Granted, and ``openssl ts -verify -queryfile`` says OK (signature, chain, imprint, nonce)."""
    status = tsp.PKIStatusInfo.load(core.Sequence.load(reply)[0].dump())["status"].native
    if status != "granted":
        raise BenchError(f"{who}: time-stamp status {status!r}, expected granted")
    reply_file = tmp / f"{who}-reply.tsr"
    reply_file.write_bytes(reply)
    verify = ["openssl", "ts", "-verify", "-in", str(reply_file), "-queryfile", str(query_file)]
    done = subprocess.run(
        [*verify, "-CAfile", str(ca_file)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if "Verification: OK" not in done.stdout:
        raise BenchError(f"{who}: openssl ts -verify failed: {done.stdout}{done.stderr}")


def _check_refused_without_credentials(url: str, body: bytes) -> None:
    try:
        _post(url, body, None)
    except BenchError as exc:
        if "HTTP 401" in str(exc):
            return
        raise
    raise BenchError("keiin answered a request without credentials: authentication is off")


def _issued_rows(home: Path) -> int:
    """Rows in the issuance log (read-only; WAL lets this run beside the writers)."""
    uri = f"file:{home / 'keiin.sqlite3'}?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=30)) as db:
        return db.execute(f"SELECT COUNT(*) FROM {ISSUANCE_TABLE}").fetchone()[0]
