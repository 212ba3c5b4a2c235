"""An opened signer key, good for exactly one signature.

:func:`keiin.custody.credential.unlock` returns an :class:`UnlockedKey`. Use it as a context
manager and get one pyHanko signer from it::

    with unlock(record, pin, pepper=pepper, tenant=t, credential_id=c) as key:
        signer = key.signer(signing_cert, cert_registry)
        signed = signers.sign_pdf(writer, meta, signer=signer)

The signer produces one real signature (pyHanko's size-estimating dry runs do not count, and do not
touch the key); after that, or when the ``with`` block ends, the key material is dropped and any
further use raises :class:`~keiin.custody.errors.KeyAlreadyUsedError`.

About memory: Python cannot promise that no copy of the key survives in freed memory (the DER
bytes pass through immutable ``bytes`` objects in asn1crypto, pyHanko and OpenSSL). What this
module guarantees is that no reference to the key outlives its one use, and that the buffer the
plaintext was decrypted into is overwritten with zeros.
"""

from __future__ import annotations

import threading
from typing import Any

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509 as crypto_x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from pyhanko.sign.signers import SimpleSigner
from pyhanko_certvalidator.registry import CertificateStore, SimpleCertificateStore

from keiin.custody.errors import CertificateMismatchError, KeyAlreadyUsedError

CertificateLike = asn1_x509.Certificate | crypto_x509.Certificate | bytes


class OneShotSigner(SimpleSigner):
    """A pyHanko :class:`~pyhanko.sign.signers.SimpleSigner` that signs once, then forgets its key.

    Dry runs (pyHanko's signature-size estimates) return placeholder bytes of the largest size a
    signature by this key can have, without using the key.
    """

    def __init__(self, *args: Any, max_signature_bytes: int, **kwargs: Any) -> None:
        """Same arguments as ``SimpleSigner``, plus the placeholder size for dry runs."""
        super().__init__(*args, **kwargs)
        self._max_signature_bytes = max_signature_bytes
        self._spent = False
        self._lock = threading.Lock()

    @property
    def spent(self) -> bool:
        """Whether the signer has signed (or was revoked by its :class:`UnlockedKey` closing)."""
        return self._spent

    async def async_sign_raw(
        self, data: bytes, digest_algorithm: str, dry_run: bool = False
    ) -> bytes:
        """Sign ``data`` once; a dry run returns a placeholder without touching the key."""
        if dry_run:
            if self._spent:
                raise KeyAlreadyUsedError("this signer has already signed once")
            return b"\x00" * self._max_signature_bytes
        return self.sign_raw(data, digest_algorithm)

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        """Sign ``data`` with the key, then drop the key: a second call raises."""
        with self._lock:
            if self._spent:
                raise KeyAlreadyUsedError("this signer has already signed once")
            self._spent = True
        try:
            return super().sign_raw(data, digest_algorithm)
        finally:
            self.forget_key()

    def forget_key(self) -> None:
        """Drop the private key; the signer can no longer sign."""
        self._spent = True
        self.signing_key = None  # type: ignore[assignment]


class UnlockedKey:
    """The private key of one credential, opened by the PIN for one signature.

    Obtain it from :func:`keiin.custody.credential.unlock`; do not construct it directly.
    """

    def __init__(self, *, credential_id: str, pkcs8_der: bytearray, public_key_der: bytes) -> None:
        """Take ownership of the decrypted PKCS#8 buffer (it is zeroed by :meth:`close`)."""
        self._lock = threading.Lock()
        self._signer: OneShotSigner | None = None
        self._buffer: bytearray | None = pkcs8_der
        self._credential_id = credential_id
        self._public_key_der = public_key_der

    @property
    def credential_id(self) -> str:
        """The credential this key belongs to."""
        return self._credential_id

    @property
    def public_key_der(self) -> bytes:
        """The public key (DER SubjectPublicKeyInfo)."""
        return self._public_key_der

    @property
    def public_key(self) -> PublicKeyTypes:
        """The public key as a ``cryptography`` object."""
        return serialization.load_der_public_key(self._public_key_der)

    @property
    def closed(self) -> bool:
        """Whether the key material has been dropped."""
        return self._buffer is None

    def signer(
        self,
        signing_cert: CertificateLike,
        cert_registry: CertificateStore | None = None,
        *,
        embed_roots: bool = True,
    ) -> OneShotSigner:
        """A pyHanko signer for ``signing_cert`` that makes exactly one signature.

        ``signing_cert`` (asn1crypto or ``cryptography`` certificate, or DER bytes) must carry
        this credential's public key, else :class:`~keiin.custody.errors.CertificateMismatchError`.
        ``cert_registry`` holds the rest of the chain to embed (an empty store by default).
        Only one signer per unlock: a second call, or a call after :meth:`close`, raises
        :class:`~keiin.custody.errors.KeyAlreadyUsedError`.
        """
        cert = _as_asn1_certificate(signing_cert)
        cert_spki = serialization.load_der_public_key(cert.public_key.dump()).public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        if cert_spki != self._public_key_der:
            raise CertificateMismatchError(
                "the signing certificate is not for this credential's public key"
            )
        with self._lock:
            if self._buffer is None:
                raise KeyAlreadyUsedError("the unlocked key was closed")
            if self._signer is not None:
                raise KeyAlreadyUsedError("the unlocked key already gave out its one signer")
            key_info = asn1_keys.PrivateKeyInfo.load(bytes(self._buffer))
            self._signer = OneShotSigner(
                signing_cert=cert,
                signing_key=key_info,
                cert_registry=cert_registry
                if cert_registry is not None
                else SimpleCertificateStore(),
                embed_roots=embed_roots,
                max_signature_bytes=_max_signature_bytes(self.public_key),
            )
            return self._signer

    def close(self) -> None:
        """Zero the decrypted buffer and make the signer (if any) unable to sign. Idempotent."""
        with self._lock:
            buffer, self._buffer = self._buffer, None
            if buffer is not None:
                buffer[:] = bytes(len(buffer))
            if self._signer is not None:
                self._signer.forget_key()

    def __enter__(self) -> UnlockedKey:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<UnlockedKey {self._credential_id!r} {state}>"


def _as_asn1_certificate(cert: CertificateLike) -> asn1_x509.Certificate:
    if isinstance(cert, asn1_x509.Certificate):
        return cert
    if isinstance(cert, crypto_x509.Certificate):
        return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
    if isinstance(cert, bytes):
        return asn1_x509.Certificate.load(cert)
    raise TypeError(f"expected a certificate, not {type(cert).__name__}")


def _max_signature_bytes(public_key: PublicKeyTypes) -> int:
    """The largest raw signature the key can produce (RSA modulus size; DER ECDSA maximum)."""
    if isinstance(public_key, rsa.RSAPublicKey):
        return (public_key.key_size + 7) // 8
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        coordinate = (public_key.curve.key_size + 7) // 8
        return 2 + 2 * (2 + coordinate + 1)
    raise TypeError(f"unsupported key type {type(public_key).__name__}")
