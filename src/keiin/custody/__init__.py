"""Signer-key custody: each signatory's private key, usable only with their PIN (SCAL1-style).

Pure domain code (no Django): plain data in, plain data out. The key pair is generated when the
signatory sets the PIN (:func:`create_credential`) and only ever stored as AES-256-GCM ciphertext
under a wrapping key derived from the PIN *and* a server pepper kept outside the database::

    wrapping key = HKDF-SHA256(HMAC-SHA256(pepper, Argon2id(PIN, salt)),
                               info = b"keiin custody v1" + credential id)
    AAD          = format version, tenant, credential id, algorithm, SHA-256(public key)

Modules: :mod:`~keiin.custody.pin_policy` (PIN rules, lockout constants),
:mod:`~keiin.custody.kdf` (the derivation), :mod:`~keiin.custody.pepper` (the pepper protocol and
the file backend), :mod:`~keiin.custody.pkcs11_pepper` (the PKCS#11 backend; import it from there),
:mod:`~keiin.custody.record` (what is stored), :mod:`~keiin.custody.credential` (the operations),
:mod:`~keiin.custody.unlocked` (the one-signature key handed to pyHanko). docs/custody.md explains
the threat model.

Order of operations for the caller (the Django layer)
-----------------------------------------------------
The failure counter and the lock live in the database, next to the record. Opening a credential
with a PIN must go like this, or PIN guessing is not bounded:

1. Start a transaction and lock the credential's row (``select_for_update()``).
2. If the credential is destroyed, or its failure counter is already at
   :data:`MAX_PIN_FAILURES` (:func:`is_locked`), refuse without calling :func:`unlock`.
3. Call :func:`check_pepper` (uses no PIN). A :class:`PepperError` is a server fault: report it
   and stop, *without* counting an attempt, so a misconfigured server does not lock everyone out.
4. Increment the failure counter and write it, in this transaction, *before* decrypting.
5. Call :func:`unlock` (or :func:`change_pin` / :func:`rewrap`, which open the key the same way).

   - Success: reset the counter to 0 in the same transaction, commit, then sign once inside
     ``with unlocked: ...``.
   - :class:`WrongPinError`: commit the transaction (catch the exception inside the atomic block;
     do not let it roll back the increment). If the counter now equals :data:`MAX_PIN_FAILURES`,
     the credential is locked: audit it; it stays unusable until it is revoked and re-issued
     (every revocation stores :func:`destroy`'s result over the record).
   - Any other :class:`CustodyError`: commit too (the attempt stays counted) and report a server
     error; nothing about the PIN was revealed.

6. Never retry :func:`unlock` automatically with the same PIN, and never tell the user more than
   "wrong PIN" plus the attempts left.

Committing the increment in its own short transaction before step 5 (then resetting it in a second
one) is equally correct and also survives a process crash in the middle of step 5.
"""

from __future__ import annotations

from keiin.custody.credential import (
    change_pin,
    check_pepper,
    create_credential,
    destroy,
    rewrap,
    unlock,
)
from keiin.custody.errors import (
    CertificateMismatchError,
    CorruptRecordError,
    CredentialDestroyedError,
    CredentialMismatchError,
    CustodyError,
    InsecurePepperError,
    KeyAlreadyUsedError,
    PepperError,
    PepperMismatchError,
    PepperUnavailableError,
    WeakPinError,
    WrongPinError,
)
from keiin.custody.kdf import DEFAULT_KDF, KdfParams
from keiin.custody.pepper import FilePepper, Pepper, pepper_fingerprint
from keiin.custody.pin_policy import (
    MAX_PIN_FAILURES,
    MAX_PIN_LENGTH,
    MIN_PIN_LENGTH,
    check_pin_strength,
    is_locked,
    normalize_pin,
)
from keiin.custody.record import FORMAT_VERSION, CredentialRecord
from keiin.custody.unlocked import OneShotSigner, UnlockedKey

__all__ = [
    "DEFAULT_KDF",
    "FORMAT_VERSION",
    "MAX_PIN_FAILURES",
    "MAX_PIN_LENGTH",
    "MIN_PIN_LENGTH",
    "CertificateMismatchError",
    "CorruptRecordError",
    "CredentialDestroyedError",
    "CredentialMismatchError",
    "CredentialRecord",
    "CustodyError",
    "FilePepper",
    "InsecurePepperError",
    "KdfParams",
    "KeyAlreadyUsedError",
    "OneShotSigner",
    "Pepper",
    "PepperError",
    "PepperMismatchError",
    "PepperUnavailableError",
    "UnlockedKey",
    "WeakPinError",
    "WrongPinError",
    "change_pin",
    "check_pepper",
    "check_pin_strength",
    "create_credential",
    "destroy",
    "is_locked",
    "normalize_pin",
    "pepper_fingerprint",
    "rewrap",
    "unlock",
]
