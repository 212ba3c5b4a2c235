"""Blob names are validated strictly: no name can lead outside the store's root."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keiin.blobs import (
    BlobNotFoundError,
    BlobStore,
    InvalidBlobNameError,
    is_sha256_hex,
    validate_sha256_hex,
)

HEX64 = re.compile(r"[0-9a-f]{64}")
VALID = hashlib.sha256(b"x").hexdigest()

BAD_NAMES = [
    "",
    "../" * 30,
    "../../etc/passwd",
    "/etc/passwd",
    VALID.upper(),
    VALID[:63],
    VALID + "0",
    VALID + "\n",
    "\n" + VALID,
    VALID[:62] + "/.",
    VALID[:63] + "\x00",
    VALID[:63] + "g",
    "０" * 64,  # full-width digits
    "٠" * 64,  # Arabic-Indic digits
    " " + VALID[1:],
]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_names_refused_everywhere(tmp_path: Path, name: str):
    store = BlobStore(tmp_path)
    assert not is_sha256_hex(name)
    with pytest.raises(InvalidBlobNameError):
        validate_sha256_hex(name)
    for call in (store.location, store.exists, store.open, store.path, store.size, store.verify):
        with pytest.raises(ValueError):
            call(name)
    with pytest.raises(ValueError):
        store.remove_expired(name, allowed=True)


@pytest.mark.parametrize("name", [None, 123, b"0" * 64, Path("0" * 64)])
def test_non_strings_refused(name: object):
    with pytest.raises(ValueError):
        validate_sha256_hex(name)


def _check(store: BlobStore, name: str) -> None:
    try:
        location = store.location(name)
    except ValueError:
        assert HEX64.fullmatch(name) is None
        for call in (store.exists, store.open, store.size):
            with pytest.raises(ValueError):
                call(name)
        return
    assert HEX64.fullmatch(name) is not None
    assert location.resolve().is_relative_to(store.root.resolve())
    assert location == store.root / "sha256" / name[:2] / name[2:4] / name
    assert not store.exists(name)
    with pytest.raises(BlobNotFoundError):
        store.open(name)


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.text())
def test_arbitrary_strings_are_hex_or_value_error(tmp_path: Path, name: str):
    _check(BlobStore(tmp_path / "root"), name)


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.text(alphabet="0123456789abcdefABCDEF./\\\x00\n", min_size=60, max_size=68))
def test_near_hex_strings_are_hex_or_value_error(tmp_path: Path, name: str):
    _check(BlobStore(tmp_path / "root"), name)


@settings(max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(digest=st.binary(min_size=32, max_size=32))
def test_every_digest_is_a_valid_name(tmp_path: Path, digest: bytes):
    _check(BlobStore(tmp_path / "root"), digest.hex())
