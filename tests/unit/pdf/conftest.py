"""Fixtures for :mod:`keiin.pdf`: the operator's seal, the stamp font, and one contract
certified by the operator and approved by a signatory (built once per module)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from keiin.pdf import SignatureField, VisibleStamp, approve, certify, default_japanese_font
from keiin.pdf.stamp import StampFontError
from keiin.pki import profiles
from keiin.pki.keys import KeyAlgorithm, PrivateKey, generate_private_key
from keiin.pki.profiles import SubjectInfo
from tests.unit.pdf.support import TestCa, minimal_pdf, one_shot_signer, timestamper
from tests.unit.pki_factory import URLS, Pki


@dataclass(frozen=True)
class Seal:
    """The operator's organisation seal certificate and key."""

    certificate: x509.Certificate
    key: PrivateKey


@dataclass(frozen=True)
class Contract:
    """Each stage of one contract's signing, and the files to check it with."""

    original: bytes
    certified: bytes
    approved: bytes
    root_pem: Path
    path: Path
    ca: TestCa


@pytest.fixture(scope="session")
def seal(pki: Pki) -> Seal:
    key = generate_private_key(KeyAlgorithm.EC_P256)
    cert = profiles.build_signer(
        SubjectInfo("契印株式会社 電子契約", "契印株式会社", email="seal@keiin.example.jp"),
        key.public_key(),
        pki.issuing,
        URLS,
    )
    return Seal(cert, key)


@pytest.fixture(scope="session")
def font() -> Path:
    """The Japanese stamp font; a missing font fails loudly (the setup installs it)."""
    try:
        return default_japanese_font()
    except StampFontError as exc:
        pytest.fail(f"{exc} (./run setup installs it)")


@pytest.fixture(scope="module")
def contract(pki: Pki, seal: Seal, font: Path, tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("contract")
    ca = TestCa(pki)
    tsa = timestamper(pki)
    original = minimal_pdf(pages=2)
    with one_shot_signer(seal.certificate, seal.key, pki) as signer:
        certified = certify(
            original,
            signer,
            timestamper=tsa,
            field_name="OperatorSeal",
            signature_fields=[SignatureField("Signatory1", page=0, box=(50, 50, 270, 110))],
            stamp=VisibleStamp("契印株式会社", "電子契約サービス", font, box=(300, 50, 540, 110)),
        )
    with one_shot_signer(pki.signer, pki.signer_key, pki) as signer:
        approved = approve(
            certified,
            signer,
            timestamper=tsa,
            revinfo=ca,
            field_name="Signatory1",
            stamp=VisibleStamp("山田 太郎", "株式会社サンプル", font),
        )
    root_pem = folder / "root.pem"
    root_pem.write_bytes(pki.root.certificate.public_bytes(serialization.Encoding.PEM))
    path = folder / "contract.pdf"
    path.write_bytes(approved)
    return Contract(original, certified, approved, root_pem, path, ca)
