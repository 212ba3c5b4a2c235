"""Test setup for code that creates signatory credentials (``keiin.web.credentials``).

Argon2id with small parameters (set through the documented settings, not a patch) and a
pepper file of the test's own, forgotten before and after.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from keiin.web.credentials.pepper import reset_pepper


def use_fast_custody(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """Small Argon2 parameters and a fresh pepper file under ``folder``."""
    monkeypatch.setenv("KEIIN_CUSTODY_ARGON2_TIME", "1")
    monkeypatch.setenv("KEIIN_CUSTODY_ARGON2_MEMORY_KIB", "1024")
    monkeypatch.setenv("KEIIN_CUSTODY_PEPPER_FILE", str(folder / "pepper"))
    reset_pepper()


@pytest.fixture
def fast_custody(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """:func:`use_fast_custody` for one test; the opened pepper is forgotten afterwards."""
    use_fast_custody(monkeypatch, tmp_path)
    yield
    reset_pepper()
