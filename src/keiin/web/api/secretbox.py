"""Webhook signing secrets at rest: AES-256-GCM under a key kept outside the database.

A webhook secret cannot be stored as a hash (each delivery is signed with it), so it is
encrypted under ``HOME/secrets/webhooks.key`` (32 random bytes, created on first use) with a
random 96-bit nonce, the webhook's ``uid`` bound in as associated data: a database dump alone
reveals no secret, and a ciphertext copied to another webhook does not decrypt.
"""

from __future__ import annotations

import base64
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

_VERSION = "v1"
_AAD = b"keiin-webhook-secret-v1:"


class SecretBoxError(Exception):
    """A stored secret could not be decrypted (tampered, or the key file was replaced)."""


def _key() -> bytes:
    return settings.HOME.secret("webhooks.key", 32)


def seal(secret: str, uid: str) -> str:
    """``secret`` encrypted for the webhook ``uid`` (text: ``v1:<base64 nonce+ciphertext>``)."""
    nonce = secrets.token_bytes(12)
    sealed = AESGCM(_key()).encrypt(nonce, secret.encode(), _AAD + uid.encode())
    return f"{_VERSION}:{base64.b64encode(nonce + sealed).decode()}"


def open_sealed(text: str, uid: str) -> str:
    """The secret :func:`seal` encrypted for ``uid``; :class:`SecretBoxError` if it cannot."""
    version, _, payload = text.partition(":")
    if version != _VERSION:
        raise SecretBoxError("unknown secret format")
    try:
        raw = base64.b64decode(payload, validate=True)
        plain = AESGCM(_key()).decrypt(raw[:12], raw[12:], _AAD + uid.encode())
    except (ValueError, InvalidTag):
        raise SecretBoxError("the webhook secret cannot be decrypted") from None
    return plain.decode()
