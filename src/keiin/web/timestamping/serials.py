"""Token serial numbers for this process: sequence blocks reserved in the database.

See :mod:`keiin.tsa.serials` for why a serial is a keyed permutation of a sequence number.
The key is ``HOME/secrets/tsa-serial.key`` (created on first use). Losing it loses nothing
but speed: :func:`find_token` falls back to a scan of ``serial_hex``.
"""

from __future__ import annotations

import os
import threading

from django.conf import settings

from keiin.pki.serials import serial_to_hex
from keiin.tsa.serials import BlockExhaustedError, SequenceBlock, SerialCipher
from keiin.web.timestamping.models import IssuedToken, TsaSerialBlock

_KEY_NAME = "tsa-serial.key"


class TokenSerials:
    """``(sequence, serial)`` pairs for one process. Thread-safe.

    :meth:`try_next` never touches the database (the event loop's path); when it returns
    None, :meth:`refill` (blocking: run it in a thread from async code) reserves a new block.
    The block belongs to one process: a forked child reserves its own.
    """

    def __init__(self, cipher: SerialCipher) -> None:
        self.cipher = cipher
        self._block: SequenceBlock | None = None
        self._pid = os.getpid()
        self._lock = threading.Lock()

    def try_next(self) -> tuple[int, int] | None:
        """The next pair from the current block, or None if a block must be reserved."""
        block = self._block
        if block is None or self._pid != os.getpid():
            return None
        try:
            return block.next()
        except BlockExhaustedError:
            return None

    def refill(self) -> None:
        """Reserve a new block unless the current one still has numbers (blocking)."""
        with self._lock:
            block = self._block
            if block is not None and self._pid == os.getpid() and block.remaining:
                return
            row = TsaSerialBlock.objects.create(pid=os.getpid())
            self._block, self._pid = SequenceBlock(self.cipher, row.pk), os.getpid()

    def next(self) -> tuple[int, int]:
        """The next pair, reserving a block if needed (blocking; for synchronous callers)."""
        while True:
            pair = self.try_next()
            if pair is not None:
                return pair
            self.refill()


_serials: TokenSerials | None = None
_serials_lock = threading.Lock()


def serial_cipher() -> SerialCipher:
    """The permutation of this home (its key is created on first use)."""
    return token_serials().cipher


def token_serials() -> TokenSerials:
    """The process-wide :class:`TokenSerials`."""
    global _serials
    with _serials_lock:
        if _serials is None:
            _serials = TokenSerials(SerialCipher(settings.HOME.secret(_KEY_NAME)))
        return _serials


def find_token(serial: int) -> IssuedToken | None:
    """The issuance-log row of the token with ``serial``, or None."""
    hex_serial = serial_to_hex(serial)
    try:
        sequence = serial_cipher().sequence_of(serial)
    except ValueError:  # wider than any serial we make: only an old row could have it
        sequence = None
    if sequence is not None:
        row = IssuedToken.objects.filter(pk=sequence).first()
        if row is not None and row.serial_hex == hex_serial:
            return row
    # Rows written before sequence keys (or under another serial key): unindexed scan.
    return IssuedToken.objects.filter(serial_hex=hex_serial).first()
