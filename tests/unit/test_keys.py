"""keiin.pki.keys: key generation, algorithm detection, signature choice."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from keiin.pki.keys import (
    KeyAlgorithm,
    algorithm_of,
    generate_private_key,
    sign_bytes,
    signature_algorithm_name,
    signature_hash,
)

EXPECTED = {
    KeyAlgorithm.EC_P256: (ec.EllipticCurvePrivateKey, "secp256r1", 256),
    KeyAlgorithm.EC_P384: (ec.EllipticCurvePrivateKey, "secp384r1", 384),
    KeyAlgorithm.RSA_3072: (rsa.RSAPrivateKey, None, 3072),
    KeyAlgorithm.RSA_4096: (rsa.RSAPrivateKey, None, 4096),
}


def test_every_algorithm_is_covered():
    assert set(EXPECTED) == set(KeyAlgorithm)


@pytest.mark.parametrize("algorithm", list(KeyAlgorithm))
def test_generate_private_key_makes_the_right_key(algorithm):
    key = generate_private_key(algorithm)
    cls, curve, size = EXPECTED[algorithm]
    assert isinstance(key, cls)
    assert key.key_size == size
    if curve:
        assert key.curve.name == curve
    else:
        assert key.public_key().public_numbers().e == 65537
    assert algorithm_of(key) is algorithm
    assert algorithm_of(key.public_key()) is algorithm


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ec-p256", KeyAlgorithm.EC_P256),
        ("EC-P384", KeyAlgorithm.EC_P384),
        ("  RSA-3072\n", KeyAlgorithm.RSA_3072),
        ("rsa-4096", KeyAlgorithm.RSA_4096),
    ],
)
def test_parse_accepts_any_case_and_spaces(text, expected):
    assert KeyAlgorithm.parse(text) is expected


@pytest.mark.parametrize("text", ["", "ec", "p256", "rsa-2048", "ec-p521", "ed25519", "ec_p256"])
def test_parse_rejects_unknown_algorithms(text):
    with pytest.raises(ValueError, match="unknown key algorithm") as info:
        KeyAlgorithm.parse(text)
    assert "ec-p256" in str(info.value)  # the message lists the choices


def test_generate_rejects_a_non_member():
    with pytest.raises(ValueError, match="unsupported"):
        generate_private_key("ec-p256")  # a plain string, not the enum member


@pytest.mark.parametrize(
    "key",
    [
        ec.generate_private_key(ec.SECP521R1()),
        ec.generate_private_key(ec.SECP256K1()),
    ],
    ids=["p521", "secp256k1"],
)
def test_algorithm_of_rejects_unsupported_keys(key):
    with pytest.raises(ValueError, match="unsupported key type"):
        algorithm_of(key)


def test_signature_hash_and_name_follow_the_key():
    p256 = generate_private_key(KeyAlgorithm.EC_P256)
    p384 = generate_private_key(KeyAlgorithm.EC_P384)
    assert isinstance(signature_hash(p256), hashes.SHA256)
    assert isinstance(signature_hash(p384), hashes.SHA384)
    assert signature_algorithm_name(p256) == "sha256_ecdsa"
    assert signature_algorithm_name(p384) == "sha384_ecdsa"


def test_sign_bytes_ecdsa_verifies():
    key = generate_private_key(KeyAlgorithm.EC_P384)
    signature = sign_bytes(key, b"payload")
    key.public_key().verify(signature, b"payload", ec.ECDSA(hashes.SHA384()))


def test_sign_bytes_rsa_is_pkcs1v15_sha256(rsa_pki):
    key = rsa_pki.root.key
    assert signature_algorithm_name(key) == "sha256_rsa"
    signature = sign_bytes(key, b"payload")
    key.public_key().verify(signature, b"payload", padding.PKCS1v15(), hashes.SHA256())
