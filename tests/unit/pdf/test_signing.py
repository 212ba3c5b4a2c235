"""The operator certifies, a signatory approves: the result is PAdES B-LTA, valid offline."""

from __future__ import annotations

import subprocess
import sys
from io import BytesIO

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import MDPPerm
from pyhanko.sign.validation import read_certification_data

from tests.unit.pdf.support import PADES_CHECK, asn1
from tests.unit.pdf.validation import validate


def test_every_step_is_an_incremental_update(contract):
    assert contract.certified.startswith(contract.original)
    assert contract.approved.startswith(contract.certified)
    reader = PdfFileReader(BytesIO(contract.approved), strict=False)
    # original, certification, approval, DSS, document timestamp
    assert reader.xrefs.total_revisions == 5


def test_operator_certification_allows_form_filling_and_signatures(contract):
    reader = PdfFileReader(BytesIO(contract.certified), strict=False)
    [sig] = reader.embedded_signatures
    assert sig.field_name == "OperatorSeal"
    info = read_certification_data(reader)
    assert info is not None and info.permission == MDPPerm.FILL_FORMS
    assert sig.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"


def test_certified_document_is_b_t(contract, pki):
    results = validate(contract.certified, asn1(pki.root.certificate))
    status = results["OperatorSeal"]
    assert status["intact"] and status["valid"] and status["trusted"]
    assert status["timestamped"]


def test_approved_document_is_lta_and_valid_offline(contract, pki):
    results = validate(contract.approved, asn1(pki.root.certificate))
    assert set(results) == {"OperatorSeal", "Signatory1", "Signatory1_DocTimeStamp"}
    for name in ("OperatorSeal", "Signatory1"):
        status = results[name]
        assert status["intact"] and status["valid"] and status["trusted"], (name, status)
        assert status["docmdp_ok"], (name, status)
        assert status["timestamped"], (name, status)
        assert status["lta"] == "PASSED", (name, status)
    doc_ts = results["Signatory1_DocTimeStamp"]
    assert doc_ts["intact"] and doc_ts["valid"] and doc_ts["trusted"]


def test_dss_was_filled_after_the_signature_timestamp_and_before_the_document_timestamp(
    contract,
):
    reader = PdfFileReader(BytesIO(contract.approved), strict=False)
    dss = reader.root["/DSS"]
    assert len(dss["/OCSPs"]) >= 2  # both signers' certificates
    assert len(dss["/CRLs"]) >= 2  # issuing CA's and root's CRLs
    # The DSS is protected by the document timestamp (it lies inside its byte range).
    [doc_ts] = reader.embedded_timestamp_signatures
    br = doc_ts.sig_object["/ByteRange"]
    assert br[0] == 0 and br[2] + br[3] == len(contract.approved)
    # The revocation source was asked about the signer certificates, the TSA certificate
    # and the issuing CA (the root needs none; the responder has ocsp-nocheck).
    asked = [name for call in contract.ca.calls for name in call]
    assert any("山田 太郎" in n for n in asked)
    assert any("TSU" in n for n in asked)
    assert any("Issuing CA," in n for n in asked)
    assert not any("OCSP Responder" in n for n in asked)
    assert not any("Root CA" in n for n in asked)


@pytest.mark.skipif(not PADES_CHECK.exists(), reason="shared acceptance check not present")
def test_independent_pades_check_passes(contract):
    result = subprocess.run(
        [
            sys.executable,
            str(PADES_CHECK),
            str(contract.path),
            str(contract.root_pem),
            "--expect-signatures",
            "2",
            "--expect-level",
            "LTA",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert "0 failed" in result.stdout, result.stdout + result.stderr
    assert result.returncode == 0, result.stdout + result.stderr


def test_tampering_inside_the_signed_range_breaks_validation(contract, pki):
    data = bytearray(contract.approved)
    reader = PdfFileReader(BytesIO(contract.approved), strict=False)
    sig = next(s for s in reader.embedded_signatures if s.field_name == "Signatory1")
    br = sig.sig_object["/ByteRange"]
    # A byte of the original content stream, well inside the first signed range.
    position = contract.original.index(b"Contract page 1") + 9
    assert position < br[0] + br[1]
    data[position] ^= 0x01
    results = validate(bytes(data), asn1(pki.root.certificate))
    for name in ("OperatorSeal", "Signatory1"):
        assert not results[name]["intact"], name
        assert results[name]["lta"] != "PASSED", name
