"""Independent clients judge Keiin's CA over HTTP: OpenSSL and pyhanko-certvalidator.

A real ``keiin serve`` with two granian workers; certificates issued and revoked with the
``keiin`` command, exactly as an operator would.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from cryptography import x509

pytestmark = pytest.mark.server

SHARED_CHECK = Path(__file__).resolve().parents[3] / "shared" / "checks" / "ocsp-crl-openssl.sh"


def _issue(server, tmp_path: Path, name: str) -> dict[str, Path]:
    files = {
        "cert": tmp_path / f"{name}.pem",
        "key": tmp_path / f"{name}.key",
        "chain": tmp_path / "chain.pem",
    }
    server.cli(
        "ca", "issue", "--cn", "署名 太郎", "--email", f"{name}@partner.example", "--org",
        "取引先株式会社", "--out-cert", str(files["cert"]), "--out-key", str(files["key"]),
        "--out-chain", str(files["chain"]), "--force",
    )  # fmt: skip
    chain = files["chain"].read_text()
    blocks = re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----\n", chain, re.S)
    files["issuing"] = tmp_path / "issuing.pem"
    files["issuing"].write_text(blocks[0])
    files["root"] = tmp_path / "root.pem"
    files["root"].write_text(blocks[1])
    return files


def _serial(cert_path: Path) -> str:
    return format(x509.load_pem_x509_certificate(cert_path.read_bytes()).serial_number, "x")


def _urls(cert_path: Path) -> tuple[str, str]:
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    ocsp_url = next(
        d.access_location.value
        for d in aia
        if d.access_method == x509.AuthorityInformationAccessOID.OCSP
    )
    dp = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    return ocsp_url, dp[0].full_name[0].value


def _openssl_ocsp(files: dict[str, Path], url: str, *, nonce: bool = True) -> str:
    cmd = [
        "openssl", "ocsp", "-issuer", str(files["issuing"]), "-cert", str(files["cert"]),
        "-url", url, "-CAfile", str(files["chain"]),
    ]  # fmt: skip
    if not nonce:
        cmd.append("-no_nonce")
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    return out.stdout + out.stderr


def _crl_verify(files: dict[str, Path], crl_url: str, tmp_path: Path) -> str:
    crl_der = tmp_path / "fetched.crl"
    subprocess.run(["curl", "-sf", "-o", str(crl_der), crl_url], check=True, timeout=30)
    crl_pem = subprocess.run(
        ["openssl", "crl", "-inform", "DER", "-in", str(crl_der)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    bundle = tmp_path / "bundle.pem"
    bundle.write_text(files["chain"].read_text() + crl_pem)
    out = subprocess.run(
        ["openssl", "verify", "-crl_check", "-CAfile", str(bundle), str(files["cert"])],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    return out.stdout + out.stderr


def test_certificate_urls_point_at_the_server(live_server_keiin, tmp_path):
    files = _issue(live_server_keiin, tmp_path, "urls")
    ocsp_url, crl_url = _urls(files["cert"])
    assert ocsp_url == f"{live_server_keiin.url}/ocsp"
    assert crl_url == f"{live_server_keiin.url}/crl/issuing-ca-1.crl"


def test_openssl_crl_check_accepts_then_rejects_after_revoke(live_server_keiin, tmp_path):
    files = _issue(live_server_keiin, tmp_path, "crl")
    _, crl_url = _urls(files["cert"])
    assert ": OK" in _crl_verify(files, crl_url, tmp_path)

    live_server_keiin.cli("ca", "revoke", _serial(files["cert"]), "--reason", "affiliationChanged")
    out = _crl_verify(files, crl_url, tmp_path)
    assert "certificate revoked" in out, out


def test_openssl_ocsp_good_then_revoked_within_a_second(live_server_keiin, tmp_path):
    files = _issue(live_server_keiin, tmp_path, "ocsp")
    ocsp_url, _ = _urls(files["cert"])
    # Warm both workers' caches with pre-signed "good" responses (no nonce = cacheable).
    for _ in range(12):
        out = _openssl_ocsp(files, ocsp_url, nonce=False)
        assert "Response verify OK" in out, out
        assert f"{files['cert']}: good" in out, out
    out = _openssl_ocsp(files, ocsp_url)
    assert "Response verify OK" in out and f"{files['cert']}: good" in out, out

    live_server_keiin.cli(
        "ca", "revoke", _serial(files["cert"]), "--reason", "keyCompromise",
        "--invalidity-date", "2026-01-02T03:04:05+00:00",
    )  # fmt: skip
    revoked_at = time.monotonic()
    # Every query after the command returns — whichever worker takes it — says revoked.
    for nonce in (False, True) * 6:
        out = _openssl_ocsp(files, ocsp_url, nonce=nonce)
        assert "Response verify OK" in out, out
        assert f"{files['cert']}: revoked" in out, out
        assert "Reason: keyCompromise" in out, out
    first_window = time.monotonic() - revoked_at
    assert first_window < 30  # sanity bound on the loop, not a performance assertion


@pytest.mark.skipif(not SHARED_CHECK.exists(), reason="shared acceptance check not present")
def test_shared_acceptance_check(live_server_keiin, tmp_path):
    files = _issue(live_server_keiin, tmp_path, "shared")
    run = lambda want: subprocess.run(  # noqa: E731
        ["bash", str(SHARED_CHECK), str(files["cert"]), str(files["issuing"]), str(files["chain"]),
         want], capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    good = run("good")
    assert good.returncode == 0, good.stdout + good.stderr
    live_server_keiin.cli("ca", "revoke", _serial(files["cert"]), "--reason", "superseded")
    revoked = run("revoked")
    assert revoked.returncode == 0, revoked.stdout + revoked.stderr


def test_pyhanko_certvalidator_requires_and_finds_revocation_info(live_server_keiin, tmp_path):
    from asn1crypto import pem
    from asn1crypto import x509 as ax509
    from pyhanko_certvalidator import CertificateValidator, ValidationContext
    from pyhanko_certvalidator.errors import RevokedError
    from pyhanko_certvalidator.fetchers.requests_fetchers import RequestsFetcherBackend

    files = _issue(live_server_keiin, tmp_path, "pyhanko")
    root, issuing, leaf = (
        ax509.Certificate.load(pem.unarmor(p.read_bytes())[2])
        for p in (files["root"], files["issuing"], files["cert"])
    )

    def validate():
        context = ValidationContext(
            trust_roots=[root],
            allow_fetching=True,
            revocation_mode="require",
            fetcher_backend=RequestsFetcherBackend(),
        )
        validator = CertificateValidator(
            leaf, intermediate_certs=[issuing], validation_context=context
        )
        return asyncio.run(validator.async_validate_usage({"digital_signature", "non_repudiation"}))

    path = validate()
    assert len(path) == 3
    live_server_keiin.cli("ca", "revoke", _serial(files["cert"]), "--reason", "keyCompromise")
    with pytest.raises(RevokedError):
        validate()


def test_ca_certificates_and_crls_have_pkix_content_types(live_server_keiin):
    import urllib.request

    for path, ctype in (
        ("/ca/root-ca-1.crt", "application/pkix-cert"),
        ("/ca/issuing-ca-1.crt", "application/pkix-cert"),
        ("/crl/root-ca-1.crl", "application/pkix-crl"),
        ("/crl/issuing-ca-1.crl", "application/pkix-crl"),
    ):
        with urllib.request.urlopen(live_server_keiin.url + path, timeout=10) as r:
            assert r.headers["Content-Type"] == ctype
            body = r.read()
        if path.endswith(".crt"):
            x509.load_der_x509_certificate(body)
        else:
            x509.load_der_x509_crl(body)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")
def test_root_ocsp_responder_answers_for_the_issuing_ca(live_server_keiin, tmp_path):
    """The issuing CA's own status comes from the root's delegated OCSP responder."""
    files = _issue(live_server_keiin, tmp_path, "chain")
    out = subprocess.run(
        ["openssl", "ocsp", "-issuer", str(files["root"]), "-cert", str(files["issuing"]),
         "-url", f"{live_server_keiin.url}/ocsp", "-CAfile", str(files["chain"])],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert "Response verify OK" in out.stdout + out.stderr
    assert f"{files['issuing']}: good" in out.stdout
