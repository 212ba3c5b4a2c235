"""The file API: signing from a path or stream to a path or stream, in place, never whole in
memory; what happens to the destination on failure."""

from __future__ import annotations

import io
import tempfile
from io import BytesIO

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader

from keiin.pdf import PdfInputError
from keiin.pdf.inputs import open_for_update
from keiin.pdf.signing import (
    SignatureField,
    approve_file,
    certificates_of_document,
    certify_file,
)
from tests.unit.pdf.support import TestCa, asn1, minimal_pdf, one_shot_signer, timestamper
from tests.unit.pdf.validation import validate


def _certify(src, dst, pki, seal, **kwargs) -> int:
    with one_shot_signer(seal.certificate, seal.key, pki) as signer:
        return certify_file(
            src,
            dst,
            signer,
            timestamper=timestamper(pki),
            field_name="Seal",
            signature_fields=[SignatureField("Signatory")],
            **kwargs,
        )


def _approve(src, dst, pki, *, field_name: str = "Signatory", **kwargs) -> int:
    with one_shot_signer(pki.signer, pki.signer_key, pki) as signer:
        return approve_file(
            src,
            dst,
            signer,
            timestamper=timestamper(pki),
            revinfo=TestCa(pki),
            field_name=field_name,
            stamp=None,
            **kwargs,
        )


class WriteOnly(io.RawIOBase):
    """A destination that can only be written to (a socket, an HTTP response body...)."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:  # type: ignore[override]
        self.chunks.append(bytes(data))
        return len(data)


def _assert_lta(pdf: bytes, pki) -> None:
    results = validate(pdf, asn1(pki.root.certificate))
    for name in ("Seal", "Signatory"):
        assert results[name]["intact"] and results[name]["trusted"], (name, results[name])
        assert results[name]["lta"] == "PASSED", (name, results[name])


def test_path_to_path(pki, seal, tmp_path):
    original = tmp_path / "original.pdf"
    original.write_bytes(minimal_pdf())
    certified, approved = tmp_path / "certified.pdf", tmp_path / "approved.pdf"
    assert _certify(original, certified, pki, seal) == certified.stat().st_size
    assert _approve(str(certified), approved, pki) == approved.stat().st_size
    data = approved.read_bytes()
    assert data.startswith(certified.read_bytes())
    assert certified.read_bytes().startswith(original.read_bytes())
    assert PdfFileReader(BytesIO(data), strict=False).xrefs.total_revisions == 5
    _assert_lta(data, pki)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "approved.pdf",
        "certified.pdf",
        "original.pdf",
    ]


def test_streams_in_and_out(pki, seal, tmp_path):
    with (tmp_path / "certified.pdf").open("w+b") as certified:
        size = _certify(BytesIO(minimal_pdf()), certified, pki, seal)
        assert certified.tell() == size  # left at the end, like a plain write
        with (tmp_path / "approved.pdf").open("w+b") as approved:
            _approve(certified, approved, pki)
    _assert_lta((tmp_path / "approved.pdf").read_bytes(), pki)


def test_a_write_only_destination_is_served_from_a_work_file_in_tmp_dir(
    pki, seal, tmp_path, monkeypatch
):
    certified = tmp_path / "certified.pdf"
    _certify(BytesIO(minimal_pdf()), certified, pki, seal)
    work_dir = tmp_path / "work"
    work_dir.mkdir()
    used: list[object] = []
    real = tempfile.TemporaryFile

    def spy(*args, **kwargs):
        used.append(kwargs.get("dir"))
        return real(*args, **kwargs)

    monkeypatch.setattr("keiin.pdf.signing.tempfile.TemporaryFile", spy)
    out = WriteOnly()
    size = _approve(certified, out, pki, tmp_dir=work_dir)
    assert used == [work_dir]
    data = b"".join(out.chunks)
    assert len(data) == size and data.startswith(certified.read_bytes())
    assert list(work_dir.iterdir()) == []  # the work file is gone
    _assert_lta(data, pki)


def test_bytes_and_files_give_the_same_structure(contract, pki, tmp_path):
    approved = tmp_path / "approved.pdf"
    _approve(BytesIO(contract.certified), approved, pki, field_name="Signatory1")
    from_file = PdfFileReader(BytesIO(approved.read_bytes()), strict=False)
    from_bytes = PdfFileReader(BytesIO(contract.approved), strict=False)
    assert from_file.xrefs.total_revisions == from_bytes.xrefs.total_revisions
    assert [s.field_name for s in from_file.embedded_signatures] == [
        s.field_name for s in from_bytes.embedded_signatures
    ]


def test_failure_leaves_a_destination_path_untouched(pki, tmp_path):
    dst = tmp_path / "approved.pdf"
    dst.write_bytes(b"previous content")
    src = tmp_path / "input.pdf"
    src.write_bytes(b"not a pdf at all")
    with pytest.raises(PdfInputError):
        _approve(src, dst, pki)
    assert dst.read_bytes() == b"previous content"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["approved.pdf", "input.pdf"]


def test_failure_empties_a_random_access_destination(pki, tmp_path):
    dst = BytesIO(b"previous content")
    with pytest.raises(PdfInputError, match="encrypted"):
        _approve(BytesIO(minimal_pdf(encrypt=True)), dst, pki)
    assert dst.getvalue() == b""


def test_source_and_destination_must_differ(pki, tmp_path):
    path, data = tmp_path / "same.pdf", minimal_pdf()
    path.write_bytes(data)
    with path.open("r+b") as stream, pytest.raises(ValueError, match="different"):
        _approve(stream, stream, pki)
    assert path.read_bytes() == data


def test_the_source_stream_is_only_read(pki, seal, tmp_path):
    path, data = tmp_path / "original.pdf", minimal_pdf()
    path.write_bytes(data)
    with path.open("rb") as src:
        _certify(src, tmp_path / "certified.pdf", pki, seal)
    assert path.read_bytes() == data


def test_open_for_update_and_certificates_read_streams(contract, tmp_path):
    path = tmp_path / "approved.pdf"
    path.write_bytes(contract.approved)
    with path.open("rb") as stream:
        opened = open_for_update(stream, allow_signed=True)
        assert opened.certified
        assert {s.field_name for s in opened.signatures} == {
            "OperatorSeal",
            "Signatory1",
            "Signatory1_DocTimeStamp",
        }
        certificates, newest = certificates_of_document(stream)
    from_bytes, newest_from_bytes = certificates_of_document(contract.approved)
    assert [c.dump() for c in certificates] == [c.dump() for c in from_bytes]
    assert newest == newest_from_bytes
    assert newest.microsecond == 0  # Keiin's TSA issues whole seconds for signing
    assert any("TSU" in c.subject.human_friendly for c in certificates)


@pytest.mark.parametrize("bad", ["a string is not a PDF", 42])
def test_open_for_update_wants_bytes_or_a_stream(bad):
    with pytest.raises(TypeError):
        open_for_update(bad, allow_signed=False)  # type: ignore[arg-type]


def test_a_path_can_be_signed_over_itself(pki, seal, tmp_path):
    path, data = tmp_path / "contract.pdf", minimal_pdf()
    path.write_bytes(data)
    size = _certify(path, path, pki, seal)
    signed = path.read_bytes()
    assert len(signed) == size and signed.startswith(data) and len(signed) > len(data)
    assert [p.name for p in tmp_path.iterdir()] == ["contract.pdf"]
