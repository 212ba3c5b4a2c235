"""The web glue of :mod:`keiin.pdf`: Keiin's CA as revocation source, Keiin's TSA in-process
(every token logged first), signatory keys under a PIN — one contract signed end to end and
validated strictly offline.

There is no operator seal credential yet, so the partner signatory's credential certifies
and approves (two separate unlocks).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import subprocess
import sys
import time
from io import BytesIO
from pathlib import Path

import pytest
from asn1crypto import cms, tsp
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization
from django.conf import settings
from pyhanko.pdf_utils.reader import PdfFileReader

from keiin.pdf import (
    PdfSigningError,
    SignatureField,
    VisibleStamp,
    approve,
    certify,
    default_japanese_font,
)
from keiin.pdf.signing import approve_file, certify_file
from keiin.pki.keys import KeyAlgorithm
from keiin.tsa.clock import ClockStatus, ClockStatusFile
from keiin.tsa.template import TsaProfile
from keiin.web.ca import services as ca_services
from keiin.web.credentials import services as credential_services
from keiin.web.credentials.pepper import reset_pepper
from keiin.web.signing import (
    CaRevocationSource,
    UnknownCertificateError,
    accuracy_covers_whole_seconds,
    keiin_timestamper,
    signer_for,
)
from keiin.web.timestamping.config import tsa_settings
from keiin.web.timestamping.models import IssuedToken
from tests.support.custody import use_fast_custody
from tests.support.partners import register
from tests.unit.pdf.support import minimal_pdf
from tests.unit.pki_factory import build_pki

pytest_plugins = ["tests.support.smtp"]
pytestmark = pytest.mark.django_db(transaction=True)

PIN = "583920"
WRONG_PIN = "719305"
PADES_CHECK = Path(__file__).resolve().parents[3] / "shared" / "checks" / "pades-check.py"


@pytest.fixture(autouse=True)
def _fast_kdf(monkeypatch, tmp_path):
    use_fast_custody(monkeypatch, tmp_path)
    tsa_settings.cache_clear()
    yield
    reset_pepper()
    tsa_settings.cache_clear()


@pytest.fixture(autouse=True)
def clock():
    """The shared clock status says "checked, in tolerance" (as `keiin serve` writes it after
    an NTP check); a test may write another state. Restored afterwards."""
    path = settings.HOME.run / "clock.status"
    before = path.read_bytes() if path.exists() else None
    status_file = ClockStatusFile(path)

    def write(state: str, offset: float | None) -> None:
        source = f"127.0.0.1:12345 (stratum 1, state {state})"
        status_file.write(ClockStatus(state, offset, time.time(), source, time.monotonic()))

    write("ok", 0.001)
    yield write
    status_file.close()
    if before is None:
        path.unlink(missing_ok=True)
    else:
        path.write_bytes(before)


@pytest.fixture
def keiin(smtp_server):
    """The hierarchy (with its TSA certificate) and a signatory's credential under PIN."""
    hierarchy = ca_services.ensure_hierarchy("Test Operator", actor="test")
    registered = register(smtp_server)
    credential = credential_services.request_certificate(
        registered.user, PIN, credential_services.Receipt("192.0.2.7", "pytest")
    )
    return hierarchy, registered, credential


def _tokens_in(pdf: bytes) -> list[bytes]:
    """DER of every time-stamp token in ``pdf`` (signature timestamps, document timestamps)."""
    reader = PdfFileReader(BytesIO(pdf), strict=False)
    tokens = []
    for sig in reader.embedded_signatures:
        if sig.sig_object.get("/Type") == "/DocTimeStamp":
            tokens.append(cms.ContentInfo.load(bytes(sig.pkcs7_content)).dump())  # (no padding)
            continue
        for signer_info in sig.signed_data["signer_infos"]:
            for attr in signer_info["unsigned_attrs"] or ():
                if attr["type"].native == "signature_time_stamp_token":
                    tokens.extend(token.dump() for token in attr["values"])
    return tokens


def _tst_info(token_der: bytes) -> tsp.TSTInfo:
    content = cms.ContentInfo.load(token_der)["content"]
    return content["encap_content_info"]["content"].parsed


