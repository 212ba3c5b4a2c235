"""The file API hashes the input once: the copy into the work file hashes it, and each
signature's and document timestamp's ``/ByteRange`` digest resumes from that state. Every
digest must still be the digest of exactly its byte range."""

from __future__ import annotations

import asyncio
import hashlib
import io
from io import BytesIO
from pathlib import Path

import pytest
from asn1crypto import cms
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.signers.pdf_byterange import PdfByteRangeDigest

from keiin.pdf import PdfSigningError
from keiin.pdf.signing import (
    COPY_CHUNK_SIZE,
    IO_CHUNK_SIZE,
    SignatureField,
    _copy_and_hash,
    _DocumentPrefix,
    add_document_timestamp,
    approve_file,
    certify_file,
)
from tests.unit.pdf.support import (
    TestCa,
    asn1,
    minimal_pdf,
    one_shot_signer,
    timestamper,
    write_big_pdf,
)
from tests.unit.pdf.test_streaming import WriteOnly
from tests.unit.pdf.validation import validate

#: More than two chunks of the copy and of the digests, not a multiple of either.
BIG = 2 * max(IO_CHUNK_SIZE, COPY_CHUNK_SIZE) + 123_457


def _signed_digest(signed_data: cms.SignedData) -> bytes:
    """The digest a signature's CMS signs (messageDigest) or a document timestamp's token
    certifies (messageImprint)."""
    content = signed_data["encap_content_info"]
    if content["content_type"].native == "tst_info":
        return content["content"].parsed["message_imprint"]["hashed_message"].native
    for attr in signed_data["signer_infos"][0]["signed_attrs"]:
        if attr["type"].native == "message_digest":
            return attr["values"][0].native
    raise AssertionError("no messageDigest attribute")


def _assert_digests_match_byte_ranges(pdf: bytes) -> int:
    """Every signature's signed digest is SHA-256 over its /ByteRange, recomputed here from
    the bytes; returns the number of signatures checked."""
    reader = PdfFileReader(BytesIO(pdf), strict=False)
    signatures = reader.embedded_signatures
    for signature in signatures:
        start1, length1, start2, length2 = (int(x) for x in signature.sig_object["/ByteRange"])
        assert start1 == 0 and start2 + length2 <= len(pdf), signature.field_name
        expected = hashlib.sha256(pdf[:length1] + pdf[start2 : start2 + length2]).digest()
        assert _signed_digest(signature.signed_data) == expected, signature.field_name
    return len(signatures)


def _certify(src, dst, pki, seal) -> None:
    with one_shot_signer(seal.certificate, seal.key, pki) as signer:
        certify_file(
            src,
            dst,
            signer,
            timestamper=timestamper(pki),
            field_name="Seal",
            revinfo=TestCa(pki),
            signature_fields=[SignatureField("Signatory")],
        )


def _approve(src, dst, pki) -> None:
    with one_shot_signer(pki.signer, pki.signer_key, pki) as signer:
        approve_file(
            src,
            dst,
            signer,
            timestamper=timestamper(pki),
            revinfo=TestCa(pki),
            field_name="Signatory",
            stamp=None,
        )


@pytest.fixture(scope="module")
def big_pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("digest") / "big.pdf"
    assert write_big_pdf(path, BIG) > BIG - 4096
    return path


@pytest.mark.parametrize("destination", ["path", "random-access", "write-only"])
def test_each_digest_is_the_digest_of_its_byte_range(destination, big_pdf, pki, seal, tmp_path):
    certified = tmp_path / "certified.pdf"
    _certify(big_pdf, certified, pki, seal)
    if destination == "path":
        _approve(certified, tmp_path / "approved.pdf", pki)
        data = (tmp_path / "approved.pdf").read_bytes()
    elif destination == "random-access":
        out = BytesIO()
        _approve(certified, out, pki)
        data = out.getvalue()
    else:
        write_only = WriteOnly()
        _approve(certified, write_only, pki)
        data = b"".join(write_only.chunks)
    assert data.startswith(big_pdf.read_bytes())
    assert _assert_digests_match_byte_ranges(data) == 3  # seal, approval, document timestamp
    results = validate(data, asn1(pki.root.certificate))
    for name in ("Seal", "Signatory"):
        assert results[name]["intact"] and results[name]["trusted"], (name, results[name])
        assert results[name]["lta"] == "PASSED", (name, results[name])


def test_pyhanko_does_not_hash_the_whole_file_again(big_pdf, pki, seal, tmp_path, monkeypatch):
    """pyHanko's own byte-range pass (``PdfByteRangeDigest.fill``) is never reached: every
    digest resumes from the state hashed during the copy."""

    def full_pass(*_args, **_kwargs):
        raise AssertionError("pyHanko hashed the whole file")

    monkeypatch.setattr(PdfByteRangeDigest, "fill", full_pass)
    certified, approved = tmp_path / "certified.pdf", tmp_path / "approved.pdf"
    _certify(big_pdf, certified, pki, seal)
    _approve(certified, approved, pki)
    assert _assert_digests_match_byte_ranges(approved.read_bytes()) == 3


def test_the_copy_hashes_exactly_what_it_writes():
    data = bytes(range(256)) * (BIG // 256)

    class Trickle(BytesIO):
        """A destination that takes at most 1000 bytes per write, as a raw stream may."""

        def write(self, chunk) -> int:  # type: ignore[override]
            return super().write(memoryview(chunk)[:1000])

    target = Trickle()
    prefix = _copy_and_hash(BytesIO(data), target)
    assert target.getvalue() == data
    assert prefix.length == len(data)
    assert prefix.state.digest() == hashlib.sha256(data).digest()
    not_empty = BytesIO(b"x")
    not_empty.seek(0, io.SEEK_END)
    with pytest.raises(ValueError, match="empty"):
        _copy_and_hash(BytesIO(data), not_empty)


def test_a_byte_range_digest_reads_only_past_the_prefix():
    data = b"%PDF-1.7 the input " * 1000
    work = BytesIO()
    prefix = _copy_and_hash(BytesIO(data), work)
    work.write(b"<appended><hole><tail>")
    whole = work.getvalue()
    sig_start, sig_end = whole.index(b"<hole>"), whole.index(b"<tail>")
    expected = hashlib.sha256(whole[:sig_start] + whole[sig_end:]).digest()
    assert prefix.byte_range_digest(sig_start, sig_end, len(whole)) == expected
    # The state is copied, never consumed: the same digest again, and from an empty prefix.
    assert prefix.byte_range_digest(sig_start, sig_end, len(whole)) == expected
    empty = _DocumentPrefix.empty(work)
    assert empty.byte_range_digest(sig_start, sig_end, len(whole)) == expected
    # A hole inside the hashed input cannot be resumed from the prefix.
    with pytest.raises(PdfSigningError, match="overlap"):
        prefix.byte_range_digest(10, 20, len(whole))


@pytest.mark.parametrize("prefix_kind", ["none", "other-stream"])
def test_a_document_timestamp_without_a_usable_prefix(prefix_kind, pki):
    """Without a prefix the digest reads the whole range; with a prefix of another stream
    pyHanko's own byte-range pass runs. Both give the right digest."""
    work = BytesIO(minimal_pdf())
    prefix = None if prefix_kind == "none" else _DocumentPrefix.empty(BytesIO())
    asyncio.run(add_document_timestamp(work, timestamper(pki), "Stamp", prefix=prefix))
    assert _assert_digests_match_byte_ranges(work.getvalue()) == 1
