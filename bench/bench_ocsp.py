"""OCSP responses per second over HTTP, beside a bare-ASGI baseline measured in the same run.

Subject: a real Keiin (``keiin init`` on a temporary home, ``keiin ca issue`` for one signer
certificate, ``keiin serve``) answering one OCSP request without a nonce, i.e. the pre-signed,
cached path that real relying parties hit: ``GET /ocsp/<url-encoded base64>`` (RFC 5019 §5)
and ``POST /ocsp``. Baseline: ``baseline_app.py`` served by granian with exactly the options
``keiin serve`` uses, returning the very bytes of that OCSP response with the same content
type. Goal (from the issue): at least 70% of the baseline.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime as dt
import os
import secrets
import subprocess
import urllib.request
from pathlib import Path
from urllib.parse import quote

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import ocsp as xocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, OCSPExtensionOID
from harness import (
    BENCH_DIR,
    KEIIN,
    BenchError,
    LoadSettings,
    Result,
    Services,
    Target,
    compare,
    free_port,
    run_with_services,
    say,
    start_keiin,
    tail,
    wait_http,
)

GOAL = 0.70
RESPONSE_TYPE = "application/ocsp-response"
REQUEST_TYPE = "application/ocsp-request"


def run(args: argparse.Namespace) -> list[Result]:
    settings = LoadSettings.from_args(args)
    return run_with_services(
        "keiin-bench-ocsp-", lambda tmp, services: _run(settings, tmp, services)
    )


def _run(settings: LoadSettings, tmp: Path, services: Services) -> list[Result]:
    keiin_port = baseline_port = free_port()
    for _ in range(100):  # the kernel may hand out the port it just freed
        if baseline_port != keiin_port:
            break
        baseline_port = free_port()
    keiin_url = f"http://127.0.0.1:{keiin_port}"
    baseline_url = f"http://127.0.0.1:{baseline_port}"
    env = _keiin_env(tmp / "home", keiin_url)

    say("creating a Keiin home and a signer certificate")
    _cli(env, "init", "--admin-password", secrets.token_urlsafe(16))
    _cli(
        env,
        *("ca", "issue", "--cn", "Bench Signer", "--email", "bench@example.com"),
        *("--out-cert", str(tmp / "cert.pem"), "--out-key", str(tmp / "key.pem")),
        *("--out-chain", str(tmp / "chain.pem")),
    )
    cert = x509.load_pem_x509_certificate((tmp / "cert.pem").read_bytes())
    issuer = x509.load_pem_x509_certificates((tmp / "chain.pem").read_bytes())[0]
    request = (
        xocsp.OCSPRequestBuilder()
        .add_certificate(cert, issuer, hashes.SHA1())
        .build()
        .public_bytes(serialization.Encoding.DER)
    )
    request_file = tmp / "request.der"
    request_file.write_bytes(request)
    get_path = "/ocsp/" + quote(base64.b64encode(request).decode(), safe="")

    say(f"starting keiin serve on {keiin_url} ({settings.workers} workers)")
    keiin, keiin_log = start_keiin(services, keiin_port, settings.workers, env, tmp)
    body = _fetch(keiin_url + get_path)
    _check_response(body, cert, issuer)
    _check_response(_fetch(f"{keiin_url}/ocsp", request), cert, issuer)
    body_file = tmp / "response.der"
    body_file.write_bytes(body)

    say(f"starting the bare-ASGI baseline on {baseline_url} ({len(body)}-byte body)")
    baseline_log = tmp / "baseline.log"
    baseline = services.start(
        "baseline",
        _baseline_command(baseline_port, settings.workers),
        env=_baseline_env(body_file),
        log_path=baseline_log,
        cwd=BENCH_DIR,
    )
    if wait_http(f"{baseline_url}/", baseline, baseline_log) != body:
        raise BenchError("the baseline does not return the OCSP response bytes")

    results = []
    for method in ("GET", "POST"):
        name = f"ocsp {method}"
        post = method == "POST"
        path = "/ocsp" if post else get_path
        common: dict = {
            "method": method,
            "body_file": request_file if post else None,
            "content_type": REQUEST_TYPE if post else None,
            "min_response_bytes": len(body),
        }
        say(f"--- {name}: {settings.rounds} rounds of {settings.run_seconds}s each")
        comparison = compare(
            Target(label=f"keiin {method}", url=keiin_url + path, server=keiin, **common),
            Target(label=f"baseline {method}", url=baseline_url + path, server=baseline, **common),
            settings,
            services,
        )
        result = comparison.result(name, "resp/s", GOAL)
        result.details["response_bytes"] = len(body)
        results.append(result)

    # The load must not have changed what Keiin answers, nor made it log errors.
    _check_response(_fetch(keiin_url + get_path), cert, issuer)
    log_text = keiin_log.read_text(errors="replace")
    if "Traceback" in log_text or "[ERROR]" in log_text:
        raise BenchError(f"keiin serve logged errors during the benchmark:\n{tail(keiin_log)}")
    return results


# --------------------------------------------------------------------------- helpers


def _keiin_env(home: Path, base_url: str) -> dict[str, str]:
    """A clean environment: SQLite in the temporary home, nothing from the caller's Keiin."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("KEIIN_") and k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")
    }
    env.update({"KEIIN_HOME": str(home), "KEIIN_BASE_URL": base_url, "KEIIN_MAIL": "outbox"})
    return env


