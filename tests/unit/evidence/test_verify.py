"""keiin.evidence: a record for one original out of 100,000 verifies with a real Keiin TSA
token, and fails, with the step named, on any change to the document, the path, the trust
roots or the DER; renewals verify."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import io
import random
import subprocess
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from keiin.evidence.archive import Archive, renew_hash_tree
from keiin.evidence.record import EvidenceRecord, archive_time_stamp, encode_record
from keiin.evidence.verify import EvidenceReport, verify_evidence
from keiin.tsa.template import token_of
from tests.unit.test_tsa_support import ec_unit, grant, old_root, request, rsa_unit

N = 100_000
OFFLINE = {"check_revocation": False, "fetch": False}


def timestamp(digest: bytes, unit=None) -> bytes:
    """Keiin's own TSA token factory, in process."""
    return token_of(grant(unit or ec_unit(), request(digest)))


def timestamp384(digest: bytes) -> bytes:
    return token_of(grant(ec_unit(), request(digest, hash_algorithm="sha384")))


def document(i: int) -> bytes:
    return f"契約書 No. {i:06d} — 第7条 秘密保持".encode() * 3


@functools.cache
def big_archive() -> Archive:
    rng = random.Random(4998)
    leaves = [rng.randbytes(32) for _ in range(N)]
    leaves[CHOSEN] = hashlib.sha256(document(CHOSEN)).digest()
    return Archive.seal(b"".join(leaves), timestamp)


CHOSEN = 73_421


def check(record: bytes, data: bytes | None = None, **options) -> EvidenceReport:
    options = {"trust_roots": [ec_unit().root], **OFFLINE, **options}
    return verify_evidence(record, data=document(CHOSEN) if data is None else data, **options)


def flip(blob: bytes, bit: int) -> bytes:
    out = bytearray(blob)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


# -- one original out of 100,000 -------------------------------------------------------------


def test_one_original_out_of_100000_verifies():
    archive = big_archive()
    record = archive.record(CHOSEN)
    report = check(record)
    assert report.ok, report.reason
    assert report.step is None and len(report.timestamps) == 1
    assert report.timestamps[0].report.ok
    # The same bytes as the asn1crypto classes produce, and streams and digests work too.
    ats = archive_time_stamp(archive.tree.reduced(CHOSEN), archive.time_stamps[0])
    assert record == encode_record([[ats]], ["sha256"])
    assert EvidenceRecord.load(record).dump(force=True) == record
    assert check(record, data=io.BytesIO(document(CHOSEN))).ok  # type: ignore[arg-type]
    digest = hashlib.sha256(document(CHOSEN)).digest()
    assert verify_evidence(
        record, digests={"sha256": digest}, trust_roots=[ec_unit().root], **OFFLINE
    ).ok


def test_any_bit_of_the_document_changed_fails():
    record = big_archive().record(CHOSEN)
    data = document(CHOSEN)
    for bit in random.Random(1).sample(range(len(data) * 8), 64):
        report = check(record, data=flip(data, bit))
        assert not report.ok and report.step == "hash-tree", report


def test_any_bit_of_the_path_changed_fails():
    archive = big_archive()
    record = archive.record(CHOSEN)
    path = archive.tree.reduced_der(CHOSEN)
    start = record.index(path)
    # Every bit of the hash values on the path (the DER headers are covered by the DER test).
    octets = [start + k for k in range(len(path)) if k % 36 >= 4 or k < 70]
    for byte in octets:
        for bit in range(8):
            report = check(flip(record, byte * 8 + bit))
            assert not report.ok, (byte, bit)
            assert report.step in ("hash-tree", "parse"), report


def test_the_wrong_trust_root_fails():
    record = big_archive().record(CHOSEN)
    stranger = old_root(dt.timedelta(days=1)).certificate
    report = check(record, trust_roots=[stranger])
    assert not report.ok and report.step == "timestamp"
    assert "certificate-path" in report.reason


def test_no_document_fails_cleanly():
    record = big_archive().record(CHOSEN)
    report = verify_evidence(record, trust_roots=[ec_unit().root], **OFFLINE)
    assert not report.ok and report.step == "hash-tree"


# -- malformed records -----------------------------------------------------------------------


