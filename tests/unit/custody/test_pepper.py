"""The file pepper: created 0600 with O_EXCL, refused when group or others may touch it."""

from __future__ import annotations

import hashlib
import hmac
import os
import stat

import pytest

from keiin.custody import FilePepper, InsecurePepperError, Pepper, PepperUnavailableError
from keiin.custody.pepper import pepper_fingerprint


def test_create_writes_32_random_bytes_with_mode_0600(tmp_path):
    old_umask = os.umask(0)  # a permissive umask must not widen the file's mode
    try:
        pepper = FilePepper.create(tmp_path / "pepper")
    finally:
        os.umask(old_umask)
    info = os.stat(tmp_path / "pepper")
    assert stat.S_IMODE(info.st_mode) == 0o600
    secret = (tmp_path / "pepper").read_bytes()
    assert len(secret) == 32
    assert pepper.mac(b"data") == hmac.new(secret, b"data", hashlib.sha256).digest()
    assert isinstance(pepper, Pepper)
    assert secret.hex() not in repr(pepper)


def test_two_peppers_differ(tmp_path):
    a = FilePepper.create(tmp_path / "a")
    b = FilePepper.create(tmp_path / "b")
    assert (tmp_path / "a").read_bytes() != (tmp_path / "b").read_bytes()
    assert pepper_fingerprint(a) != pepper_fingerprint(b)


def test_create_never_overwrites(tmp_path):
    path = tmp_path / "pepper"
    FilePepper.create(path)
    before = path.read_bytes()
    with pytest.raises(FileExistsError):
        FilePepper.create(path)
    assert path.read_bytes() == before


def test_create_does_not_follow_a_symlink(tmp_path):
    target = tmp_path / "elsewhere"
    (tmp_path / "pepper").symlink_to(target)
    with pytest.raises(FileExistsError):
        FilePepper.create(tmp_path / "pepper")
    assert not target.exists()


def test_load_or_create_creates_once_then_loads_the_same(tmp_path):
    path = tmp_path / "pepper"
    first = FilePepper.load_or_create(path)
    second = FilePepper.load_or_create(path)
    assert first.mac(b"x") == second.mac(b"x") == FilePepper.load(path).mac(b"x")


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o620, 0o602, 0o644, 0o660, 0o610, 0o601])
def test_load_refuses_group_or_other_permissions(tmp_path, mode):
    path = tmp_path / "pepper"
    FilePepper.create(path)
    path.chmod(mode)
    with pytest.raises(InsecurePepperError, match="chmod 600"):
        FilePepper.load(path)


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_load_accepts_owner_only_modes(tmp_path, mode):
    path = tmp_path / "pepper"
    created = FilePepper.create(path)
    path.chmod(mode)
    assert FilePepper.load(path).mac(b"x") == created.mac(b"x")


@pytest.mark.parametrize("size", [0, 16, 31, 33, 64])
def test_load_refuses_a_file_of_the_wrong_size(tmp_path, size):
    path = tmp_path / "pepper"
    path.write_bytes(b"\x07" * size)
    path.chmod(0o600)
    with pytest.raises(PepperUnavailableError, match="exactly 32 bytes"):
        FilePepper.load(path)


def test_load_refuses_missing_file_directory_and_symlink(tmp_path):
    with pytest.raises(PepperUnavailableError, match="does not exist"):
        FilePepper.load(tmp_path / "missing")
    (tmp_path / "dir").mkdir(mode=0o700)
    with pytest.raises(PepperUnavailableError):
        FilePepper.load(tmp_path / "dir")
    FilePepper.create(tmp_path / "real")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(PepperUnavailableError):
        FilePepper.load(tmp_path / "link")


def test_in_memory_pepper_must_be_32_bytes():
    with pytest.raises(ValueError):
        FilePepper(b"short")