def _cli(env: dict[str, str], *args: str) -> None:
    done = subprocess.run([*KEIIN, *args], env=env, capture_output=True, text=True, timeout=180)
    if done.returncode != 0:
        raise BenchError(f"keiin {' '.join(args[:2])} failed ({done.returncode}):\n{done.stderr}")


def _baseline_command(port: int, workers: int) -> list[str]:
    """``keiin serve``'s own granian command line, pointed at the baseline app."""
    from keiin.cli import _granian_command

    cmd = _granian_command(argparse.Namespace(host="127.0.0.1", port=port, workers=workers))
    if cmd[-1] != "keiin.web.asgi:application":
        raise BenchError(f"unexpected keiin serve command line: {cmd}")
    return [*cmd[:-1], "baseline_app:app"]


def _baseline_env(body_file: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(BENCH_DIR), env.get("PYTHONPATH")]))
    env["BENCH_BODY_FILE"] = str(body_file)
    env["BENCH_CONTENT_TYPE"] = RESPONSE_TYPE
    return env


def _fetch(url: str, post_body: bytes | None = None) -> bytes:
    request = urllib.request.Request(url, data=post_body)
    if post_body is not None:
        request.add_header("Content-Type", REQUEST_TYPE)
    with urllib.request.urlopen(request, timeout=10) as response:
        ctype = response.headers.get("Content-Type")
        if response.status != 200 or ctype != RESPONSE_TYPE:
            raise BenchError(f"{url}: HTTP {response.status}, {ctype}")
        return response.read()


def _check_response(body: bytes, cert: x509.Certificate, issuer: x509.Certificate) -> None:
    """A successful, correctly signed, current 'good' answer about ``cert``, with no nonce."""
    response = xocsp.load_der_ocsp_response(body)
    if response.response_status != xocsp.OCSPResponseStatus.SUCCESSFUL:
        raise BenchError(f"OCSP response status {response.response_status.name}")
    if response.serial_number != cert.serial_number:
        raise BenchError("the OCSP response is about another certificate")
    if response.certificate_status != xocsp.OCSPCertStatus.GOOD:
        raise BenchError(f"certificate status {response.certificate_status.name}, expected GOOD")
    now = dt.datetime.now(dt.UTC)
    if not response.this_update_utc <= now < response.next_update_utc:
        raise BenchError("the OCSP response is not current")
    with contextlib.suppress(x509.ExtensionNotFound):
        response.extensions.get_extension_for_oid(OCSPExtensionOID.NONCE)
        raise BenchError("a response to a request without nonce carries a nonce")
    if not response.certificates:
        raise BenchError("the OCSP response carries no responder certificate")
    responder = response.certificates[0]
    try:
        responder.verify_directly_issued_by(issuer)
        eku = responder.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        if ExtendedKeyUsageOID.OCSP_SIGNING not in eku:
            raise BenchError("the responder certificate lacks id-kp-OCSPSigning")
        key = responder.public_key()
        algorithm = response.signature_hash_algorithm
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(response.signature, response.tbs_response_bytes, ec.ECDSA(algorithm))
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(
                response.signature, response.tbs_response_bytes, padding.PKCS1v15(), algorithm
            )
        else:
            raise BenchError(f"unexpected responder key type {type(key).__name__}")
    except (InvalidSignature, ValueError, TypeError, x509.ExtensionNotFound) as exc:
        raise BenchError(f"the OCSP response does not verify: {exc!r}") from None
