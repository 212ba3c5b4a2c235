"""Create, open, re-PIN and destroy a signer credential.

See the :mod:`keiin.custody` package docstring for the order of operations around :func:`unlock`
(the failure counter) that the caller must follow.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import replace

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from keiin.custody.errors import (
    CorruptRecordError,
    CredentialDestroyedError,
    CredentialMismatchError,
    PepperMismatchError,
    WrongPinError,
)
from keiin.custody.kdf import DEFAULT_KDF, SALT_BYTES, KdfParams, derive_wrapping_key
from keiin.custody.pepper import Pepper, pepper_fingerprint
from keiin.custody.pin_policy import check_pin_strength, normalize_pin
from keiin.custody.record import (
    NONCE_BYTES,
    TAG_BYTES,
    CredentialRecord,
    associated_data,
    check_label,
)
from keiin.custody.unlocked import UnlockedKey
from keiin.pki.keys import KeyAlgorithm, algorithm_of, generate_private_key

_DER = serialization.Encoding.DER
_SPKI = serialization.PublicFormat.SubjectPublicKeyInfo


def create_credential(
    pin: str,
    *,
    pepper: Pepper,
    tenant: str,
    credential_id: str,
    algorithm: KeyAlgorithm = KeyAlgorithm.EC_P256,
    kdf: KdfParams = DEFAULT_KDF,
) -> tuple[CredentialRecord, PublicKeyTypes]:
    """Generate a key pair and wrap its private key under ``pin`` and the server pepper.

    The private key exists only inside this call; what comes out is the record to store and the
    public key to certify. Raises :class:`~keiin.custody.errors.WeakPinError` for a PIN the
    policy refuses (:func:`~keiin.custody.pin_policy.check_pin_strength`), ``ValueError`` or
    ``TypeError`` for an unusable ``tenant``, ``credential_id``, ``algorithm`` or ``kdf``.

    ``tenant`` identifies the partner company and ``credential_id`` the credential; both must be
    stable for the credential's life, as they are bound into the key derivation and the AAD.
    """
    pin = check_pin_strength(pin)
    check_label("tenant", tenant)
    check_label("credential_id", credential_id)
    algorithm = KeyAlgorithm(algorithm)
    kdf.check()
    private_key = generate_private_key(algorithm)
    public_key = private_key.public_key()
    pkcs8 = bytearray(
        private_key.private_bytes(
            _DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    del private_key
    try:
        record = _wrap(
            pkcs8,
            pin,
            pepper=pepper,
            kdf=kdf,
            tenant=tenant,
            credential_id=credential_id,
            algorithm=algorithm,
            public_key_der=public_key.public_bytes(_DER, _SPKI),
        )
    finally:
        _zero(pkcs8)
    return record, public_key


def check_pepper(record: CredentialRecord, pepper: Pepper) -> None:
    """Raise :class:`~keiin.custody.errors.PepperMismatchError` unless ``pepper`` is the one that
    wrapped ``record``.

    Uses no PIN, so call it *before* counting an attempt: a misconfigured or unreachable pepper
    (:class:`~keiin.custody.errors.PepperUnavailableError`) is a server fault, not a PIN failure.
    """
    if not hmac.compare_digest(pepper_fingerprint(pepper), record.pepper_fingerprint):
        raise PepperMismatchError(
            "the configured server pepper is not the one this credential was wrapped with"
        )


def unlock(
    record: CredentialRecord,
    pin: str,
    *,
    pepper: Pepper,
    tenant: str,
    credential_id: str,
) -> UnlockedKey:
    """Open the credential with ``pin`` for one signature.

    ``tenant`` and ``credential_id`` are what the *caller* expects (from the signed-in user and
    the row it asked for), not read back from the record: a record of another tenant or credential
    raises :class:`~keiin.custody.errors.CredentialMismatchError` before any decryption.

    Raises, in this order of checks:

    - :class:`~keiin.custody.errors.CorruptRecordError`: malformed record (never for a wrong PIN);
    - :class:`~keiin.custody.errors.CredentialDestroyedError`: the record was destroyed;
    - :class:`~keiin.custody.errors.CredentialMismatchError`: see above;
    - :class:`~keiin.custody.errors.PepperMismatchError` /
      :class:`~keiin.custody.errors.PepperUnavailableError`: server pepper problems;
    - :class:`~keiin.custody.errors.WrongPinError`: wrong PIN, or the ciphertext or a bound field
      was altered — the only outcome that depends on the PIN.

    Use the result as a context manager; see :class:`~keiin.custody.unlocked.UnlockedKey`.
    """
    buffer = _open(record, pin, pepper=pepper, tenant=tenant, credential_id=credential_id)
    return UnlockedKey(
        credential_id=record.credential_id, pkcs8_der=buffer, public_key_der=record.public_key_der
    )


def change_pin(
    record: CredentialRecord,
    old_pin: str,
    new_pin: str,
    *,
    pepper: Pepper,
    tenant: str,
    credential_id: str,
    kdf: KdfParams = DEFAULT_KDF,
) -> CredentialRecord:
    """Re-wrap the same key under ``new_pin`` (fresh salt and nonce; ``kdf`` parameters).

    ``new_pin`` is checked against the policy first
    (:class:`~keiin.custody.errors.WeakPinError`), then ``old_pin`` opens the record exactly as in
    :func:`unlock` (same errors; count a :class:`~keiin.custody.errors.WrongPinError` as a failed
    attempt). The key pair, and so the certificate, stay the same.
    """
    new_pin = check_pin_strength(new_pin)
    return _rewrap(
        record,
        old_pin,
        new_pin,
        pepper=pepper,
        new_pepper=pepper,
        tenant=tenant,
        credential_id=credential_id,
        kdf=kdf,
    )


def rewrap(
    record: CredentialRecord,
    pin: str,
    *,
    pepper: Pepper,
    tenant: str,
    credential_id: str,
    new_pepper: Pepper | None = None,
    kdf: KdfParams = DEFAULT_KDF,
) -> CredentialRecord:
    """Re-wrap the key under the same PIN with new KDF parameters and/or a new pepper.

    The way to raise the Argon2id parameters or rotate the pepper: both need the PIN, so do it
    right after a successful signature when ``record.kdf != kdf`` or the pepper changed. The PIN
    is not re-checked against the policy. Errors as in :func:`unlock`.
    """
    return _rewrap(
        record,
        pin,
        pin,
        pepper=pepper,
        new_pepper=new_pepper if new_pepper is not None else pepper,
        tenant=tenant,
        credential_id=credential_id,
        kdf=kdf,
    )


def destroy(record: CredentialRecord) -> CredentialRecord:
    """The destroyed form of ``record``: ciphertext, nonce and salt emptied, ``destroyed`` set.

    Store it over the old row (and see docs/custody.md about backups); every later
    :func:`unlock` raises :class:`~keiin.custody.errors.CredentialDestroyedError`. The public key
    and labels stay, for the audit trail. Idempotent.
    """
    return replace(record, salt=b"", nonce=b"", ciphertext=b"", destroyed=True)


def _open(
    record: CredentialRecord, pin: str, *, pepper: Pepper, tenant: str, credential_id: str
) -> bytearray:
    """Decrypt the PKCS#8 DER of ``record`` into a fresh buffer (see :func:`unlock`)."""
    if not isinstance(record, CredentialRecord):
        raise TypeError(f"expected a CredentialRecord, not {type(record).__name__}")
    normalize_pin(pin)  # TypeError for a non-str PIN, before anything else
    record.check()
    if record.destroyed:
        raise CredentialDestroyedError(f"credential {record.credential_id!r} was destroyed")
    if record.tenant != tenant or record.credential_id != credential_id:
        raise CredentialMismatchError("the credential record belongs to another credential")
    check_pepper(record, pepper)
    wrapping_key = derive_wrapping_key(
        pin, salt=record.salt, params=record.kdf, pepper=pepper, credential_id=credential_id
    )
    buffer = bytearray(len(record.ciphertext) - TAG_BYTES)
    try:
        AESGCM(wrapping_key).decrypt_into(
            record.nonce, record.ciphertext, associated_data(record), buffer
        )
    except InvalidTag:
        _zero(buffer)
        raise WrongPinError() from None
    try:
        _check_key_matches(buffer, record)
    except BaseException:
        _zero(buffer)
        raise
    return buffer


