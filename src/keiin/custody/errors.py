"""The exceptions of :mod:`keiin.custody`.

Every exception the package raises on purpose derives from :class:`CustodyError`, so a caller can
tell a custody decision from a programming error (``TypeError``/``ValueError`` on bad arguments).
Only :class:`WrongPinError` depends on the PIN, and it says nothing else: a wrong PIN and a
ciphertext, nonce, salt or bound field that was altered in the database are indistinguishable by
design (both are an AES-GCM tag failure).
"""

from __future__ import annotations


class CustodyError(Exception):
    """Base class of every error :mod:`keiin.custody` raises on purpose."""


class WrongPinError(CustodyError):
    """The PIN did not open the credential (AES-GCM authentication failed).

    Raised for a wrong PIN and equally for any alteration of the encrypted key, its nonce, its
    salt, its KDF parameters or the fields bound in the associated data. Count it as a failed
    attempt (see :data:`keiin.custody.pin_policy.MAX_PIN_FAILURES`).
    """

    def __init__(self) -> None:
        super().__init__("wrong PIN")


class WeakPinError(CustodyError, ValueError):
    """A new PIN was refused by :func:`keiin.custody.pin_policy.check_pin_strength`.

    ``code`` is a stable machine-readable reason (for a translated message in the UI); ``str()``
    is an English explanation. Neither contains the PIN.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class CredentialDestroyedError(CustodyError):
    """The credential was destroyed (revoked); its encrypted key no longer exists."""


class CredentialMismatchError(CustodyError):
    """The record belongs to another tenant or credential than the caller expects.

    Raised before any decryption, so it reveals nothing about the PIN.
    """


class CorruptRecordError(CustodyError):
    """The credential record is malformed: unknown format version, impossible field lengths,
    KDF parameters outside the accepted bounds, or a decrypted key that does not match the stored
    public key. Never raised for a wrong PIN."""


class PepperError(CustodyError):
    """Base class of the server-pepper problems; these are server faults, not PIN failures."""


class PepperMismatchError(PepperError):
    """The configured pepper is not the one this credential was wrapped with.

    Detected from the record's pepper fingerprint before the PIN is used: a misconfigured server
    must not count against (and lock out) every signatory.
    """


class PepperUnavailableError(PepperError):
    """The pepper cannot be used: missing file or token key, token not reachable, bad token PIN."""


class InsecurePepperError(PepperError):
    """The pepper is stored unsafely: a pepper file readable or writable by group or others, or a
    PKCS#11 pepper key that is extractable or not sensitive."""


class KeyAlreadyUsedError(CustodyError):
    """The unlocked key already produced its one signature, or was closed."""


class CertificateMismatchError(CustodyError):
    """The signing certificate is not for the credential's public key."""
