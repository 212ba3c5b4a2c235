"""A counter shared by every worker process of one home: "revocation state changed".

Each worker caches pre-signed OCSP responses. When a certificate is revoked (by any process:
a web worker, ``keiin ca revoke``), the revoking process bumps this counter after its
transaction commits; every worker reads it on every OCSP request (an 8-byte read from a
shared memory map, well under a microsecond) and drops its cache when it moved. Several
machines need a shared channel instead (Redis, documented in docs/operations.md).
"""

from __future__ import annotations

import mmap
import os
import struct
from pathlib import Path

from keiin.flock import locked

_FMT = "<Q"
_SIZE = struct.calcsize(_FMT)


class Generation:
    """A 64-bit counter in a small file, read through ``mmap``."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            with locked(fd):
                if os.fstat(fd).st_size < _SIZE:
                    os.pwrite(fd, b"\0" * _SIZE, 0)
            self._map = mmap.mmap(fd, _SIZE, access=mmap.ACCESS_READ)
        finally:
            os.close(fd)
        self.path = path

    def value(self) -> int:
        """The current generation."""
        return struct.unpack_from(_FMT, self._map)[0]

    def bump(self) -> int:
        """Increment the generation (atomically across processes) and return the new value."""
        fd = os.open(self.path, os.O_RDWR)
        try:
            with locked(fd):
                (current,) = struct.unpack(_FMT, os.pread(fd, _SIZE, 0))
                new = current + 1
                os.pwrite(fd, struct.pack(_FMT, new), 0)
                os.fsync(fd)
            return new
        finally:
            os.close(fd)
