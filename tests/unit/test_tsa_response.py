"""Rejection replies: RFC 3161 TimeStampResp with status rejection, statusString, failInfo."""

from __future__ import annotations

import pytest
from asn1crypto import core, tsp

from keiin.tsa.response import (
    DEFAULT_TEXT,
    FailInfo,
    Rejection,
    rejection_response,
    status_of,
)
from tests.unit.test_tsa_support import openssl

OPENSSL_TEXT = {
    FailInfo.BAD_ALG: "unrecognized or unsupported algorithm identifier",
    FailInfo.BAD_REQUEST: "transaction not permitted or supported",
    FailInfo.BAD_DATA_FORMAT: "the data submitted has the wrong format",
    FailInfo.TIME_NOT_AVAILABLE: "the TSA's time source is not available",
    FailInfo.UNACCEPTED_POLICY: "the requested TSA policy is not supported by the TSA",
    FailInfo.UNACCEPTED_EXTENSION: "the requested extension is not supported by the TSA",
    FailInfo.ADD_INFO_NOT_AVAILABLE: "the additional information requested could not be "
    "understood or is not available",
    FailInfo.SYSTEM_FAILURE: "the request cannot be handled due to system failure",
}


def test_fail_info_bits_are_rfc3161s():
    names = {fail: tsp.PKIFailureInfo._map[fail.value] for fail in FailInfo}
    assert names == {
        FailInfo.BAD_ALG: "bad_alg",
        FailInfo.BAD_REQUEST: "bad_request",
        FailInfo.BAD_DATA_FORMAT: "bad_data_format",
        FailInfo.TIME_NOT_AVAILABLE: "time_not_available",
        FailInfo.UNACCEPTED_POLICY: "unaccepted_policy",
        FailInfo.UNACCEPTED_EXTENSION: "unaccepted_extensions",
        FailInfo.ADD_INFO_NOT_AVAILABLE: "add_info_not_available",
        FailInfo.SYSTEM_FAILURE: "system_failure",
    }


@pytest.mark.parametrize("fail", list(FailInfo))
def test_openssl_reads_every_rejection(tmp_path, fail):
    path = tmp_path / "r.tsr"
    path.write_bytes(rejection_response(fail, f"because {fail.name.lower()}"))
    result = openssl("ts", "-reply", "-in", path, "-text")
    assert result.returncode == 0, result.stderr
    assert "Status: Rejected." in result.stdout
    assert f"Status description: because {fail.name.lower()}" in result.stdout
    assert f"Failure info: {OPENSSL_TEXT[fail]}\n" in result.stdout


@pytest.mark.parametrize("fail", list(FailInfo))
@pytest.mark.parametrize("text", [None, "short", "時刻源が利用できません", "x" * 300])
def test_rejection_is_der_and_says_what_it_should(fail, text):
    body = rejection_response(fail, text)
    # asn1crypto cannot load a TimeStampResp without a token: read the PKIStatusInfo alone.
    outer = core.Sequence.load(body, strict=True)
    assert len(outer) == 1
    info = tsp.PKIStatusInfo.load(outer[0].dump(), strict=True)
    assert info.dump(force=True) == outer[0].dump()  # DER: re-encoding is identical
    assert info["status"].native == "rejection"
    assert info["fail_info"].native == {tsp.PKIFailureInfo._map[fail.value]}
    assert info["status_string"].native == ([text] if text else None)
    status = status_of(body)
    assert (status.status, status.text, status.fail_info, status.granted) == (
        2,
        text,
        frozenset({fail}),
        False,
    )


def test_rejection_responses_are_cached():
    assert rejection_response(FailInfo.BAD_ALG, "x") is rejection_response(FailInfo.BAD_ALG, "x")
    assert rejection_response(FailInfo.BAD_ALG, "x") != rejection_response(FailInfo.BAD_ALG, "y")


def test_rejection_carries_its_reply():
    plain = Rejection(FailInfo.TIME_NOT_AVAILABLE)
    assert plain.text == DEFAULT_TEXT[FailInfo.TIME_NOT_AVAILABLE]
    assert str(plain) == plain.text
    told = Rejection(FailInfo.SYSTEM_FAILURE, "log unavailable")
    assert (told.fail_info, told.text) == (FailInfo.SYSTEM_FAILURE, "log unavailable")
    assert told.response() == rejection_response(FailInfo.SYSTEM_FAILURE, "log unavailable")
    assert all(DEFAULT_TEXT[f] for f in FailInfo)


@pytest.mark.parametrize("junk", [b"", b"\x30", b"\x04\x00", b"\x30\x03\x02\x01\x00\x00"])
def test_status_of_refuses_what_is_not_a_response(junk):
    with pytest.raises(ValueError):
        status_of(junk)
