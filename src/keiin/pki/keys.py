"""Key generation and the signature algorithms that go with each key type.

Only algorithms on the CRYPTREC e-Government recommended list are offered: ECDSA on P-256
or P-384 and RSA (3072 bits by default) with SHA-256/384/512.
"""

from __future__ import annotations

import enum

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes,
    CertificatePublicKeyTypes,
)

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


class KeyAlgorithm(enum.StrEnum):
    """Key types a Keiin CA, service or signer key may have."""

    EC_P256 = "ec-p256"
    EC_P384 = "ec-p384"
    RSA_3072 = "rsa-3072"
    RSA_4096 = "rsa-4096"

    @classmethod
    def parse(cls, text: str) -> KeyAlgorithm:
        """Parse a setting value such as ``ec-p256`` or ``RSA-3072`` (case-insensitive)."""
        try:
            return cls(text.strip().lower())
        except ValueError:
            allowed = ", ".join(a.value for a in cls)
            raise ValueError(f"unknown key algorithm {text!r}; choose one of {allowed}") from None


def generate_private_key(algorithm: KeyAlgorithm) -> PrivateKey:
    """Generate a fresh private key of the given type."""
    if algorithm is KeyAlgorithm.EC_P256:
        return ec.generate_private_key(ec.SECP256R1())
    if algorithm is KeyAlgorithm.EC_P384:
        return ec.generate_private_key(ec.SECP384R1())
    if algorithm is KeyAlgorithm.RSA_3072:
        return rsa.generate_private_key(public_exponent=65537, key_size=3072)
    if algorithm is KeyAlgorithm.RSA_4096:
        return rsa.generate_private_key(public_exponent=65537, key_size=4096)
    raise ValueError(f"unsupported key algorithm {algorithm!r}")


def algorithm_of(key: CertificatePublicKeyTypes | CertificateIssuerPrivateKeyTypes) -> KeyAlgorithm:
    """Return the :class:`KeyAlgorithm` of a public or private key."""
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        if isinstance(key.curve, ec.SECP256R1):
            return KeyAlgorithm.EC_P256
        if isinstance(key.curve, ec.SECP384R1):
            return KeyAlgorithm.EC_P384
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        if key.key_size == 3072:
            return KeyAlgorithm.RSA_3072
        if key.key_size == 4096:
            return KeyAlgorithm.RSA_4096
    raise ValueError(f"unsupported key type {type(key).__name__}")


def signature_hash(key: CertificateIssuerPrivateKeyTypes) -> hashes.HashAlgorithm:
    """The hash a signature by ``key`` uses: SHA-384 for P-384, SHA-256 otherwise."""
    if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP384R1):
        return hashes.SHA384()
    return hashes.SHA256()


def sign_bytes(key: PrivateKey, data: bytes) -> bytes:
    """Sign ``data`` with ``key`` (ECDSA or RSA PKCS#1 v1.5) using :func:`signature_hash`."""
    digest = signature_hash(key)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(data, ec.ECDSA(digest))
    return key.sign(data, padding.PKCS1v15(), digest)


def signature_algorithm_name(key: PrivateKey) -> str:
    """The asn1crypto name of the signature algorithm :func:`sign_bytes` produces."""
    digest = signature_hash(key).name  # "sha256" / "sha384"
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return f"{digest}_ecdsa"
    return f"{digest}_rsa"
