"""The callable time-stamper: Keiin's TSA in-process, and failures reported clearly."""

from __future__ import annotations

import asyncio
import hashlib

import pytest
from pyhanko.sign.timestamps import TimestampRequestError

from keiin.pdf.timestamper import CallableTimeStamper
from tests.unit.pdf.support import timestamper


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
