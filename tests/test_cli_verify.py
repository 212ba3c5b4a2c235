"""``keiin verify``, run as a subprocess without a Keiin home: text, JSON and ETSI XML
reports, exit statuses, and the memory and time limits of the validation process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from keiin.pdf import SignatureField, approve, certify
from keiin.pki.keys import KeyAlgorithm
from tests.unit.pdf.support import TestCa, minimal_pdf, one_shot_signer, timestamper
from tests.unit.pki_factory import Pki, build_pki

KEIIN = [sys.executable, "-m", "keiin.cli"]
ETSI = "{http://uri.etsi.org/19102/v1.2.1#}"


@dataclass(frozen=True)
class Files:
    original: bytes
    approved: Path
    root: Path
    other_root: Path
    folder: Path


def _pem(pki: Pki, path: Path) -> Path:
    path.write_bytes(pki.root.certificate.public_bytes(serialization.Encoding.PEM))
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Files:
    """A contract certified by the operator and approved by a signatory (B-LTA)."""
    folder = tmp_path_factory.mktemp("verify")
    pki = build_pki(KeyAlgorithm.EC_P256)
    other = build_pki(KeyAlgorithm.EC_P256, org="Other Corp")
    tsa = timestamper(pki)
    original = minimal_pdf(pages=1)
    with one_shot_signer(pki.signer, pki.signer_key, pki) as signer:
        certified = certify(
            original,
            signer,
            timestamper=tsa,
            field_name="OperatorSeal",
            signature_fields=[SignatureField("Signatory1")],
        )
    with one_shot_signer(pki.signer, pki.signer_key, pki) as signer:
        approved = approve(
            certified,
            signer,
            timestamper=tsa,
            revinfo=TestCa(pki),
            field_name="Signatory1",
            stamp=None,
        )
    path = folder / "contract.pdf"
    path.write_bytes(approved)
    return Files(
        original, path, _pem(pki, folder / "root.pem"), _pem(other, folder / "other.pem"), folder
    )


def verify(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KEIIN_", "DATABASE_URL"))}
    return subprocess.run(
        [*KEIIN, "verify", *map(str, args)],
        env=env,
        cwd=Path(__file__).parent,  # no ./keiin-data here: no home
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=300,
        check=False,
    )


def _clean(result: subprocess.CompletedProcess[str], status: int) -> None:
    assert result.returncode == status, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr


def test_text_report_of_an_approved_contract(files):
    result = verify(files.approved, "--trust", files.root)
    _clean(result, 0)
    assert "TOTAL-PASSED (有効)" in result.stdout
    assert "Signatory1 (signature, PAdES B-LTA)" in result.stdout
    assert "Signatory1_DocTimeStamp (document timestamp)" in result.stdout
    assert "山田 太郎" in result.stdout


def test_json_report(files):
    result = verify(files.approved, "--json", "--trust", files.root)
    _clean(result, 0)
    data = json.loads(result.stdout)
    assert data["passed"] is True and data["indication"] == "TOTAL-PASSED"
    assert [(s["kind"], s["level"]) for s in data["signatures"]] == [
        ("certification", "B-LTA"),
        ("signature", "B-LTA"),
        ("doc_timestamp", None),
    ]
    assert data["signatures"][1]["signer"]["email"] == "taro.yamada@example.jp"


def test_xml_report(files):
    result = verify(files.approved, "--xml", "--trust", files.root)
    _clean(result, 0)
    root = ET.fromstring(result.stdout.encode())
    assert root.tag == f"{ETSI}ValidationReport"
    mains = [e.text for e in root.iter(f"{ETSI}MainIndication")]
    assert mains == ["urn:etsi:019102:mainindication:total-passed"] * 3


def test_tampered_file_fails(files):
    data = bytearray(files.approved.read_bytes())
    data[files.original.index(b"Contract page 1") + 9] ^= 0x01
    tampered = files.folder / "tampered.pdf"
    tampered.write_bytes(bytes(data))
    result = verify(tampered, "--json", "--trust", files.root)
    _clean(result, 1)
    data_out = json.loads(result.stdout)
    assert data_out["indication"] == "FAILED" and data_out["sub_indication"] == "HASH_FAILURE"


def test_unsigned_pdf_does_not_pass(files):
    unsigned = files.folder / "unsigned.pdf"
    unsigned.write_bytes(minimal_pdf())
    result = verify(unsigned, "--trust", files.root)
    _clean(result, 1)
    assert "the file has no signatures" in result.stdout


@pytest.mark.parametrize("content", [b"hello, not a pdf", None])
def test_not_a_pdf_or_missing_file_is_a_usage_error(files, content):
    path = files.folder / f"input-{content is None}.pdf"
    if content is not None:
        path.write_bytes(content)
    result = verify(path, "--trust", files.root)
    _clean(result, 2)
    assert result.stdout == ""
    assert result.stderr.startswith("keiin: ") and len(result.stderr.splitlines()) == 1
    assert ("not a PDF" if content else "no such file") in result.stderr


def test_no_trust_anchor_without_a_home_is_a_usage_error(files):
    result = verify(files.approved)
    _clean(result, 2)
    assert "no trust anchor" in result.stderr


def test_another_root_is_not_trusted(files):
    result = verify(files.approved, "--json", "--trust", files.other_root)
    _clean(result, 1)
    data = json.loads(result.stdout)
    assert data["indication"] == "INDETERMINATE"
    assert data["sub_indication"] == "NO_CERTIFICATE_CHAIN_FOUND"


def test_memory_limit_gives_indeterminate(files):
    result = verify(files.approved, "--json", "--trust", files.root, "--memory-limit", "1")
    _clean(result, 1)
    data = json.loads(result.stdout)
    assert data["indication"] == "INDETERMINATE" and data["problem"]["code"] == "memory_limit"
    assert "memory limit (1 MiB)" in data["reason"]


def test_time_limit_gives_indeterminate(files):
    # A limit far below what any validation of a signed file needs (no timing assertion).
    result = verify(files.approved, "--trust", files.root, "--timeout", "0.000001")
    _clean(result, 1)
    assert "INDETERMINATE (判定不能)" in result.stdout
    assert "time limit" in result.stdout
