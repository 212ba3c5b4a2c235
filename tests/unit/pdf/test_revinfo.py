"""Walking certificate paths to collect revocation data."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from keiin.pdf import PdfSigningError, RevocationData
from keiin.pdf.revinfo import ceil_second, collect, has_ocsp_nocheck, needs_status, wait_until
from tests.unit.pdf.support import TestCa, asn1


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
