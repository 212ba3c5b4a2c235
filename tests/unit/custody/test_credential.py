"""Create, unlock, change PIN, re-wrap, destroy: the life of a credential."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from keiin.custody import (
    CorruptRecordError,
    CredentialDestroyedError,
    CredentialMismatchError,
    CredentialRecord,
    FilePepper,
    KdfParams,
    PepperMismatchError,
    WeakPinError,
    WrongPinError,
    change_pin,
    check_pepper,
    create_credential,
    destroy,
    rewrap,
    unlock,
)
from keiin.custody import credential as credential_module
from keiin.pki.keys import KeyAlgorithm
from tests.unit.custody.helpers import (
    CREDENTIAL_ID,
    FAST_KDF,
    OTHER_PIN,
    PIN,
    TENANT,
    memory_pepper,
)

SPKI = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


@pytest.fixture
def pepper(tmp_path) -> FilePepper:
    return FilePepper.create(tmp_path / "pepper")


@pytest.fixture
def created(pepper):
    return create_credential(
        PIN, pepper=pepper, tenant=TENANT, credential_id=CREDENTIAL_ID, kdf=FAST_KDF
    )


def _unlock(record, pin, pepper, **kwargs):
    args = {"tenant": TENANT, "credential_id": CREDENTIAL_ID} | kwargs
    return unlock(record, pin, pepper=pepper, **args)


def test_create_stores_only_ciphertext_and_returns_the_public_key(created, pepper):
    record, public_key = created
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    assert record.public_key_der == public_key.public_bytes(*SPKI)
    assert record.algorithm is KeyAlgorithm.EC_P256
    assert (record.tenant, record.credential_id) == (TENANT, CREDENTIAL_ID)
    assert (len(record.salt), len(record.nonce), len(record.pepper_fingerprint)) == (16, 12, 16)
    assert record.kdf == FAST_KDF and record.format_version == 1 and not record.destroyed
    assert b"PRIVATE" not in record.ciphertext
    assert "ciphertext" not in repr(record)
    with _unlock(record, PIN, pepper) as key:
        assert key.public_key_der == record.public_key_der
    assert key.closed


def test_two_credentials_with_the_same_pin_share_nothing(pepper):
    a, _ = create_credential(PIN, pepper=pepper, tenant=TENANT, credential_id="a", kdf=FAST_KDF)
    b, _ = create_credential(PIN, pepper=pepper, tenant=TENANT, credential_id="b", kdf=FAST_KDF)
    assert a.salt != b.salt and a.nonce != b.nonce and a.public_key_der != b.public_key_der
    assert a.pepper_fingerprint == b.pepper_fingerprint


def test_weak_pin_is_refused_before_any_key_exists(pepper):
    with pytest.raises(WeakPinError) as excinfo:
        create_credential(
            "123456", pepper=pepper, tenant=TENANT, credential_id=CREDENTIAL_ID, kdf=FAST_KDF
        )
    assert excinfo.value.code == "sequence"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"tenant": ""},
        {"credential_id": ""},
        {"credential_id": "x" * 256},
        {"tenant": "\ud800"},
        {"kdf": KdfParams(time_cost=0)},
        {"algorithm": "dsa-1024"},
    ],
)
def test_create_refuses_bad_arguments(pepper, kwargs):
    args = {"tenant": TENANT, "credential_id": CREDENTIAL_ID, "kdf": FAST_KDF} | kwargs
    with pytest.raises(ValueError):
        create_credential(PIN, pepper=pepper, **args)


def test_rsa_credential(pepper):
    record, public_key = create_credential(
        PIN,
        pepper=pepper,
        tenant=TENANT,
        credential_id=CREDENTIAL_ID,
        algorithm=KeyAlgorithm.RSA_3072,
        kdf=FAST_KDF,
    )
    assert isinstance(public_key, rsa.RSAPublicKey) and public_key.key_size == 3072
    with _unlock(record, PIN, pepper) as key:
        assert key.public_key_der == public_key.public_bytes(*SPKI)


def test_wrong_pin_raises_wrong_pin_error_only(created, pepper):
    record, _ = created
    for pin in (OTHER_PIN, PIN + "0", PIN[:-1], "", " " + PIN, "\ud800" + PIN, "\x00"):
        with pytest.raises(WrongPinError) as excinfo:
            _unlock(record, pin, pepper)
        assert str(excinfo.value) == "wrong PIN"


def test_full_width_pin_opens(created, pepper):
    record, _ = created
    with _unlock(record, "５８３９２０", pepper) as key:
        assert not key.closed


def test_database_alone_with_the_pin_cannot_unlock(created):
    """The record and the right PIN, but another pepper: refused before the PIN is used."""
    record, _ = created
    stranger = memory_pepper("not the server's pepper")
    with pytest.raises(PepperMismatchError):
        check_pepper(record, stranger)
    with pytest.raises(PepperMismatchError):
        _unlock(record, PIN, stranger)


def test_forging_the_pepper_fingerprint_does_not_help(created):
    """An attacker who rewrites the fingerprint to match their guess gets a tag failure."""
    record, _ = created
    stranger = memory_pepper("guess")
    forged = replace(record, pepper_fingerprint=credential_module.pepper_fingerprint(stranger))
    with pytest.raises(WrongPinError):
        _unlock(forged, PIN, stranger)


def test_record_is_bound_to_its_tenant_and_credential_id(created, pepper):
    record, _ = created
    with pytest.raises(CredentialMismatchError):
        _unlock(record, PIN, pepper, tenant="partner-0043")
    with pytest.raises(CredentialMismatchError):
        _unlock(record, PIN, pepper, credential_id="cred-other")
    # Relabelling the stored record to match the caller does not work either: both are bound.
    moved = replace(record, tenant="partner-0043")
    with pytest.raises(WrongPinError):
        _unlock(moved, PIN, pepper, tenant="partner-0043")
    renamed = replace(record, credential_id="cred-other")
    with pytest.raises(WrongPinError):
        _unlock(renamed, PIN, pepper, credential_id="cred-other")


def test_ciphertext_cannot_be_moved_to_another_credential(pepper):
    a, _ = create_credential(PIN, pepper=pepper, tenant=TENANT, credential_id="a", kdf=FAST_KDF)
    b, _ = create_credential(PIN, pepper=pepper, tenant=TENANT, credential_id="b", kdf=FAST_KDF)
    transplanted = replace(b, ciphertext=a.ciphertext, nonce=a.nonce, salt=a.salt)
    with pytest.raises(WrongPinError):
        unlock(transplanted, PIN, pepper=pepper, tenant=TENANT, credential_id="b")


def test_a_decrypted_key_that_does_not_match_the_public_key_is_corruption(created, pepper):
    """Defence in depth: even a ciphertext that authenticates must hold the record's key."""
    record, _ = created
    stranger_key = ec.generate_private_key(ec.SECP256R1())
    pkcs8 = bytearray(
        stranger_key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    wrong = credential_module._wrap(
        pkcs8,
        PIN,
        pepper=pepper,
        kdf=FAST_KDF,
        tenant=TENANT,
        credential_id=CREDENTIAL_ID,
        algorithm=KeyAlgorithm.EC_P256,
        public_key_der=record.public_key_der,
    )
    with pytest.raises(CorruptRecordError, match="does not match"):
        _unlock(wrong, PIN, pepper)


def test_change_pin(created, pepper):
    record, public_key = created
    changed = change_pin(
        record,
        PIN,
        OTHER_PIN,
        pepper=pepper,
        tenant=TENANT,
        credential_id=CREDENTIAL_ID,
        kdf=FAST_KDF,
    )
    assert changed.public_key_der == record.public_key_der
    assert changed.salt != record.salt and changed.nonce != record.nonce
    with pytest.raises(WrongPinError):
        _unlock(changed, PIN, pepper)
    with _unlock(changed, OTHER_PIN, pepper) as key:
        assert key.public_key_der == public_key.public_bytes(*SPKI)


def test_change_pin_refuses_a_weak_new_pin_before_trying_the_old(created, pepper):
    record, _ = created
    with pytest.raises(WeakPinError):
        change_pin(
            record, "wrong!", "111111", pepper=pepper, tenant=TENANT, credential_id=CREDENTIAL_ID
        )


def test_change_pin_with_the_wrong_old_pin(created, pepper):
    record, _ = created
    with pytest.raises(WrongPinError):
        change_pin(
            record,
            OTHER_PIN,
            "402958",
            pepper=pepper,
            tenant=TENANT,
            credential_id=CREDENTIAL_ID,
            kdf=FAST_KDF,
        )


def test_rewrap_raises_kdf_parameters_and_old_records_still_open(created, pepper):
    record, _ = created
    stronger = KdfParams(time_cost=2, memory_cost_kib=32, parallelism=2)
    upgraded = rewrap(
        record, PIN, pepper=pepper, tenant=TENANT, credential_id=CREDENTIAL_ID, kdf=stronger
    )
    assert upgraded.kdf == stronger
    for each in (record, upgraded):
        with _unlock(each, PIN, pepper) as key:
            assert key.public_key_der == record.public_key_der


def test_rewrap_moves_a_credential_to_a_new_pepper(created, pepper):
    record, _ = created
    new_pepper = memory_pepper("rotated")
    moved = rewrap(
        record,
        PIN,
        pepper=pepper,
        new_pepper=new_pepper,
        tenant=TENANT,
        credential_id=CREDENTIAL_ID,
        kdf=FAST_KDF,
    )
    with pytest.raises(PepperMismatchError):
        _unlock(moved, PIN, pepper)
    with _unlock(moved, PIN, new_pepper) as key:
        assert key.public_key_der == record.public_key_der


def test_destroy(created, pepper):
    record, _ = created
    dead = destroy(record)
    assert dead.destroyed
    assert dead.ciphertext == dead.nonce == dead.salt == b""
    assert dead.public_key_der == record.public_key_der
    assert destroy(dead) == dead
    with pytest.raises(CredentialDestroyedError):
        _unlock(dead, PIN, pepper)
    # Clearing the flag does not bring the key back: the ciphertext is gone.
    with pytest.raises(CorruptRecordError):
        _unlock(replace(dead, destroyed=False), PIN, pepper)
    with pytest.raises(CredentialDestroyedError):
        change_pin(dead, PIN, OTHER_PIN, pepper=pepper, tenant=TENANT, credential_id=CREDENTIAL_ID)


def test_dict_round_trip_through_json(created, pepper):
    record, _ = created
    data = json.loads(json.dumps(record.to_dict()))
    again = CredentialRecord.from_dict(data)
    assert again == record
    with _unlock(again, PIN, pepper):
        pass
    dead = destroy(record)
    assert CredentialRecord.from_dict(json.loads(json.dumps(dead.to_dict()))) == dead


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.pop("salt"),
        lambda d: d.update(salt="not base64!"),
        lambda d: d.update(nonce=None),
        lambda d: d.update(algorithm="dsa"),
        lambda d: d.update(format_version=2),
        lambda d: d.update(kdf={"time_cost": 1}),
        lambda d: d.update(kdf={"time_cost": 10**9, "memory_cost_kib": 8, "parallelism": 1}),
        lambda d: d.update(nonce="AAAA"),
        lambda d: d.update(tenant=""),
        lambda d: d.update(destroyed="no"),
    ],
)
def test_from_dict_refuses_malformed_records(created, mutate):
    record, _ = created
    data = record.to_dict()
    mutate(data)
    with pytest.raises(CorruptRecordError):
        CredentialRecord.from_dict(data)


def test_unlock_refuses_a_non_str_pin(created, pepper):
    record, _ = created
    with pytest.raises(TypeError):
        _unlock(record, 583920, pepper)
