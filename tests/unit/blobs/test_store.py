"""The write-once, content-addressed blob store."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import subprocess
import sys
import textwrap
import time
import tracemalloc
from pathlib import Path

import pytest

from keiin.blobs import (
    BlobIntegrityError,
    BlobNotFoundError,
    BlobRef,
    BlobStore,
    BlobTooLargeError,
    FindingKind,
    RetentionNotAllowedError,
)

MiB = 1 << 20


@pytest.fixture
def store(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "store")


def blob_files(store: BlobStore) -> list[Path]:
    return sorted(p for p in (store.root / "sha256").rglob("*") if p.is_file())


def temp_files(store: BlobStore) -> list[Path]:
    tmp = store.root / "tmp"
    return sorted(tmp.iterdir()) if tmp.is_dir() else []


class GeneratedStream(io.RawIOBase):
    """``total`` deterministic bytes, produced on the fly (never held in memory)."""

    def __init__(self, total: int, seed: bytes = b"keiin") -> None:
        self._remaining = total
        self._pattern = memoryview(
            b"".join(hashlib.sha256(seed + i.to_bytes(4, "big")).digest() for i in range(2053))
        )
        self._pos = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        target = memoryview(buffer).cast("B")
        n = min(target.nbytes, self._remaining)
        filled = 0
        while filled < n:
            take = min(n - filled, len(self._pattern) - self._pos)
            target[filled : filled + take] = self._pattern[self._pos : self._pos + take]
            filled += take
            self._pos = (self._pos + take) % len(self._pattern)
        self._remaining -= n
        return n


def sha256_of_stream(stream: io.RawIOBase) -> tuple[str, int]:
    hasher = hashlib.sha256()
    size = 0
    buffer = bytearray(MiB)
    while got := stream.readinto(buffer):
        hasher.update(memoryview(buffer)[:got])
        size += got
    return hasher.hexdigest(), size


# -- round trip ------------------------------------------------------------------------------


def test_round_trip(store: BlobStore):
    data = b"%PDF-1.7\n" + os.urandom(3 * MiB + 17)
    ref = store.put_stream(io.BytesIO(data))
    assert ref == BlobRef(hashlib.sha256(data).hexdigest(), len(data))
    assert store.exists(ref.sha256_hex)
    assert store.size(ref.sha256_hex) == len(data)
    with store.open(ref.sha256_hex) as stream:
        assert stream.read() == data
    path = store.path(ref.sha256_hex)
    assert path.read_bytes() == data
    h = ref.sha256_hex
    assert path == store.root / "sha256" / h[:2] / h[2:4] / h
    assert store.verify(ref.sha256_hex)
    assert list(store.scrub()) == []
    assert temp_files(store) == []


def test_put_bytes_and_empty_blob(store: BlobStore):
    ref = store.put_bytes(b"")
    assert ref == BlobRef(hashlib.sha256(b"").hexdigest(), 0)
    with store.open(ref.sha256_hex) as stream:
        assert stream.read() == b""
    assert store.put_bytes(bytearray(b"abc")) == store.put_stream(io.BytesIO(b"abc"))


def test_reader_without_readinto(store: BlobStore):
    class ReadOnly:
        def __init__(self, data: bytes) -> None:
            self._stream = io.BytesIO(data)

        def read(self, n: int = -1) -> bytes:
            return self._stream.read(min(n, 1000))  # short reads

    data = os.urandom(10_000)
    ref = store.put_stream(ReadOnly(data))
    assert store.path(ref.sha256_hex).read_bytes() == data


def test_missing_blob(store: BlobStore):
    missing = "0" * 64
    assert not store.exists(missing)
    for call in (store.open, store.path, store.size, store.verify):
        with pytest.raises(BlobNotFoundError):
            call(missing)
    assert list(store.scrub()) == []


# -- dedup and write-once -----------------------------------------------------------------------


def test_dedup_same_content_twice(store: BlobStore):
    data = os.urandom(100_000)
    first = store.put_stream(io.BytesIO(data))
    inode = os.stat(store.path(first.sha256_hex)).st_ino
    second = store.put_stream(io.BytesIO(data))
    third = store.put_bytes(data)
    assert first == second == third
    files = blob_files(store)
    assert files == [store.path(first.sha256_hex)]
    st = os.stat(files[0])
    assert st.st_ino == inode  # never replaced
    assert st.st_nlink == 1  # the temporary link was dropped
    assert temp_files(store) == []


def test_new_version_is_a_new_blob(store: BlobStore):
    original = b"%PDF-1.7 original\n%%EOF\n"
    renewed = original + b"incremental update\n%%EOF\n"
    a = store.put_bytes(original)
    b = store.put_bytes(renewed)
    assert a != b
    assert store.path(a.sha256_hex).read_bytes() == original
    assert store.path(b.sha256_hex).read_bytes() == renewed


def test_existing_truncated_blob_is_not_overwritten(store: BlobStore):
    data = b"x" * 1000
    ref = store.put_bytes(data)
    path = store.path(ref.sha256_hex)
    path.chmod(0o640)
    path.write_bytes(data[:10])
    path.chmod(0o440)
    with pytest.raises(BlobIntegrityError):
        store.put_stream(io.BytesIO(data))
    assert path.read_bytes() == data[:10]
    assert temp_files(store) == []


def test_files_are_read_only_and_folders_0750(tmp_path: Path):
    old = os.umask(0o077)  # the store's modes must not depend on the umask
    try:
        store = BlobStore(tmp_path / "s")
        ref = store.put_bytes(b"contract")
    finally:
        os.umask(old)
    path = store.path(ref.sha256_hex)
    assert stat.S_IMODE(path.stat().st_mode) == 0o440
    for folder in (path.parent, path.parent.parent, store.root / "sha256", store.root / "tmp"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o750, folder
    if os.geteuid() != 0:  # root ignores permission bits
        with pytest.raises(PermissionError):
            path.open("r+b")


def test_no_delete_api_besides_remove_expired(store: BlobStore):
    public = {n for n in dir(store) if not n.startswith("_")}
    assert not public & {"delete", "remove", "unlink", "overwrite", "put_at"}
    assert {n for n in public if "remove" in n or "delete" in n} == {"remove_expired"}


def test_remove_expired_needs_allowed_true(store: BlobStore):
    ref = store.put_bytes(b"expired contract")
    for allowed in (False, None, 1, "yes"):
        with pytest.raises(RetentionNotAllowedError):
            store.remove_expired(ref.sha256_hex, allowed=allowed)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        store.remove_expired(ref.sha256_hex, True)  # type: ignore[misc]
    assert store.exists(ref.sha256_hex)
    store.remove_expired(ref.sha256_hex, allowed=True)
    assert not store.exists(ref.sha256_hex)
    with pytest.raises(BlobNotFoundError):
        store.remove_expired(ref.sha256_hex, allowed=True)


# -- streaming and limits ----------------------------------------------------------------------


def test_50_mb_stream_uses_bounded_memory(store: BlobStore):
    total = 50 * MiB
    expected = sha256_of_stream(GeneratedStream(total))
    tracemalloc.start()
    try:
        ref = store.put_stream(GeneratedStream(total))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (ref.sha256_hex, ref.size) == expected
    assert peak < 8 * MiB, f"peak Python memory {peak} bytes"
    tracemalloc.start()
    try:
        assert store.verify(ref.sha256_hex)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * MiB, f"peak Python memory while verifying {peak} bytes"


def test_max_bytes_exceeded_leaves_nothing(store: BlobStore):
    data = os.urandom(3 * MiB)
    with pytest.raises(BlobTooLargeError) as excinfo:
        store.put_stream(io.BytesIO(data), max_bytes=len(data) - 1)
    assert excinfo.value.max_bytes == len(data) - 1
    assert blob_files(store) == []
    assert temp_files(store) == []
    assert not store.exists(hashlib.sha256(data).hexdigest())


def test_max_bytes_stops_reading_early(store: BlobStore):
    stream = GeneratedStream(100 * MiB)
    with pytest.raises(BlobTooLargeError):
        store.put_stream(stream, max_bytes=10)
    assert stream._remaining == 100 * MiB - 11  # read one byte past the limit, no more


def test_max_bytes_exact_limit_is_allowed(store: BlobStore):
    data = os.urandom(2 * MiB)
    assert store.put_stream(io.BytesIO(data), max_bytes=len(data)).size == len(data)
    assert store.put_stream(io.BytesIO(b""), max_bytes=0).size == 0
    with pytest.raises(ValueError):
        store.put_stream(io.BytesIO(b""), max_bytes=-1)


def test_failing_reader_leaves_nothing(store: BlobStore):
    class Broken(io.RawIOBase):
        def __init__(self) -> None:
            self.calls = 0

        def readable(self) -> bool:
            return True

        def readinto(self, buffer) -> int:  # type: ignore[override]
            self.calls += 1
            if self.calls > 2:
                raise OSError("connection reset")
            buffer[:10] = b"0123456789"
            return 10

    with pytest.raises(OSError, match="connection reset"):
        store.put_stream(Broken())
    assert blob_files(store) == []
    assert temp_files(store) == []


# -- integrity -----------------------------------------------------------------------------


def flip_a_byte(path: Path, offset: int = 5) -> None:
    path.chmod(0o640)
    with path.open("r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0x01]))
    path.chmod(0o440)


def test_corrupted_blob_found_by_verify_and_scrub(store: BlobStore):
    good = store.put_bytes(b"good contract")
    bad = store.put_bytes(b"contract that will rot on disk")
    flip_a_byte(store.path(bad.sha256_hex))
    assert store.verify(good.sha256_hex)
    assert not store.verify(bad.sha256_hex)
    findings = list(store.scrub())
    assert [(f.kind, f.sha256_hex) for f in findings] == [(FindingKind.MISMATCH, bad.sha256_hex)]
    assert findings[0].path == store.path(bad.sha256_hex)
    assert list(store.scrub(verify_content=False)) == []


def test_scrub_reports_wrong_permissions(store: BlobStore):
    ref = store.put_bytes(b"contract")
    path = store.path(ref.sha256_hex)
    path.chmod(0o644)
    path.parent.chmod(0o777)
    kinds = {(f.kind, f.path) for f in store.scrub()}
    assert kinds == {(FindingKind.BAD_MODE, path), (FindingKind.BAD_MODE, path.parent)}


def test_scrub_reports_bad_names_misplaced_and_symlinks(store: BlobStore, tmp_path: Path):
    ref = store.put_bytes(b"contract")
    path = store.path(ref.sha256_hex)
    (path.parent / "not-hex").write_bytes(b"x")
    (path.parent / ref.sha256_hex.upper()).write_bytes(b"x")
    stray_dir = store.root / "sha256" / "zz"
    stray_dir.mkdir(mode=0o750)
    other = hashlib.sha256(b"elsewhere").hexdigest()
    misplaced_dir = store.root / "sha256" / "00" / "00"
    misplaced_dir.mkdir(parents=True, mode=0o750)
    (store.root / "sha256" / "00").chmod(0o750)
    misplaced_dir.chmod(0o750)
    misplaced = misplaced_dir / other
    misplaced.write_bytes(b"elsewhere")
    misplaced.chmod(0o440)
    outside = tmp_path / "outside"
    outside.write_bytes(b"y")
    link_name = hashlib.sha256(b"y").hexdigest()
    link = path.parent / link_name
    link.symlink_to(outside)
    found = {(f.kind, f.path.name) for f in store.scrub()}
    assert found == {
        (FindingKind.BAD_NAME, "not-hex"),
        (FindingKind.BAD_NAME, ref.sha256_hex.upper()),
        (FindingKind.BAD_NAME, "zz"),
        (FindingKind.MISPLACED, other),
        (FindingKind.NOT_REGULAR, link_name),
    }
    assert not store.exists(link_name)  # symlinks are not blobs


def test_stray_temp_reported_and_cleaned(store: BlobStore):
    store.put_bytes(b"contract")
    stale = store.root / "tmp" / "put-crashed.tmp"
    stale.write_bytes(b"half an upload")
    fresh = store.root / "tmp" / "put-in-progress.tmp"
    fresh.write_bytes(b"an upload in progress")
    old = time.time() - 7200
    os.utime(stale, (old, old))
    assert [(f.kind, f.path) for f in store.scrub()] == [(FindingKind.STRAY_TEMP, stale)]
    assert stale.exists()  # reporting does not remove
    findings = list(store.scrub(clean_temp_older_than=600))
    assert [(f.kind, f.path) for f in findings] == [(FindingKind.TEMP_REMOVED, stale)]
    assert not stale.exists()
    assert fresh.exists()  # younger than the age: an upload in progress is left alone
    assert list(store.scrub(now=time.time() + 10)) == []
    findings = list(store.scrub(clean_temp_older_than=0, now=time.time() + 10))
    assert [(f.kind, f.path) for f in findings] == [(FindingKind.TEMP_REMOVED, fresh)]


def test_crash_between_write_and_link_leaves_only_a_temp_file(store: BlobStore):
    data = b"contract being stored when the power failed"
    code = textwrap.dedent(
        f"""
        import io, os, sys
        from keiin.blobs import store as module
        def crash(*args, **kwargs):
            os._exit(42)
        module.os.link = crash
        module.BlobStore({str(store.root)!r}).put_stream(io.BytesIO({data!r}))
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert result.returncode == 42, result.stderr
    name = hashlib.sha256(data).hexdigest()
    assert not store.exists(name)
    temps = temp_files(store)
    assert len(temps) == 1
    assert temps[0].read_bytes() == data
    assert blob_files(store) == []
    # the next attempt succeeds regardless of the leftover
    assert store.put_bytes(data).sha256_hex == name
    later = time.time() + 7200
    findings = list(store.scrub(now=later))
    assert [(f.kind, f.path) for f in findings] == [(FindingKind.STRAY_TEMP, temps[0])]
    findings = list(store.scrub(clean_temp_older_than=3600, now=later))
    assert [(f.kind, f.path) for f in findings] == [(FindingKind.TEMP_REMOVED, temps[0])]
    assert temp_files(store) == []
    assert store.verify(name)


def test_scrub_on_an_empty_root(tmp_path: Path):
    assert list(BlobStore(tmp_path / "nothing-yet").scrub()) == []
    assert not (tmp_path / "nothing-yet").exists()