def small_record() -> bytes:
    docs = [document(i) for i in range(5)]
    return Archive.seal([hashlib.sha256(d).digest() for d in docs], timestamp).record(CHOSEN % 5)


@functools.cache
def small() -> bytes:
    return small_record()


def test_truncated_records_fail_cleanly():
    record = small()
    data = document(CHOSEN % 5)
    assert check(record, data=data).ok
    for cut in range(0, len(record), 7):
        report = check(record[:cut], data=data)
        assert not report.ok and report.step == "parse"
    report = check(record + b"\x00", data=data)
    assert not report.ok and report.step == "parse"


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_garbage_fails_cleanly(blob):
    report = check(blob)
    assert not report.ok and report.step == "parse"


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_any_changed_byte_of_a_record_fails_cleanly(data):
    record = small()
    index = data.draw(st.integers(0, len(record) - 1))
    value = data.draw(st.integers(0, 255).filter(lambda v: v != record[index]))
    changed = record[:index] + bytes((value,)) + record[index + 1 :]
    report = check(changed, data=document(CHOSEN % 5))
    assert isinstance(report, EvidenceReport)
    # Outside the token every byte counts. Inside it, CMS leaves a few fields unsigned (the
    # SignedData version, the certificate set): keiin.tsa.verify's business, not this one's.
    token = EvidenceRecord.load(record)["archive_time_stamp_sequence"][0][0]["time_stamp"].dump()
    start = record.index(token)
    if not start <= index < start + len(token):
        assert not report.ok, (index, value)


# -- renewal ---------------------------------------------------------------------------------


def test_timestamp_renewal_chain_of_two():
    docs = [document(i) for i in range(10)]
    archive = Archive.seal([hashlib.sha256(d).digest() for d in docs], timestamp)
    renewed = archive.renew_timestamp(lambda d: timestamp(d, rsa_unit()))
    roots = [ec_unit().root, rsa_unit().root]
    for i in (0, 9):
        report = check(renewed.record(i), data=docs[i], trust_roots=roots)
        assert report.ok, report.reason
        assert [(t.chain, t.index) for t in report.timestamps] == [(0, 0), (0, 1)]
        assert report.timestamps[0].gen_time <= report.timestamps[1].gen_time
    # The renewing timestamp covers the first one: swap in another first token and it fails.
    other = Archive.seal([hashlib.sha256(d).digest() for d in docs], timestamp)
    forged = Archive(archive.tree, (other.time_stamps[0], renewed.time_stamps[1]))
    report = check(forged.record(3), data=docs[3], trust_roots=roots)
    assert not report.ok and report.step == "hash-tree" and "0.1" in report.reason


def test_hash_tree_renewal_adds_a_chain():
    docs = [document(i) for i in range(6)]
    archive = Archive.seal([hashlib.sha256(d).digest() for d in docs], timestamp)
    pairs = [(hashlib.sha384(d).digest(), archive.record(i)) for i, d in enumerate(docs)]
    renewed = renew_hash_tree(pairs, timestamp384, "sha384")
    for i in (0, 5):
        report = check(renewed[i], data=docs[i])
        assert report.ok, report.reason
        assert [(t.chain, t.digest_algorithm) for t in report.timestamps] == [
            (0, "sha256"),
            (1, "sha384"),
        ]
        assert not check(renewed[i], data=docs[(i + 2) % 6]).ok  # i ^ 1 is its sibling
    # The new chain is bound to the old ones: another document's record does not fit.
    record = EvidenceRecord.load(renewed[0])
    other = EvidenceRecord.load(renewed[2])  # not 1: the sibling shares chain 0
    chains = [
        list(record["archive_time_stamp_sequence"][0]),
        list(other["archive_time_stamp_sequence"][1]),
    ]
    mixed = encode_record(chains, ["sha256", "sha384"])
    report = check(mixed, data=docs[0])
    assert not report.ok and report.step == "hash-tree"


def test_evidence_package_does_not_import_django():
    code = (
        "import sys, pkgutil, importlib, keiin.evidence\n"
        "for m in pkgutil.iter_modules(keiin.evidence.__path__):\n"
        "    importlib.import_module('keiin.evidence.' + m.name)\n"
        "sys.exit(1 if any(n == 'django' or n.startswith('django.') for n in sys.modules) else 0)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
