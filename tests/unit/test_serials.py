"""keiin.pki.serials: random serials and parsing serials typed by people."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keiin.pki.serials import SERIAL_BITS, parse_serial, random_serial, serial_to_hex


def test_random_serial_range_over_many_draws():
    draws = [random_serial() for _ in range(5000)]
    assert all(1 << 64 <= s < 1 << (SERIAL_BITS - 1) for s in draws)
    assert len(set(draws)) == len(draws)
    # DER INTEGER: positive, so at most 16 content octets (RFC 5280 allows 20).
    assert all(len(s.to_bytes((s.bit_length() + 8) // 8, "big", signed=True)) <= 16 for s in draws)
    # Entropy check, loose enough never to flake: the top (127th) bit is set in about half.
    top = sum(s >> (SERIAL_BITS - 2) for s in draws)
    assert 2000 < top < 3000


def test_serial_to_hex_is_lower_case_without_leading_zeros():
    assert serial_to_hex(0x0ABCDEF) == "abcdef"
    assert serial_to_hex(1) == "1"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("abcdef", 0xABCDEF),
        ("ABCDEF", 0xABCDEF),
        ("0xabcdef", 0xABCDEF),
        ("0XABCDEF", 0xABCDEF),
        ("ab:cd:ef", 0xABCDEF),
        ("AB:CD:EF", 0xABCDEF),
        ("  ab cd ef \n", 0xABCDEF),
        ("0x00:01", 1),
        ("007f", 0x7F),
    ],
)
def test_parse_serial_accepts_human_forms(text, value):
    assert parse_serial(text) == value


@pytest.mark.parametrize(
    "text",
    ["", "   ", "0x", ":", "0", "00:00", "0x0", "xyz", "12g4", "-1", "+1", "1.5", "０１", "0x-1"],
)
def test_parse_serial_rejects_garbage_and_zero(text):
    with pytest.raises(ValueError):
        parse_serial(text)


@given(st.integers(min_value=1, max_value=(1 << 160) - 1))
def test_parse_serial_round_trips(serial):
    text = serial_to_hex(serial)
    assert parse_serial(text) == serial
    assert parse_serial("0x" + text.upper()) == serial
    padded = text.zfill(len(text) + len(text) % 2)
    colons = ":".join(padded[i : i + 2] for i in range(0, len(padded), 2))
    assert parse_serial(colons) == serial


@given(st.text(max_size=40))
def test_parse_serial_only_raises_value_error(text):
    try:
        value = parse_serial(text)
    except ValueError:
        return
    assert value > 0
