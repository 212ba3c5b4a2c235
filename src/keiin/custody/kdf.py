"""From PIN to wrapping key: Argon2id, then the server pepper, then HKDF.

::

    stretched    = Argon2id(PIN, salt; time_cost, memory_cost, parallelism) -> 32 bytes
    peppered     = HMAC-SHA256(server pepper, stretched)      # inside the HSM with PKCS#11
    wrapping_key = HKDF-SHA256(peppered, salt=none,
                               info=b"keiin custody v1" + credential id (UTF-8)) -> 32 bytes

The Argon2id parameters are stored with each credential (:class:`KdfParams`), so the defaults can
be raised later and older credentials still open with the parameters they were made with.
:data:`DEFAULT_KDF` is the production default; tests pass small parameters explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass

from argon2.low_level import Type, hash_secret_raw
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from keiin.custody.pepper import Pepper
from keiin.custody.pin_policy import normalize_pin

SALT_BYTES = 16
STRETCHED_BYTES = 32
WRAPPING_KEY_BYTES = 32  # AES-256
HKDF_INFO_PREFIX = b"keiin custody v1"

# Bounds on stored parameters. They let the defaults grow a lot while refusing a record whose
# parameters were altered to make one unlock attempt exhaust the machine's time or memory.
MAX_TIME_COST = 64
MAX_MEMORY_COST_KIB = 2 * 1024 * 1024  # 2 GiB
MAX_PARALLELISM = 16


@dataclass(frozen=True, slots=True)
class KdfParams:
    """Argon2id cost parameters (RFC 9106), stored with every credential.

    ``memory_cost_kib`` is in KiB, as in Argon2 itself (65536 = 64 MiB).
    """

    time_cost: int = 3
    memory_cost_kib: int = 64 * 1024
    parallelism: int = 1

    def check(self) -> None:
        """Raise ``ValueError`` unless the parameters are integers within the accepted bounds."""
        for name in ("time_cost", "memory_cost_kib", "parallelism"):
            value = getattr(self, name)
            if type(value) is not int:
                raise ValueError(f"KDF {name} must be an int, not {type(value).__name__}")
        if not 1 <= self.parallelism <= MAX_PARALLELISM:
            raise ValueError(f"KDF parallelism must be between 1 and {MAX_PARALLELISM}")
        if not 1 <= self.time_cost <= MAX_TIME_COST:
            raise ValueError(f"KDF time_cost must be between 1 and {MAX_TIME_COST}")
        if not 8 * self.parallelism <= self.memory_cost_kib <= MAX_MEMORY_COST_KIB:
            raise ValueError(
                f"KDF memory_cost_kib must be between 8 × parallelism and {MAX_MEMORY_COST_KIB}"
            )


DEFAULT_KDF = KdfParams()
"""Argon2id with 3 passes over 64 MiB, one lane (RFC 9106's second recommended option)."""


def stretch_pin(pin: str, salt: bytes, params: KdfParams) -> bytes:
    """Argon2id of the normalised PIN (UTF-8) with ``salt``: the slow, salted step."""
    params.check()
    secret = normalize_pin(pin).encode("utf-8", "surrogatepass")
    return hash_secret_raw(
        secret=secret,
        salt=salt,
        time_cost=params.time_cost,
        memory_cost=params.memory_cost_kib,
        parallelism=params.parallelism,
        hash_len=STRETCHED_BYTES,
        type=Type.ID,
    )


def hkdf_info(credential_id: str) -> bytes:
    """The HKDF ``info``: ``b"keiin custody v1"`` followed by the credential id in UTF-8."""
    return HKDF_INFO_PREFIX + credential_id.encode("utf-8")


def derive_wrapping_key(
    pin: str, *, salt: bytes, params: KdfParams, pepper: Pepper, credential_id: str
) -> bytes:
    """The AES-256 key that wraps the credential's private key (see the module docstring)."""
    stretched = stretch_pin(pin, salt, params)
    peppered = pepper.mac(stretched)
    return HKDF(
        algorithm=hashes.SHA256(),
        length=WRAPPING_KEY_BYTES,
        salt=None,
        info=hkdf_info(credential_id),
    ).derive(peppered)
