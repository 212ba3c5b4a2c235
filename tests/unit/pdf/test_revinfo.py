"""Walking certificate paths to collect revocation data, and when it is fetched: at once after
a whole-second timestamp, in the same second, without waiting."""

from __future__ import annotations

import asyncio
import datetime as dt
import subprocess
import sys
from io import BytesIO

import pytest
from asn1crypto import ocsp as asn1_ocsp
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils.reader import PdfFileReader

from keiin.pdf import PdfSigningError, RevocationData
from keiin.pdf.revinfo import ceil_second, collect, has_ocsp_nocheck, needs_status, wait_until
from keiin.pdf.signing import SignatureField, approve, certify
from tests.unit.pdf.support import (
    PADES_CHECK,
    TestCa,
    asn1,
    minimal_pdf,
    one_shot_signer,
    timestamper,
)
from tests.unit.pdf.validation import validate


def test_collect_walks_up_to_the_root(pki):
    ca = TestCa(pki)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    info = collect(ca, [asn1(pki.signer), asn1(pki.tsa)], not_before=now)
    assert len(ca.calls) == 2  # leaves, then the issuing CA
    assert len(info.ocsp_responses) == 1
    assert len(info.crls) == 3  # issuing CA's CRL, then two root CRLs (one per round)
    subjects = {c.subject.native["common_name"] for c in info.certificates}
    assert "Example KK Issuing CA OCSP Responder" in subjects
    assert "Example KK Root CA" in subjects
    for response in info.ocsp_responses:
        single = response.basic_ocsp_response["tbs_response_data"]["responses"][0]
        assert single["this_update"].native >= now


def test_responder_and_root_need_no_status(pki):
    assert has_ocsp_nocheck(asn1(pki.ocsp))
    assert not needs_status(asn1(pki.ocsp))
    assert not needs_status(asn1(pki.root.certificate))
    assert needs_status(asn1(pki.issuing.certificate))


def test_missing_issuer_is_an_error(pki):
    class Silent:
        def fetch(self, certificates, *, not_before):
            return RevocationData()

    with pytest.raises(PdfSigningError, match="no issuer"):
        collect(Silent(), [asn1(pki.signer)], not_before=dt.datetime.now(dt.UTC))


def test_garbage_from_the_source_is_an_error(pki):
    class Broken:
        def fetch(self, certificates, *, not_before):
            return RevocationData(ocsp_responses=(b"\x30\x03\x02\x01\x00",))

    with pytest.raises(PdfSigningError, match="bad data"):
        collect(Broken(), [asn1(pki.signer)], not_before=dt.datetime.now(dt.UTC))


def test_wait_until_rounds_up_to_the_next_second():
    moment = dt.datetime.now(dt.UTC)
    slept = asyncio.run(wait_until(moment))
    assert 0 <= slept <= 1
    assert dt.datetime.now(dt.UTC) >= ceil_second(moment)
    assert asyncio.run(wait_until(moment - dt.timedelta(seconds=5))) == 0


def _approved(pki, seal, tsa, ca, monkeypatch) -> tuple[bytes, list[float]]:
    """Certify, then approve with ``tsa`` and ``ca``; also the seconds approve slept."""
    slept: list[float] = []

    async def recording_wait(moment):
        slept.append(await wait_until(moment))
        return slept[-1]

    with one_shot_signer(seal.certificate, seal.key, pki) as signer:
        certified = certify(
            minimal_pdf(),
            signer,
            timestamper=tsa,
            field_name="Seal",
            signature_fields=[SignatureField("Signatory")],
        )
    monkeypatch.setattr("keiin.pdf.signing.wait_until", recording_wait)
    with one_shot_signer(pki.signer, pki.signer_key, pki) as signer:
        approved = approve(
            certified, signer, timestamper=tsa, revinfo=ca, field_name="Signatory", stamp=None
        )
    return approved, slept


def _signature_time_and_ocsp_times(pdf: bytes) -> tuple[dt.datetime, list[dt.datetime]]:
    reader = PdfFileReader(BytesIO(pdf), strict=False)
    sig = next(s for s in reader.embedded_signatures if s.field_name == "Signatory")
    [token] = [
        value
        for attr in sig.signed_data["signer_infos"][0]["unsigned_attrs"]
        if attr["type"].native == "signature_time_stamp_token"
        for value in attr["values"]
    ]
    gen_time = token["content"]["encap_content_info"]["content"].parsed["gen_time"].native
    this_updates = []
    for ref in reader.root["/DSS"]["/OCSPs"]:
        response = asn1_ocsp.OCSPResponse.load(ref.get_object().data)
        for single in response.basic_ocsp_response["tbs_response_data"]["responses"]:
            this_updates.append(single["this_update"].native)
    return gen_time, this_updates


def test_whole_second_timestamps_need_no_wait(pki, seal, monkeypatch):
    approved, slept = _approved(pki, seal, timestamper(pki), TestCa(pki), monkeypatch)
    assert slept == [0.0]
    gen_time, this_updates = _signature_time_and_ocsp_times(approved)
    assert gen_time.microsecond == 0
    assert all(t >= gen_time for t in this_updates)


def test_revocation_data_of_the_very_second_of_the_timestamp_validates(
    pki, seal, monkeypatch, tmp_path
):
    """OCSP thisUpdate == genTime, to the second: strict offline AdES-LTA still passes."""
    moment = dt.datetime.now(dt.UTC).replace(microsecond=0)
    frozen = lambda: moment  # noqa: E731
    approved, slept = _approved(
        pki, seal, timestamper(pki, now=frozen), TestCa(pki, now=frozen), monkeypatch
    )
    assert slept == [0.0]
    gen_time, this_updates = _signature_time_and_ocsp_times(approved)
    assert gen_time == moment and this_updates and set(this_updates) == {moment}
    results = validate(approved, asn1(pki.root.certificate))
    for name in ("Seal", "Signatory"):
        assert results[name]["intact"] and results[name]["trusted"], (name, results[name])
        assert results[name]["lta"] == "PASSED", (name, results[name])
    if not PADES_CHECK.exists():
        pytest.skip("shared acceptance check not present")
    path, root = tmp_path / "same-second.pdf", tmp_path / "root.pem"
    path.write_bytes(approved)
    root.write_bytes(pki.root.certificate.public_bytes(serialization.Encoding.PEM))
    check = [sys.executable, str(PADES_CHECK), str(path), str(root), "--expect-level", "LTA"]
    result = subprocess.run(check, capture_output=True, text=True, timeout=300, check=False)
    assert "0 failed" in result.stdout and result.returncode == 0, result.stdout + result.stderr


def test_millisecond_timestamps_wait_for_the_next_second(pki, seal, monkeypatch):
    """A TSA with sub-second genTimes still works: approve waits (up to a second)."""
    approved, slept = _approved(
        pki, seal, timestamper(pki, whole_seconds=False), TestCa(pki), monkeypatch
    )
    gen_time, this_updates = _signature_time_and_ocsp_times(approved)
    assert all(t >= ceil_second(gen_time) for t in this_updates)
    assert len(slept) == 1  # how long depends on where in its second the timestamp fell
    results = validate(approved, asn1(pki.root.certificate))
    assert results["Signatory"]["lta"] == "PASSED", results["Signatory"]
