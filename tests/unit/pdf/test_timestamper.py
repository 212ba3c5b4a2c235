"""The callable time-stamper: Keiin's TSA in-process, whole-second genTimes, size estimates
without tokens, and failures reported clearly."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib

import pytest
from asn1crypto import cms, tsp
from pyhanko.sign.timestamps import TimestampRequestError

from keiin.pdf.signing import SignatureField, certify
from keiin.pdf.timestamper import CallableTimeStamper, factory_size_model, whole_second
from keiin.tsa.request import parse_request
from keiin.tsa.template import TokenFactory, TsaProfile, token_of
from tests.unit.pdf.support import minimal_pdf, one_shot_signer, timestamper


def test_tokens_from_the_in_process_tsa(pki):
    stamper = timestamper(pki)
    token = asyncio.run(stamper.async_timestamp(hashlib.sha256(b"x").digest(), "sha256"))
    tst_info = token["content"]["encap_content_info"]["content"].parsed
    assert tst_info["message_imprint"]["hashed_message"].native == hashlib.sha256(b"x").digest()


def test_malformed_answer_raises():
    stamper = CallableTimeStamper(lambda request: b"not DER")
    with pytest.raises(TimestampRequestError):
        asyncio.run(stamper.async_timestamp(hashlib.sha256(b"x").digest(), "sha256"))


def test_transport_in_a_thread(pki):
    inner = timestamper(pki)._transport
    stamper = CallableTimeStamper(inner, in_thread=True)
    token = asyncio.run(stamper.async_timestamp(hashlib.sha256(b"y").digest(), "sha256"))
    assert token["content_type"].native == "signed_data"


def _real_token(factory: TokenFactory, md_algorithm: str) -> bytes:
    """The largest real token ``factory`` gives: 160-bit serial, 64-bit nonce, certReq."""
    request = tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": {
                "hash_algorithm": {"algorithm": md_algorithm},
                "hashed_message": hashlib.new(md_algorithm, b"x").digest(),
            },
            "nonce": (1 << 64) - 1,
            "cert_req": True,
        }
    ).dump()
    moment = dt.datetime(2026, 11, 30, 23, 59, 59, 999_000, tzinfo=dt.UTC)
    response = factory.grant(parse_request(request), serial=(1 << 160) - 1, gen_time=moment)
    return token_of(response)


@pytest.mark.parametrize("which", ["pki", "rsa_pki"])
@pytest.mark.parametrize("md_algorithm", ["sha256", "sha512"])
@pytest.mark.parametrize("include_chain", [False, True])
def test_placeholder_is_never_smaller_than_a_real_token(
    which, md_algorithm, include_chain, request
):
    pki = request.getfixturevalue(which)
    factory = TokenFactory(
        TsaProfile(
            certificate=pki.tsa,
            key=pki.tsa_key,
            chain=(pki.root.certificate,),
            include_chain=include_chain,
        )
    )
    placeholder = factory_size_model(factory)(md_algorithm)
    real = _real_token(factory, md_algorithm)
    assert len(real) <= len(placeholder) <= len(real) + 300
    # Shaped like a token (pyHanko reads its certificates), but never a valid one.
    token = cms.ContentInfo.load(placeholder)
    assert token["content"]["encap_content_info"]["content_type"].native == "tst_info"
    assert set(token["content"]["signer_infos"][0]["signature"].native) == {0}


def test_size_estimates_spend_no_token(pki, seal):
    calls: list[bytes] = []
    with one_shot_signer(seal.certificate, seal.key, pki) as signer:
        certify(
            minimal_pdf(),
            signer,
            timestamper=timestamper(pki, calls=calls),
            field_name="Seal",
            signature_fields=[SignatureField("Signatory")],
        )
    assert len(calls) == 1  # the signature timestamp, nothing for the estimate


def test_without_a_size_model_pyhanko_spends_one_token_on_its_estimate(pki, seal):
    calls: list[bytes] = []
    with one_shot_signer(seal.certificate, seal.key, pki) as signer:
        certify(
            minimal_pdf(),
            signer,
            timestamper=timestamper(pki, calls=calls, size_model=False),
            field_name="Seal",
        )
    assert len(calls) == 2


def test_a_malformed_placeholder_is_a_timestamp_error():
    stamper = CallableTimeStamper(lambda request: b"", size_model=lambda md: b"junk")
    with pytest.raises(TimestampRequestError, match="size model"):
        asyncio.run(stamper.async_dummy_response("sha256"))


def test_whole_second_gen_times(pki):
    moment = dt.datetime(2026, 11, 30, 9, 15, 42, 873_000, tzinfo=dt.UTC)
    stamper = timestamper(pki, now=lambda: moment)
    token = asyncio.run(stamper.async_timestamp(hashlib.sha256(b"z").digest(), "sha256"))
    tst_info = token["content"]["encap_content_info"]["content"].parsed
    assert tst_info["gen_time"].native == whole_second(moment) == moment.replace(microsecond=0)
    precise = timestamper(pki, now=lambda: moment, whole_seconds=False)
    token = asyncio.run(precise.async_timestamp(hashlib.sha256(b"z").digest(), "sha256"))
    assert token["content"]["encap_content_info"]["content"].parsed["gen_time"].native == moment