def test_certify_and_approve_with_keiin_ca_tsa_and_credential(keiin, tmp_path):
    hierarchy, registered, credential = keiin
    actor = f"user:{registered.user.login_id}"
    before = IssuedToken.objects.count()
    original = minimal_pdf()
    with signer_for(credential, PIN, actor=actor) as signer:
        certified = certify(
            original,
            signer,
            timestamper=keiin_timestamper(),
            field_name="OperatorSeal",
            signature_fields=[SignatureField("Signatory1", page=0, box=(50, 50, 270, 110))],
        )
    with signer_for(credential, PIN, actor=actor) as signer:
        approved = approve(
            certified,
            signer,
            timestamper=keiin_timestamper(),
            revinfo=CaRevocationSource(),
            field_name="Signatory1",
            stamp=VisibleStamp("署名 一郎", "取引先株式会社", default_japanese_font()),
        )
    assert approved.startswith(certified) and certified.startswith(original)

    # Every token in the document was written to the issuance log (account None), with a
    # whole-second genTime (the default accuracy of 1 s covers it).
    tokens = _tokens_in(approved)
    assert len(tokens) == 3  # two signature timestamps and the document timestamp
    for token in tokens:
        info = _tst_info(token)
        row = IssuedToken.objects.get(serial_hex=format(info["serial_number"].native, "x"))
        assert row.token_sha256 == hashlib.sha256(token).hexdigest()
        assert row.account_id is None
        assert info["gen_time"].native.microsecond == 0
        assert info["accuracy"]["seconds"].native == 1
    # And no other token: pyHanko's size estimates used a placeholder, not a real token.
    assert IssuedToken.objects.count() - before == len(tokens)

    root = hierarchy.root
    root_pem = tmp_path / "root.pem"
    root_pem.write_bytes(
        ca_services.certificate_of(root.certificate_der).public_bytes(serialization.Encoding.PEM)
    )
    path = tmp_path / "contract.pdf"
    path.write_bytes(approved)
    if not PADES_CHECK.exists():
        pytest.skip("shared acceptance check not present")
    result = subprocess.run(
        [
            sys.executable,
            str(PADES_CHECK),
            str(path),
            str(root_pem),
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


def test_wrong_pin_signs_nothing_and_consumes_no_token(keiin):
    _hierarchy, _registered, credential = keiin
    before = IssuedToken.objects.count()
    outcome = None
    with (
        pytest.raises(credential_services.PinRejectedError),
        signer_for(credential, WRONG_PIN, actor="test") as signer,
    ):
        outcome = certify(
            minimal_pdf(), signer, timestamper=keiin_timestamper(), field_name="OperatorSeal"
        )
    assert outcome is None
    assert IssuedToken.objects.count() == before
    credential.refresh_from_db()
    assert credential.pin_failures == 1


def test_revocation_source_answers_like_the_ocsp_endpoint(keiin):
    hierarchy, _registered, credential = keiin
    cert = asn1_x509.Certificate.load(bytes(credential.certificate.certificate_der))
    not_before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    data = CaRevocationSource().fetch([cert], not_before=not_before)
    assert len(data.ocsp_responses) == 1 and len(data.crls) == 1
    response = asn1_ocsp.OCSPResponse.load(data.ocsp_responses[0])
    basic = response["response_bytes"]["response"].parsed
    single = basic["tbs_response_data"]["responses"][0]
    assert single["cert_status"].name == "good"
    assert single["cert_id"]["serial_number"].native == cert.serial_number
    assert single["this_update"].native >= not_before
    assert basic["tbs_response_data"]["response_extensions"].native is None  # no nonce
    responder = basic["certs"][0]
    assert "OCSP Responder" in responder.subject.human_friendly
    certificates = {asn1_x509.Certificate.load(c).subject.human_friendly for c in data.certificates}
    assert any("Issuing CA" in name for name in certificates)
    assert any("Root CA" in name for name in certificates)
    assert any(hierarchy.issuing.name in name for name in certificates)


def test_revocation_source_refuses_a_foreign_certificate(keiin):
    foreign = asn1_x509.Certificate.load(
        build_pki(KeyAlgorithm.EC_P256, org="Other Corp").signer.public_bytes(
            serialization.Encoding.DER
        )
    )
    with pytest.raises(UnknownCertificateError, match="did not issue"):
        CaRevocationSource().fetch(
            [foreign], not_before=dt.datetime.now(dt.UTC).replace(microsecond=0)
        )


def test_untrusted_clock_refuses_time_stamps(keiin, clock):
    _hierarchy, _registered, credential = keiin
    clock("unknown", None)
    before = IssuedToken.objects.count()
    with (
        pytest.raises(PdfSigningError, match="clock"),
        signer_for(credential, PIN, actor="test") as signer,
    ):
        certify(minimal_pdf(), signer, timestamper=keiin_timestamper(), field_name="Seal")
    assert IssuedToken.objects.count() == before


def test_whole_second_gen_times_need_an_accuracy_of_a_second():
    pki = build_pki(KeyAlgorithm.EC_P256)

    def profile(millis: int) -> TsaProfile:
        seconds, rest = divmod(millis, 1000)
        return TsaProfile(
            certificate=pki.tsa, key=pki.tsa_key, accuracy_seconds=seconds, accuracy_millis=rest
        )

    assert accuracy_covers_whole_seconds(profile(1000))
    assert accuracy_covers_whole_seconds(profile(2500))
    assert not accuracy_covers_whole_seconds(profile(999))
    assert not accuracy_covers_whole_seconds(profile(0))


def test_approve_file_with_keiin_services(keiin, tmp_path):
    """The file API end to end: the web layer's path for large contracts."""
    _hierarchy, registered, credential = keiin
    actor = f"user:{registered.user.login_id}"
    original, certified, approved = (tmp_path / n for n in ("o.pdf", "c.pdf", "a.pdf"))
    original.write_bytes(minimal_pdf())
    with signer_for(credential, PIN, actor=actor) as signer:
        certify_file(
            original,
            certified,
            signer,
            timestamper=keiin_timestamper(),
            field_name="OperatorSeal",
            signature_fields=[SignatureField("Signatory1")],
        )
    with signer_for(credential, PIN, actor=actor) as signer, approved.open("w+b") as out:
        size = approve_file(
            certified,
            out,
            signer,
            timestamper=keiin_timestamper(),
            revinfo=CaRevocationSource(),
            field_name="Signatory1",
            stamp=None,
            tmp_dir=tmp_path,
        )
    data = approved.read_bytes()
    assert size == len(data) and data.startswith(certified.read_bytes())
    assert len(_tokens_in(data)) == 3
