"""Shared values and builders for the custody tests (small Argon2 parameters, throwaway certs)."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.x509.oid import NameOID

from keiin.custody import FilePepper, KdfParams

# Argon2id's minimum cost: the tests exercise the construction, not the work factor.
FAST_KDF = KdfParams(time_cost=1, memory_cost_kib=8, parallelism=1)
TENANT = "partner-0042"
CREDENTIAL_ID = "cred-7f3a9c"
PIN = "583920"
OTHER_PIN = "730185"


def memory_pepper(seed: str) -> FilePepper:
    """A deterministic in-memory pepper (no file), distinct per ``seed``."""
    return FilePepper(hashlib.sha256(seed.encode()).digest())


def make_ca() -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A throwaway self-signed CA (P-256)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Custody Test CA")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(secrets.randbits(64) + 1)
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def issue_signer_cert(
    ca_key: ec.EllipticCurvePrivateKey, ca_cert: x509.Certificate, public_key: PublicKeyTypes
) -> x509.Certificate:
    """A signatory certificate for ``public_key`` (digitalSignature + nonRepudiation)."""
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "山田 太郎")]))
        .issuer_name(ca_cert.subject)
        .public_key(public_key)  # type: ignore[arg-type]
        .serial_number(secrets.randbits(64) + 1)
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
