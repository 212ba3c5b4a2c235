"""The credential record: everything stored about a signer key, none of it secret on its own.

A :class:`CredentialRecord` is plain data for the Django layer to persist (as columns, or as the
JSON-safe dict of :meth:`CredentialRecord.to_dict`). The private key is in it only as AES-256-GCM
ciphertext of its PKCS#8 DER encoding; the associated data (:func:`associated_data`) binds the
format version, the tenant, the credential id, the key algorithm and the SHA-256 of the public key,
so a ciphertext copied into another tenant's or credential's row, or paired with another public
key, does not decrypt even with the right PIN.

Why the public key and not the certificate: the key pair (and so the ciphertext) exists before the
certificate is issued, and binding the certificate would need the PIN a second time, right after
issuance, plus a re-wrap at every re-issuance. The public key is fixed from the first moment, and
the certificate is tied to it when the key is used: :meth:`UnlockedKey.signer
<keiin.custody.unlocked.UnlockedKey.signer>` refuses a certificate for any other key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from keiin.custody.errors import CorruptRecordError
from keiin.custody.kdf import SALT_BYTES, KdfParams
from keiin.custody.pepper import FINGERPRINT_BYTES
from keiin.pki.keys import KeyAlgorithm

FORMAT_VERSION = 1
NONCE_BYTES = 12
TAG_BYTES = 16
MAX_LABEL_CHARS = 255
_AAD_LABEL = b"keiin custody aad"


@dataclass(frozen=True, slots=True)
class CredentialRecord:
    """A signer key under PIN custody, as stored.

    Fields:
        credential_id: stable identifier of the credential (bound in the HKDF info and the AAD).
        tenant: identifier of the partner company the signatory belongs to (bound in the AAD).
        algorithm: the key type (:class:`~keiin.pki.keys.KeyAlgorithm`).
        public_key_der: the public key, DER SubjectPublicKeyInfo (its SHA-256 is in the AAD).
        salt: Argon2id salt, 16 random bytes (empty once destroyed).
        kdf: the Argon2id parameters this record was wrapped with.
        pepper_fingerprint: which server pepper wrapped it (:func:`pepper_fingerprint
            <keiin.custody.pepper.pepper_fingerprint>`).
        nonce: AES-GCM nonce, 12 random bytes (empty once destroyed).
        ciphertext: AES-256-GCM ciphertext and tag of the PKCS#8 DER private key (empty once
            destroyed).
        format_version: the layout of this record (:data:`FORMAT_VERSION`).
        destroyed: set by :func:`~keiin.custody.credential.destroy`; a destroyed record never
            opens again.
    """

    credential_id: str
    tenant: str
    algorithm: KeyAlgorithm
    public_key_der: bytes
    salt: bytes
    kdf: KdfParams
    pepper_fingerprint: bytes
    nonce: bytes
    ciphertext: bytes = field(repr=False)
    format_version: int = FORMAT_VERSION
    destroyed: bool = False

    @property
    def public_key_sha256(self) -> bytes:
        """SHA-256 of :attr:`public_key_der` (bound in the AAD)."""
        return hashlib.sha256(self.public_key_der).digest()

    def check(self) -> None:
        """Raise :class:`~keiin.custody.errors.CorruptRecordError` unless the record is
        well-formed: known version, sane labels and KDF parameters, fields of the right length.

        A destroyed record is checked only for its labels and version.
        """
        if type(self.format_version) is not int or self.format_version != FORMAT_VERSION:
            raise CorruptRecordError(f"unsupported credential format {self.format_version!r}")
        for name in ("credential_id", "tenant"):
            try:
                check_label(name, getattr(self, name))
            except (TypeError, ValueError) as exc:
                raise CorruptRecordError(str(exc)) from None
        if self.destroyed is not False and self.destroyed is not True:
            raise CorruptRecordError("destroyed must be a bool")
        if self.destroyed:
            return
        try:
            KeyAlgorithm(self.algorithm)
        except ValueError:
            raise CorruptRecordError(f"unknown key algorithm {self.algorithm!r}") from None
        if not isinstance(self.kdf, KdfParams):
            raise CorruptRecordError("kdf must be KdfParams")
        try:
            self.kdf.check()
        except ValueError as exc:
            raise CorruptRecordError(str(exc)) from None
        lengths = {
            "salt": (self.salt, SALT_BYTES),
            "nonce": (self.nonce, NONCE_BYTES),
            "pepper_fingerprint": (self.pepper_fingerprint, FINGERPRINT_BYTES),
        }
        for name, (value, length) in lengths.items():
            if not isinstance(value, bytes) or len(value) != length:
                raise CorruptRecordError(f"{name} must be {length} bytes")
        if not isinstance(self.public_key_der, bytes) or not self.public_key_der:
            raise CorruptRecordError("public_key_der is missing")
        if not isinstance(self.ciphertext, bytes) or len(self.ciphertext) <= TAG_BYTES:
            raise CorruptRecordError("ciphertext is missing or too short")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict of every field (bytes as base64), for :meth:`from_dict`."""
        return {
            "format_version": self.format_version,
            "credential_id": self.credential_id,
            "tenant": self.tenant,
            "algorithm": str(self.algorithm),
            "public_key_der": _b64(self.public_key_der),
            "salt": _b64(self.salt),
            "kdf": {
                "time_cost": self.kdf.time_cost,
                "memory_cost_kib": self.kdf.memory_cost_kib,
                "parallelism": self.kdf.parallelism,
            },
            "pepper_fingerprint": _b64(self.pepper_fingerprint),
            "nonce": _b64(self.nonce),
            "ciphertext": _b64(self.ciphertext),
            "destroyed": self.destroyed,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CredentialRecord:
        """Rebuild a record from :meth:`to_dict` output.

        Raises :class:`~keiin.custody.errors.CorruptRecordError` for anything malformed.
        """
        try:
            kdf = data["kdf"]
            algorithm = KeyAlgorithm(data["algorithm"])
            record = cls(
                format_version=data["format_version"],
                credential_id=data["credential_id"],
                tenant=data["tenant"],
                algorithm=algorithm,
                public_key_der=_unb64(data["public_key_der"]),
                salt=_unb64(data["salt"]),
                kdf=KdfParams(
                    time_cost=kdf["time_cost"],
                    memory_cost_kib=kdf["memory_cost_kib"],
                    parallelism=kdf["parallelism"],
                ),
                pepper_fingerprint=_unb64(data["pepper_fingerprint"]),
                nonce=_unb64(data["nonce"]),
                ciphertext=_unb64(data["ciphertext"]),
                destroyed=data["destroyed"],
            )
        except (KeyError, TypeError, ValueError, binascii.Error) as exc:
            raise CorruptRecordError(f"malformed credential record: {exc!r}") from None
        record.check()
        return record


def check_label(name: str, value: str) -> None:
    """Raise ``TypeError``/``ValueError`` unless ``value`` is a usable tenant or credential id:
    a non-empty str of at most 255 characters that encodes to UTF-8."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, not {type(value).__name__}")
    if not 1 <= len(value) <= MAX_LABEL_CHARS:
        raise ValueError(f"{name} must have 1 to {MAX_LABEL_CHARS} characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{name} must be encodable as UTF-8") from None


def associated_data(record: CredentialRecord) -> bytes:
    """The AES-GCM associated data of ``record``: an unambiguous (length-prefixed) encoding of a
    label, the format version, tenant, credential id, algorithm and SHA-256 of the public key."""
    parts = (
        _AAD_LABEL,
        record.format_version.to_bytes(2, "big"),
        record.tenant.encode("utf-8"),
        record.credential_id.encode("utf-8"),
        str(record.algorithm).encode("utf-8"),
        record.public_key_sha256,
    )
    return b"".join(len(part).to_bytes(4, "big") + part for part in parts)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    if not isinstance(text, str):
        raise TypeError("expected base64 text")
    return base64.b64decode(text.encode("ascii"), validate=True)
