"""An exclusive ``flock`` on an open file, as a context manager (shared-file writers)."""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator


@contextlib.contextmanager
def locked(fd: int) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``fd`` for the ``with`` block."""
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