def _check_key_matches(pkcs8: bytearray, record: CredentialRecord) -> None:
    """The decrypted key must be a key of the record's algorithm and public key."""
    try:
        private_key = serialization.load_der_private_key(bytes(pkcs8), password=None)
        algorithm = algorithm_of(private_key)  # type: ignore[arg-type]
        public_der = private_key.public_key().public_bytes(_DER, _SPKI)
    except (ValueError, TypeError):
        raise CorruptRecordError("the decrypted key is not a supported private key") from None
    if algorithm != record.algorithm or public_der != record.public_key_der:
        raise CorruptRecordError("the decrypted key does not match the record's public key")


def _rewrap(
    record: CredentialRecord,
    pin: str,
    new_pin: str,
    *,
    pepper: Pepper,
    new_pepper: Pepper,
    tenant: str,
    credential_id: str,
    kdf: KdfParams,
) -> CredentialRecord:
    kdf.check()
    buffer = _open(record, pin, pepper=pepper, tenant=tenant, credential_id=credential_id)
    try:
        return _wrap(
            buffer,
            new_pin,
            pepper=new_pepper,
            kdf=kdf,
            tenant=record.tenant,
            credential_id=record.credential_id,
            algorithm=KeyAlgorithm(record.algorithm),
            public_key_der=record.public_key_der,
        )
    finally:
        _zero(buffer)


def _wrap(
    pkcs8: bytearray,
    pin: str,
    *,
    pepper: Pepper,
    kdf: KdfParams,
    tenant: str,
    credential_id: str,
    algorithm: KeyAlgorithm,
    public_key_der: bytes,
) -> CredentialRecord:
    """Encrypt ``pkcs8`` under a key derived from ``pin`` with a fresh salt and nonce."""
    salt = secrets.token_bytes(SALT_BYTES)
    nonce = secrets.token_bytes(NONCE_BYTES)
    unsealed = CredentialRecord(
        credential_id=credential_id,
        tenant=tenant,
        algorithm=algorithm,
        public_key_der=public_key_der,
        salt=salt,
        kdf=kdf,
        pepper_fingerprint=pepper_fingerprint(pepper),
        nonce=nonce,
        ciphertext=b"",
    )
    wrapping_key = derive_wrapping_key(
        pin, salt=salt, params=kdf, pepper=pepper, credential_id=credential_id
    )
    ciphertext = AESGCM(wrapping_key).encrypt(nonce, bytes(pkcs8), associated_data(unsealed))
    return replace(unsealed, ciphertext=ciphertext)


def _zero(buffer: bytearray) -> None:
    buffer[:] = bytes(len(buffer))
