"""keiin.pki.keystore: encrypted key files and the master key file."""

from __future__ import annotations

import base64
import os
import secrets
import stat
import uuid

import pytest
from cryptography.hazmat.primitives import serialization

from keiin.pki.keys import KeyAlgorithm, generate_private_key
from keiin.pki.keystore import (
    FileKeyStore,
    KeyStoreError,
    load_or_create_master_key,
    write_new_file,
)


def _der(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@pytest.fixture
def store(tmp_path):
    return FileKeyStore(tmp_path / "keys", secrets.token_bytes(32))


@pytest.fixture(scope="module")
def ec_key():
    return generate_private_key(KeyAlgorithm.EC_P256)


@pytest.mark.parametrize("algorithm", [KeyAlgorithm.EC_P256, KeyAlgorithm.EC_P384])
def test_round_trip(store, algorithm):
    key = generate_private_key(algorithm)
    ref = store.put(key)
    assert uuid.UUID(hex=ref).hex == ref
    assert _der(store.get(ref)) == _der(key)


def test_round_trip_rsa(store, rsa_pki):
    ref = store.put(rsa_pki.root.key)
    assert _der(store.get(ref)) == _der(rsa_pki.root.key)


def test_file_is_private_and_does_not_contain_the_key(store, ec_key):
    ref = store.put(ec_key)
    path = store.folder / f"{ref}.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    blob = path.read_bytes()
    assert blob.startswith(b"KEIINKEY1")
    assert _der(ec_key) not in blob
    assert ec_key.private_numbers().private_value.to_bytes(32, "big") not in blob
    # No temporary files are left behind.
    assert sorted(p.name for p in store.folder.iterdir()) == [f"{ref}.key"]


def test_each_put_gets_a_new_reference_and_nonce(store, ec_key):
    refs = {store.put(ec_key) for _ in range(5)}
    assert len(refs) == 5
    blobs = {(store.folder / f"{r}.key").read_bytes() for r in refs}
    assert len(blobs) == 5  # fresh nonce each time


def test_wrong_master_key_is_refused(store, ec_key):
    ref = store.put(ec_key)
    other = FileKeyStore(store.folder, secrets.token_bytes(32))
    with pytest.raises(KeyStoreError, match="does not decrypt"):
        other.get(ref)


@pytest.mark.parametrize("offset", [9, 9 + 11, 9 + 12, -1, -17])
def test_tampered_file_is_refused(store, ec_key, offset):
    ref = store.put(ec_key)
    path = store.folder / f"{ref}.key"
    blob = bytearray(path.read_bytes())
    blob[offset] ^= 0x01  # nonce, ciphertext or tag
    path.write_bytes(bytes(blob))
    with pytest.raises(KeyStoreError):
        store.get(ref)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda b: b[:-1],
        lambda b: b[:20],
        lambda b: b"",
        lambda b: b"KEIINKEY2" + b[9:],
        lambda b: b + b"\x00",
    ],
    ids=["drop-last", "truncated", "empty", "bad-magic", "appended"],
)
def test_damaged_file_is_refused(store, ec_key, mangle):
    ref = store.put(ec_key)
    path = store.folder / f"{ref}.key"
    path.write_bytes(mangle(path.read_bytes()))
    with pytest.raises(KeyStoreError):
        store.get(ref)


def test_file_renamed_to_another_ref_is_refused(store, ec_key):
    ref = store.put(ec_key)
    other_ref = uuid.uuid4().hex
    os.rename(store.folder / f"{ref}.key", store.folder / f"{other_ref}.key")
    with pytest.raises(KeyStoreError, match="does not decrypt"):
        store.get(other_ref)


def test_file_swapped_for_another_key_is_refused(store, ec_key):
    ref_a = store.put(ec_key)
    ref_b = store.put(generate_private_key(KeyAlgorithm.EC_P256))
    (store.folder / f"{ref_b}.key").write_bytes((store.folder / f"{ref_a}.key").read_bytes())
    with pytest.raises(KeyStoreError):
        store.get(ref_b)
    assert _der(store.get(ref_a)) == _der(ec_key)


@pytest.mark.parametrize("ref", ["", "../../etc/passwd", "not-a-uuid", "0" * 31, "g" * 32])
def test_malformed_reference_is_refused(store, ref):
    with pytest.raises(KeyStoreError, match="malformed key reference"):
        store.get(ref)


def test_missing_key_is_refused(store):
    with pytest.raises(KeyStoreError, match="no key"):
        store.get(uuid.uuid4().hex)


def test_put_never_overwrites(store, ec_key, monkeypatch):
    fixed = uuid.uuid4()
    monkeypatch.setattr(uuid, "uuid4", lambda: fixed)
    ref = store.put(ec_key)
    before = (store.folder / f"{ref}.key").read_bytes()
    with pytest.raises(FileExistsError):
        store.put(generate_private_key(KeyAlgorithm.EC_P256))
    assert (store.folder / f"{ref}.key").read_bytes() == before
    assert _der(store.get(ref)) == _der(ec_key)
    assert [p.name for p in store.folder.iterdir()] == [f"{ref}.key"]


def test_write_new_file_refuses_existing(tmp_path):
    target = tmp_path / "sub" / "file"
    write_new_file(target, b"first")
    with pytest.raises(FileExistsError):
        write_new_file(target, b"second")
    assert target.read_bytes() == b"first"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in target.parent.iterdir()] == ["file"]


def test_destroy_removes_the_key(store, ec_key):
    ref = store.put(ec_key)
    keep = store.put(ec_key)
    store.destroy(ref)
    assert not (store.folder / f"{ref}.key").exists()
    with pytest.raises(KeyStoreError, match="no key"):
        store.get(ref)
    assert _der(store.get(keep)) == _der(ec_key)
    store.destroy(ref)  # destroying twice is harmless


def test_master_key_must_be_32_bytes(tmp_path):
    with pytest.raises(ValueError, match="32 bytes"):
        FileKeyStore(tmp_path, b"x" * 31)


# ------------------------------------------------------------------------- master key file


def test_master_key_created_0600_and_stable(tmp_path):
    path = tmp_path / "secrets" / "master.key"
    key = load_or_create_master_key(path)
    assert len(key) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert base64.b64decode(path.read_bytes().strip()) == key
    assert load_or_create_master_key(path) == key  # read back, never regenerated


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644, 0o610])
def test_master_key_readable_by_others_is_refused(tmp_path, mode):
    path = tmp_path / "master.key"
    load_or_create_master_key(path)
    os.chmod(path, mode)
    with pytest.raises(KeyStoreError, match="group or others"):
        load_or_create_master_key(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not base64 at all!\n", "not valid base64"),
        (base64.b64encode(b"x" * 16) + b"\n", "32 bytes"),
        (b"\n", "32 bytes"),
    ],
)
def test_master_key_bad_content_is_refused(tmp_path, content, message):
    path = tmp_path / "master.key"
    write_new_file(path, content)
    with pytest.raises(KeyStoreError, match=message):
        load_or_create_master_key(path)
