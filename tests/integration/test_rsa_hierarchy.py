"""An RSA-3072 hierarchy (KEIIN_KEY_ALGORITHM=rsa-3072) works end to end with OpenSSL."""

from __future__ import annotations

import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.support.server import start_server

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def rsa_server(tmp_path_factory):
    server = start_server(
        tmp_path_factory.mktemp("rsa-home"),
        workers=1,
        extra_env={"KEIIN_KEY_ALGORITHM": "rsa-3072"},
    )
    try:
        yield server
    finally:
        server.stop()


def test_rsa_chain_verifies_with_openssl_ocsp_and_crl(rsa_server, tmp_path):
    cert_path, key_path, chain_path = (tmp_path / n for n in ("c.pem", "k.pem", "chain.pem"))
    rsa_server.cli(
        "ca", "issue", "--cn", "RSA Person", "--email", "rsa@example.com",
        "--out-cert", str(cert_path), "--out-key", str(key_path), "--out-chain", str(chain_path),
    )  # fmt: skip
    chain = x509.load_pem_x509_certificates(chain_path.read_bytes())
    for cert in [x509.load_pem_x509_certificate(cert_path.read_bytes()), *chain]:
        assert isinstance(cert.public_key(), rsa.RSAPublicKey)
        assert cert.public_key().key_size == 3072
    issuing = tmp_path / "issuing.pem"
    issuing.write_bytes(chain_path.read_bytes().split(b"-----END CERTIFICATE-----\n")[0]
                        + b"-----END CERTIFICATE-----\n")  # fmt: skip
    out = subprocess.run(
        ["openssl", "ocsp", "-issuer", str(issuing), "-cert", str(cert_path),
         "-url", f"{rsa_server.url}/ocsp", "-CAfile", str(chain_path), "-resp_text"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    text = out.stdout + out.stderr
    assert "Response verify OK" in text, text
    assert f"{cert_path}: good" in text
    assert "sha256WithRSAEncryption" in text
