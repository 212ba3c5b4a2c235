"""keiin.tsa.der produces what asn1crypto produces (DER), and reads TLVs safely."""

from __future__ import annotations

import datetime as dt

import pytest
from asn1crypto import core
from hypothesis import given
from hypothesis import strategies as st

from keiin.tsa import der


@given(st.integers(min_value=-(2**600), max_value=2**600))
def test_integer_matches_asn1crypto(value):
    assert der.integer(value) == core.Integer(value).dump()


@given(st.integers(min_value=0, max_value=2**20))
def test_length_is_minimal(n):
    content = b"\x00" * n
    assert der.tlv(0x04, content) == core.OctetString(content).dump()


@given(
    st.integers(min_value=0, max_value=2),
    st.integers(min_value=0, max_value=39),
    st.lists(st.integers(min_value=0, max_value=2**70), max_size=12),
)
def test_oid_matches_asn1crypto(first, second, rest):
    dotted = ".".join(map(str, [first, second if first < 2 else second * 1000, *rest]))
    assert der.oid(dotted) == core.ObjectIdentifier(dotted).dump()


@pytest.mark.parametrize("bad", ["", "1", "3.1", "1.40", "1.2.-3", "1.2.03", "1..2", "a.b", "1.2 "])
def test_bad_oids_are_refused(bad):
    with pytest.raises(ValueError):
        der.oid(bad)


@pytest.mark.parametrize(
    ("micro", "text"),
    [
        (0, "20260401093005Z"),
        (1000, "20260401093005.001Z"),
        (100000, "20260401093005.1Z"),
        (120000, "20260401093005.12Z"),
        (999999, "20260401093005.999Z"),
        (999, "20260401093005Z"),  # below a millisecond: truncated away
    ],
)
def test_generalized_time_millis_without_trailing_zeros(micro, text):
    moment = dt.datetime(2026, 4, 1, 9, 30, 5, micro, tzinfo=dt.UTC)
    encoded = der.generalized_time(moment)
    assert encoded == b"\x18" + bytes((len(text),)) + text.encode()
    parsed = core.GeneralizedTime.load(encoded).native
    assert parsed == moment.replace(microsecond=micro // 1000 * 1000)


def test_generalized_time_converts_to_utc_and_refuses_naive():
    jst = dt.timezone(dt.timedelta(hours=9))
    assert der.generalized_time(dt.datetime(2026, 4, 1, 9, 0, tzinfo=jst)) == (
        b"\x18\x0f20260401000000Z"
    )
    with pytest.raises(ValueError):
        der.generalized_time(dt.datetime(2026, 4, 1, 9, 0))


@given(st.binary(max_size=64), st.integers(min_value=0, max_value=70))
def test_read_header_never_overruns(data, offset):
    try:
        tag, start, end = der.read_header(data, offset)
    except ValueError:
        return
    assert offset + 2 <= start <= end <= len(data)
    assert tag == data[offset]


def test_read_header_refuses_indefinite_and_long_tags():
    with pytest.raises(ValueError):
        der.read_header(b"\x30\x80\x00\x00")
    with pytest.raises(ValueError):
        der.read_header(b"\x1f\x01\x00")
    assert der.read_header(b"\x04\x82\x01\x00" + b"\x00" * 256) == (4, 4, 260)
