"""keiin.pdf.report: the verification report as text, JSON and ETSI TS 119 102-2 XML.

The contract fixture (conftest) is certified by the operator and approved by a
signatory: both signatures B-LTA, then a document timestamp.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from keiin.pdf.report import (
    ETSI_NAMESPACE,
    Limits,
    VerificationReport,
    build_report,
    build_report_limited,
    render_json,
    render_text,
    render_xml,
)
from tests.unit.pdf.support import asn1, minimal_pdf

NS = {"v": ETSI_NAMESPACE}
MAIN = "urn:etsi:019102:mainindication:"
SUB = "urn:etsi:019102:subindication:"


@pytest.fixture(scope="module")
def root(pki):
    return asn1(pki.root.certificate)


@pytest.fixture(scope="module")
def report(contract, root) -> VerificationReport:
    return build_report(contract.path, [root])


def test_approved_contract_report_facts(report, contract, pki):
    assert report.passed and report.indication == "TOTAL-PASSED"
    assert report.sub_indication is None and report.problem is None
    assert report.size == len(contract.approved) and report.file_name == "contract.pdf"
    kinds = [(s.field_name, s.kind, s.level) for s, _ in report.entries]
    assert kinds == [
        ("OperatorSeal", "certification", "B-LTA"),
        ("Signatory1", "signature", "B-LTA"),
        ("Signatory1_DocTimeStamp", "doc_timestamp", None),
    ]
    _seal, (signatory, facts), (_ts, ts_facts) = report.entries
    assert signatory.passed and facts is not None and facts.signer is not None
    assert facts.signer.name == "山田 太郎"
    assert facts.signer.organisation == "Example KK"
    assert facts.signer.email == "taro.yamada@example.jp"
    assert facts.signer.serial_hex == format(pki.signer.serial_number, "x")
    assert "Example KK Issuing CA" in facts.signer.issuer
    assert facts.timestamp is not None and facts.timestamp.authority == "Example KK TSU 1"
    assert facts.timestamp.gen_time == signatory.timestamp_time
    assert ts_facts is not None and ts_facts.signer is not None
    assert ts_facts.signer.name == "Example KK TSU 1"
    assert report.dss_ocsp >= 1 and report.dss_crls >= 1


def test_json_schema(report, contract):
    data = json.loads(render_json(report))
    assert data["schema"] == "keiin.verification-report/1"
    assert data["file"]["revisions"] == 5 and data["file"]["size"] == len(contract.approved)
    assert data["passed"] is True and data["indication"] == "TOTAL-PASSED"
    assert [s["kind"] for s in data["signatures"]] == [
        "certification",
        "signature",
        "doc_timestamp",
    ]
    seal, signatory, doc_ts = data["signatures"]
    assert signatory["level"] == "B-LTA" and signatory["indication"] == "TOTAL-PASSED"
    assert signatory["signer"]["email"] == "taro.yamada@example.jp"
    assert signatory["signing_time"]["proof"]["authority"] == "Example KK TSU 1"
    assert signatory["certificate_status"] == {
        "at_signing_time": "valid",
        "now": "valid",
        "revocation": "good",
    }
    assert signatory["coverage"]["modifications_allowed"] is True
    assert seal["coverage"]["whole_document"] is False
    assert seal["coverage"]["later_revisions"] > 0 and seal["coverage"]["docmdp_ok"] is True
    assert doc_ts["coverage"]["whole_document"] is True
    assert data["revocation_data"]["fetched"] == 0


def test_text_page(report):
    text = render_text(report)
    assert "TOTAL-PASSED (有効)" in text
    assert "[2] Signatory1 (signature, PAdES B-LTA)" in text
    assert "山田 太郎 / Example KK <taro.yamada@example.jp>" in text
    assert "[3] Signatory1_DocTimeStamp (document timestamp)" in text
    assert "timestamp by Example KK TSU 1" in text


def _indications(xml: str) -> list[tuple[str, str | None]]:
    root = ET.fromstring(xml)
    assert root.tag == f"{{{ETSI_NAMESPACE}}}ValidationReport"
    out = []
    for svr in root.findall("v:SignatureValidationReport", NS):
        main = svr.findtext("v:SignatureValidationStatus/v:MainIndication", namespaces=NS)
        sub = svr.findtext("v:SignatureValidationStatus/v:SubIndication", namespaces=NS)
        out.append((main, sub))
    return out


def test_etsi_xml(report):
    xml = render_xml(report)
    assert _indications(xml) == [(MAIN + "total-passed", None)] * 3
    root = ET.fromstring(xml)
    svr = root.findall("v:SignatureValidationReport", NS)[1]
    assert svr.findtext("v:SignatureIdentifier/v:DAIdentifier", namespaces=NS) == "Signatory1"
    assert svr.find("v:SignatureAttributes/v:SigningTime/v:Time", NS) is not None
    assert "山田 太郎" in (svr.findtext("v:SignerInformation/v:Signer", namespaces=NS) or "")
    ref = svr.find("v:SignerInformation/v:SignerCertificate", NS).get("VOReference")
    ids = {vo.get("id") for vo in root.iterfind("v:SignatureValidationObjects/*", NS)}
    assert ref in ids
    quality = svr.findtext("v:SignatureQuality/v:SignatureQualityInformation", namespaces=NS)
    assert quality.endswith("PAdES-BASELINE-LTA")


def test_tampered_file_fails_with_hash_failure(contract, root, tmp_path):
    data = bytearray(contract.approved)
    data[contract.original.index(b"Contract page 1") + 9] ^= 0x01
    report = build_report(bytes(data), [root])
    assert report.indication == "FAILED" and report.sub_indication == "HASH_FAILURE"
    assert _indications(render_xml(report))[0] == (MAIN + "failed", SUB + "HASH_FAILURE")


def test_unsigned_and_unreadable_pdfs(root):
    unsigned = build_report(minimal_pdf(), [root])
    assert not unsigned.passed and unsigned.indication == "INDETERMINATE"
    assert unsigned.reason == "the file has no signatures"
    assert json.loads(render_json(unsigned))["signatures"] == []
    assert _indications(render_xml(unsigned)) == [(MAIN + "indeterminate", None)]
    broken = build_report(b"%PDF-1.7\n garbage", [root])
    assert broken.indication == "FAILED" and broken.problem is not None
    assert broken.problem.code == "unreadable"
    assert _indications(render_xml(broken)) == [(MAIN + "failed", SUB + "FORMAT_FAILURE")]


def test_another_root(contract, other_pki):
    report = build_report(contract.approved, [asn1(other_pki.root.certificate)])
    assert report.indication == "INDETERMINATE"
    assert report.sub_indication == "NO_CERTIFICATE_CHAIN_FOUND"


def test_limited_run_gives_the_same_report(contract, root, report):
    limited = build_report_limited(contract.path, [root])
    assert limited.to_dict() == report.to_dict() | {
        "validation_time": limited.validation_time.isoformat()
    }


def test_memory_limit_gives_indeterminate(contract, root):
    limited = build_report_limited(contract.path, [root], limits=Limits(memory_bytes=1 << 20))
    assert limited.indication == "INDETERMINATE" and limited.problem is not None
    assert limited.problem.code == "memory_limit"
    assert "memory limit" in limited.reason
    assert limited.sha256 == report_sha(contract)


def report_sha(contract) -> str:
    import hashlib

    return hashlib.sha256(contract.approved).hexdigest()
