"""Token serial numbers: unpredictable 127-bit values that are unique by construction.

RFC 3161 asks for serial numbers unique per TSA; Keiin's issue asks for 128-bit random ones,
unique in the issuance log. Drawing random numbers and relying on a unique index for the
second property is what we did first, and that index is the most expensive part of the log:
every row lands on a random B-tree page (≈ one 4 KiB page written per token, twice with the
WAL checkpoint).

Here a serial is instead a keyed pseudorandom *permutation* of a sequence number:
``serial = P_k(sequence)`` where ``P_k`` is AES-256 restricted to ``[0, 2**127)`` by cycle
walking (encrypt again until the value fits; the result is again a permutation, Black &
Rogaway 2002). Consequences:

- distinct sequence numbers give distinct serials — uniqueness needs no index and no check;
- without the key the serials are indistinguishable from random 127-bit numbers (AES as a PRP),
  so they reveal neither the volume of issuance nor the next value;
- the log can key its rows by the sequence number, which only ever grows: inserts append to
  the right edge of the B-tree. ``sequence_of(serial)`` inverts the permutation to find a
  token's row from its serial.

Sequence numbers come in blocks (:class:`SequenceBlock`): a worker reserves a block number
from the database once, then counts within it without coordination. A block left half used
by a restart is simply abandoned. Serials below ``2**64`` (probability ``2**-63`` per token)
are skipped, as :func:`keiin.pki.serials.random_serial` does for certificates, so every serial
has at least 64 significant bits.

One ECB block encryption costs about a microsecond; cycle walking needs two on average.
"""

from __future__ import annotations

import threading

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

SERIAL_BITS = 127
_DOMAIN = 1 << SERIAL_BITS
_MIN_SERIAL = 1 << 64
#: Sequence numbers per block: block ``b`` owns ``[b * BLOCK_SIZE, (b + 1) * BLOCK_SIZE)``.
BLOCK_SIZE = 1 << 24


class SerialCipher:
    """The permutation ``P_k`` on ``[0, 2**127)`` and its inverse (see module docstring)."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("the serial key must be 32 bytes (AES-256)")
        cipher = Cipher(algorithms.AES(key), modes.ECB())  # noqa: S305 - one block, a PRP
        # ECB contexts are stateless between blocks: one context each, reused (thread-safe
        # under a lock; the GIL alone does not promise that of a C object).
        self._encrypt = cipher.encryptor().update
        self._decrypt = cipher.decryptor().update
        self._lock = threading.Lock()

    def serial(self, sequence: int) -> int:
        """``P_k(sequence)``: the serial for ``sequence`` (``0 <= sequence < 2**127``)."""
        if not 0 <= sequence < _DOMAIN:
            raise ValueError("sequence numbers are 127-bit non-negative integers")
        return self._walk(sequence, self._encrypt)

    def sequence_of(self, serial: int) -> int:
        """The inverse: the sequence number whose serial is ``serial``."""
        if not 0 <= serial < _DOMAIN:
            raise ValueError("not a serial of this cipher (127-bit non-negative integers)")
        return self._walk(serial, self._decrypt)

    def _walk(self, value: int, step: object) -> int:
        with self._lock:
            while True:
                value = int.from_bytes(step(value.to_bytes(16, "big")), "big")  # type: ignore[operator]
                if value < _DOMAIN:
                    return value


class SequenceBlock:
    """Serials from one reserved block of sequence numbers, in order. Thread-safe.

    ``next()`` returns ``(sequence, serial)`` and raises :class:`BlockExhaustedError` when the
    block is used up (the caller reserves a new one).
    """

    def __init__(self, cipher: SerialCipher, block: int, *, size: int = BLOCK_SIZE) -> None:
        if block < 1 or (block + 1) * size > _DOMAIN:
            raise ValueError("block numbers start at 1 and must keep sequences below 2**127")
        self.block = block
        self._cipher = cipher
        self._next = block * size
        self._end = (block + 1) * size
        self._lock = threading.Lock()

    @property
    def remaining(self) -> int:
        """Sequence numbers left in this block."""
        return self._end - self._next

    def next(self) -> tuple[int, int]:
        """The next ``(sequence, serial)``, skipping the rare serial below ``2**64``."""
        with self._lock:
            while self._next < self._end:
                sequence = self._next
                self._next += 1
                serial = self._cipher.serial(sequence)
                if serial >= _MIN_SERIAL:
                    return sequence, serial
        raise BlockExhaustedError(f"sequence block {self.block} is used up")


class BlockExhaustedError(Exception):
    """A :class:`SequenceBlock` has no sequence numbers left."""
