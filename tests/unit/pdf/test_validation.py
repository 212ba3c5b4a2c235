"""keiin.pdf.validation: every signature and document timestamp, offline, with a verdict.

The contract fixture (conftest) is certified by the operator (B-T) and approved by a
signatory (B-LTA). Broken, foreign and non-PDF input must give a verdict or PdfInputError,
never another exception.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
from io import BytesIO

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from keiin.pdf import PdfInputError, certify
from keiin.pdf.validation import (
    DocumentValidation,
    async_validate_document,
    validate_document,
)
from tests.unit.pdf.support import asn1, minimal_pdf, one_shot_signer, timestamper


@pytest.fixture(scope="module")
def root(pki):
    return asn1(pki.root.certificate)


@pytest.fixture(scope="module")
def approved_result(contract, root) -> DocumentValidation:
    return validate_document(contract.approved, [root])


def _by_name(result: DocumentValidation):
    return {s.field_name: s for s in result.signatures}


def test_approved_contract_passes_entirely(approved_result, pki):
    assert approved_result.passed
    assert approved_result.revisions == 5
    signatures = _by_name(approved_result)
    assert list(signatures) == ["OperatorSeal", "Signatory1", "Signatory1_DocTimeStamp"]
    for entry in approved_result.signatures:
        assert entry.indication == "TOTAL-PASSED", entry
        assert entry.sub_indication is None
        assert entry.intact and entry.valid and entry.trusted and entry.revocation_ok, entry
        assert entry.timestamp_time is not None
    seal, signatory, doc_ts = signatures.values()
    assert (seal.kind, signatory.kind, doc_ts.kind) == (
        "certification",
        "signature",
        "doc_timestamp",
    )
    assert seal.level == signatory.level == "B-LTA"
    assert doc_ts.level is None
    assert seal.docmdp_ok and signatory.docmdp_ok
    # The certification allows the signatory's form filling; after the approval come only
    # the DSS and the document timestamp.
    assert seal.modification_level == "form_filling"
    assert signatory.modification_level == "lta_updates"
    assert doc_ts.coverage == "entire_file"
    assert "山田 太郎" in (signatory.signer_subject or "")
    assert signatory.signer_serial_hex == format(pki.signer.serial_number, "x")
    assert seal.timestamp_time <= signatory.timestamp_time <= doc_ts.timestamp_time
    assert "not revoked" in signatory.reason


def test_result_is_json_serialisable(approved_result):
    data = json.loads(json.dumps(approved_result.to_dict()))
    assert data["passed"] is True
    assert [s["indication"] for s in data["signatures"]] == ["TOTAL-PASSED"] * 3
    assert dt.datetime.fromisoformat(data["signatures"][1]["timestamp_time"]).tzinfo is not None


def test_certified_only_stage_is_b_t_and_cannot_be_confirmed_offline(contract, root):
    """B-T carries no revocation data: trusted chain, but revocation unknown offline."""
    result = validate_document(contract.certified, [root])
    [seal] = result.signatures
    assert seal.kind == "certification"
    assert seal.level == "B-T"
    assert seal.intact and seal.valid and seal.trusted
    assert not seal.revocation_ok
    assert seal.indication == "INDETERMINATE"
    assert seal.sub_indication == "CERTIFICATE_CHAIN_GENERAL_FAILURE"
    assert "no revocation data" in seal.reason
    assert not result.passed


def test_unsigned_pdf_gives_an_empty_result_that_does_not_pass(contract, root):
    result = validate_document(contract.original, [root])
    assert result.signatures == ()
    assert not result.passed
    assert result.to_dict()["signatures"] == []


def test_flipped_byte_in_the_signed_range_fails_every_signature(contract, root):
    data = bytearray(contract.approved)
    data[contract.original.index(b"Contract page 1") + 9] ^= 0x01
    result = validate_document(bytes(data), [root])
    assert not result.passed
    assert len(result.signatures) == 3
    for entry in result.signatures:
        assert entry.indication == "FAILED", entry
        assert entry.sub_indication == "HASH_FAILURE"
        assert not entry.intact
        assert "changed after signing" in entry.reason


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.66, 0.9])
def test_truncated_file_is_refused_or_does_not_pass(contract, root, fraction):
    """A cut file is refused, or fails, or — when the cut only lost the newest revision —
    is reported as the earlier, complete revision it still contains (never as the whole)."""
    data = contract.approved[: int(len(contract.approved) * fraction)]
    full = validate_document(contract.approved, [root])
    try:
        result = validate_document(data, [root])
    except PdfInputError as exc:
        assert exc.reason
    else:
        assert not result.passed or len(result.signatures) < len(full.signatures)


def test_file_cut_after_the_certification_is_the_certified_revision(contract, root):
    """Cut just after the first update, the file is the certified one (plus junk)."""
    data = contract.approved[: len(contract.certified) + 200]
    result = validate_document(data, [root])
    assert [s.field_name for s in result.signatures] == ["OperatorSeal"]
    assert result.signatures[0].level == "B-T"
    assert not result.passed


@pytest.mark.parametrize(
    "data",
    [b"", b"hello world", b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, b"%PDF-1.7\ngarbage"],
)
def test_non_pdf_raises_pdf_input_error(data, root):
    with pytest.raises(PdfInputError) as info:
        validate_document(data, [root])
    assert info.value.reason


def test_encrypted_pdf_raises_pdf_input_error(root):
    with pytest.raises(PdfInputError, match="encrypted"):
        validate_document(minimal_pdf(encrypt=True), [root])


def test_another_root_is_not_trusted(contract, other_pki):
    result = validate_document(contract.approved, [asn1(other_pki.root.certificate)])
    assert not result.passed
    for entry in result.signatures:
        assert entry.indication == "INDETERMINATE", entry
        assert entry.sub_indication == "NO_CERTIFICATE_CHAIN_FOUND"
        assert entry.intact and entry.valid and not entry.trusted
        assert "trusted root" in entry.reason


def test_signature_from_a_foreign_ca_is_not_trusted(other_pki, root):
    with one_shot_signer(other_pki.signer, other_pki.signer_key, other_pki) as signer:
        signed = certify(
            minimal_pdf(), signer, timestamper=timestamper(other_pki), field_name="Foreign"
        )
    [entry] = validate_document(signed, [root]).signatures
    assert entry.intact and entry.valid and not entry.trusted
    assert entry.indication == "INDETERMINATE"
    assert entry.sub_indication == "NO_CERTIFICATE_CHAIN_FOUND"


def test_garbled_signature_container_fails_with_a_reason(contract, root):
    data = bytearray(contract.approved)
    # The approval's /Contents: the second hex string of the file's signatures.
    starts = [m.start() for m in re.finditer(rb"/Contents <", contract.approved)]
    assert len(starts) >= 2
    begin = starts[1] + len(b"/Contents <")
    data[begin : begin + 64] = b"0" * 64
    result = validate_document(bytes(data), [root])
    assert not result.passed
    signatures = _by_name(result)
    assert signatures["Signatory1"].indication == "FAILED"
    assert signatures["Signatory1"].sub_indication == "FORMAT_FAILURE"
    assert "cannot be read" in signatures["Signatory1"].reason
    assert all(s.reason for s in result.signatures)


def test_changes_after_signing_that_are_not_allowed_fail(contract, root):
    writer = IncrementalPdfFileWriter(BytesIO(contract.approved), strict=False)
    stream = generic.StreamObject(stream_data=b"BT /F1 18 Tf 72 700 Td (Extra clause) Tj ET")
    writer.add_stream_to_page(0, writer.add_object(stream))
    out = BytesIO()
    writer.write(out)
    result = validate_document(out.getvalue(), [root])
    assert not result.passed
    signatures = _by_name(result)
    for name in ("OperatorSeal", "Signatory1"):
        entry = signatures[name]
        assert entry.intact, entry  # the signed revision itself is unchanged
        assert entry.indication == "FAILED", entry
        assert entry.sub_indication == "FORMAT_FAILURE"
        assert entry.modification_level == "other"
        assert "changed after signing" in entry.reason


def test_accepts_a_binary_file_and_cryptography_roots(contract, pki):
    with contract.path.open("rb") as handle:
        result = validate_document(handle, [pki.root.certificate])
    assert result.passed


def test_async_and_sync_agree(contract, root, approved_result):
    result = asyncio.run(async_validate_document(contract.approved, [root]))
    assert [s.to_dict() for s in result.signatures] == [
        s.to_dict() for s in approved_result.signatures
    ]


def test_validation_time(contract, root):
    with pytest.raises(ValueError, match="timezone"):
        validate_document(contract.approved, [root], at=dt.datetime(2030, 1, 1))
    now = dt.datetime.now(dt.UTC)
    soon = validate_document(contract.approved, [root], at=now + dt.timedelta(hours=1))
    assert soon.passed
    assert soon.validation_time == now + dt.timedelta(hours=1)
    # Past the revocation data's nextUpdate (7 days in the test CA), the file can no longer
    # be confirmed offline: the archive must be renewed before then.
    later = validate_document(contract.approved, [root], at=now + dt.timedelta(days=60))
    assert not later.passed
    assert {s.indication for s in later.signatures} == {"INDETERMINATE"}


def test_without_trust_roots_only_integrity_is_checked(contract):
    result = validate_document(contract.approved, [])
    assert not result.passed
    for entry in result.signatures:
        assert entry.intact and entry.valid, entry
        assert not entry.trusted and entry.indication == "INDETERMINATE"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_files_give_a_verdict_or_pdf_input_error(contract, root, data):
    original = contract.approved
    mutated = bytearray(original)
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(original) - 1))
        mutated[position] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        mutated = mutated[: data.draw(st.integers(0, len(mutated)))]
    try:
        result = validate_document(bytes(mutated), [root])
    except PdfInputError as exc:
        assert exc.reason
    else:
        json.dumps(result.to_dict())
        for entry in result.signatures:
            assert entry.indication in ("TOTAL-PASSED", "INDETERMINATE", "FAILED")
            assert entry.reason
