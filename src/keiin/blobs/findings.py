"""What :meth:`~keiin.blobs.store.BlobStore.scrub` reports."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path


class FindingKind(enum.StrEnum):
    """The kinds of problem a scrub can find."""

    #: The content's SHA-256 differs from the blob's name.
    MISMATCH = "mismatch"
    #: A blob file or fan-out folder has the wrong permission bits.
    BAD_MODE = "bad_mode"
    #: A file or folder inside the ``sha256`` tree whose name is not a valid name at that level.
    BAD_NAME = "bad_name"
    #: A valid blob name stored under the wrong fan-out folders.
    MISPLACED = "misplaced"
    #: Not a regular file (or folder) where one was expected, e.g. a symbolic link.
    NOT_REGULAR = "not_regular"
    #: A temporary file older than the stray age (a crash between write and link).
    STRAY_TEMP = "stray_temp"
    #: A stray temporary file that the scrub removed (``clean_temp_older_than``).
    TEMP_REMOVED = "temp_removed"
    #: The file could not be read or inspected.
    UNREADABLE = "unreadable"


@dataclass(frozen=True, slots=True)
class ScrubFinding:
    """One problem found by a scrub.

    ``sha256_hex`` is the blob's name when the finding concerns a validly named blob,
    else ``None``.
    """

    kind: FindingKind
    path: Path
    detail: str
    sha256_hex: str | None = None
