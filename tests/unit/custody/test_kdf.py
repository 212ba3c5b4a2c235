"""The derivation PIN → wrapping key, checked against an independent recomputation."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from argon2.low_level import Type, hash_secret_raw
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_der_private_key,
)

from keiin.custody import DEFAULT_KDF, KdfParams, create_credential
from keiin.custody.kdf import derive_wrapping_key
from tests.unit.custody.helpers import CREDENTIAL_ID, FAST_KDF, PIN, TENANT

SECRET = bytes(range(32))


class _Pepper:
    def mac(self, data: bytes) -> bytes:
        return hmac.new(SECRET, data, hashlib.sha256).digest()


def _reference_key(pin: str, salt: bytes, params: KdfParams, credential_id: str) -> bytes:
    stretched = hash_secret_raw(
        pin.encode(),
        salt,
        time_cost=params.time_cost,
        memory_cost=params.memory_cost_kib,
        parallelism=params.parallelism,
        hash_len=32,
        type=Type.ID,
    )
    peppered = hmac.new(SECRET, stretched, hashlib.sha256).digest()
    info = b"keiin custody v1" + credential_id.encode()
    return HKDF(hashes.SHA256(), 32, salt=None, info=info).derive(peppered)


def _reference_aad(record) -> bytes:
    parts = [
        b"keiin custody aad",
        (1).to_bytes(2, "big"),
        record.tenant.encode(),
        record.credential_id.encode(),
        b"ec-p256",
        hashlib.sha256(record.public_key_der).digest(),
    ]
    return b"".join(len(p).to_bytes(4, "big") + p for p in parts)


def test_derivation_matches_the_documented_construction():
    salt = bytes(16)
    params = KdfParams(time_cost=2, memory_cost_kib=64, parallelism=2)
    got = derive_wrapping_key(
        PIN, salt=salt, params=params, pepper=_Pepper(), credential_id=CREDENTIAL_ID
    )
    assert got == _reference_key(PIN, salt, params, CREDENTIAL_ID)
    assert len(got) == 32


def test_a_record_decrypts_with_the_documented_key_and_aad():
    record, public_key = create_credential(
        PIN, pepper=_Pepper(), tenant=TENANT, credential_id=CREDENTIAL_ID, kdf=FAST_KDF
    )
    key = _reference_key(PIN, record.salt, record.kdf, CREDENTIAL_ID)
    pkcs8 = AESGCM(key).decrypt(record.nonce, record.ciphertext, _reference_aad(record))
    private_key = load_der_private_key(pkcs8, password=None)
    spki = (Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    assert private_key.public_key().public_bytes(*spki) == public_key.public_bytes(*spki)
    assert private_key.public_key().public_bytes(*spki) == record.public_key_der


@pytest.mark.parametrize(
    "change",
    [
        {"salt": b"\x01" * 16},
        {"credential_id": "cred-other"},
        {"pin": "583921"},
        {"params": KdfParams(time_cost=2, memory_cost_kib=8, parallelism=1)},
        {"params": KdfParams(time_cost=1, memory_cost_kib=16, parallelism=1)},
        {"params": KdfParams(time_cost=1, memory_cost_kib=16, parallelism=2)},
    ],
)
def test_every_input_changes_the_key(change):
    base = {"pin": PIN, "salt": bytes(16), "params": FAST_KDF, "credential_id": CREDENTIAL_ID}
    args = base | change

    def derive(a):
        return derive_wrapping_key(
            a["pin"],
            salt=a["salt"],
            params=a["params"],
            pepper=_Pepper(),
            credential_id=a["credential_id"],
        )

    assert derive(args) != derive(base)


def test_default_parameters():
    assert DEFAULT_KDF == KdfParams(time_cost=3, memory_cost_kib=65536, parallelism=1)
    DEFAULT_KDF.check()


@pytest.mark.parametrize(
    "params",
    [
        KdfParams(time_cost=0),
        KdfParams(time_cost=65),
        KdfParams(parallelism=0),
        KdfParams(parallelism=17),
        KdfParams(memory_cost_kib=7),
        KdfParams(memory_cost_kib=31, parallelism=4),
        KdfParams(memory_cost_kib=2 * 1024 * 1024 + 1),
        KdfParams(time_cost=True),
        KdfParams(time_cost=3.0),  # type: ignore[arg-type]
    ],
)
def test_parameters_out_of_bounds_are_refused(params):
    with pytest.raises(ValueError):
        params.check()
