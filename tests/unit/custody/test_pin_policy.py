"""The PIN policy: shape, refused patterns, normalisation, lockout constants."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keiin.custody import (
    MAX_PIN_FAILURES,
    WeakPinError,
    check_pin_strength,
    is_locked,
    normalize_pin,
)
from keiin.custody.pin_policy import COMMON_PINS, MAX_PIN_LENGTH, MIN_PIN_LENGTH


@pytest.mark.parametrize(
    ("pin", "code"),
    [
        ("12a456", "not_digits"),
        ("123 456", "not_digits"),
        ("", "too_short"),
        ("58392", "too_short"),
        ("5839205839201", "too_long"),
        ("٥٨٣٩٢٠", "not_digits"),  # Arabic-Indic digits are digits, but not 0-9
        ("000000", "same_digit"),
        ("999999999999", "same_digit"),
        ("123456", "sequence"),
        ("987654", "sequence"),
        ("890123", "sequence"),
        ("3210987", "sequence"),
        ("135791", "sequence"),
        ("121212", "repeated_pattern"),
        ("123123", "repeated_pattern"),
        ("12341234", "repeated_pattern"),
        ("1231231", "repeated_pattern"),
        ("112211", "few_digits"),
        ("100001", "few_digits"),
        ("123321", "common"),
        ("147258", "common"),
        ("159753", "common"),
    ],
)
def test_refused_pins_carry_their_reason(pin, code):
    with pytest.raises(WeakPinError) as excinfo:
        check_pin_strength(pin)
    assert excinfo.value.code == code


@pytest.mark.parametrize("pin", ["583920", "730185", "20240917", "938271640562", "019283"])
def test_ordinary_pins_are_accepted(pin):
    assert check_pin_strength(pin) == pin


def test_every_common_pin_is_refused_as_common_and_is_not_redundant():
    # Each list entry must be of an acceptable shape and not already caught by a structural rule,
    # otherwise the list is dead weight and its size claims are misleading.
    for pin in sorted(COMMON_PINS):
        assert MIN_PIN_LENGTH <= len(pin) <= MAX_PIN_LENGTH and pin.isdigit(), pin
        with pytest.raises(WeakPinError) as excinfo:
            check_pin_strength(pin)
        assert excinfo.value.code == "common", pin


def test_full_width_digits_are_the_same_pin():
    assert check_pin_strength("５８３９２０") == "583920"
    assert normalize_pin("５８３９２０") == "583920"


def test_a_pin_must_be_text():
    with pytest.raises(TypeError):
        check_pin_strength(583920)  # type: ignore[arg-type]


def test_every_run_of_six_digits_is_refused():
    for start, step in itertools.product(range(10), range(10)):
        pin = "".join(str((start + i * step) % 10) for i in range(6))
        with pytest.raises(WeakPinError):
            check_pin_strength(pin)


@given(st.text(alphabet="0123456789", min_size=MIN_PIN_LENGTH, max_size=MAX_PIN_LENGTH))
def test_accepted_pins_satisfy_every_rule(pin):
    try:
        normalised = check_pin_strength(pin)
    except WeakPinError:
        return
    digits = [int(c) for c in pin]
    assert normalised == pin
    assert len(set(digits)) >= 3
    assert len({(b - a) % 10 for a, b in itertools.pairwise(digits)}) > 1
    for period in range(1, len(pin) // 2 + 1):
        assert any(pin[i] != pin[i + period] for i in range(len(pin) - period))
    assert pin not in COMMON_PINS


@given(
    st.text(min_size=1).filter(
        lambda s: not normalize_pin(s).isascii() or not normalize_pin(s).isdigit()
    )
)
def test_anything_but_ascii_digits_is_refused(pin):
    with pytest.raises(WeakPinError) as excinfo:
        check_pin_strength(pin)
    assert excinfo.value.code == "not_digits"


def test_lockout_after_five_failures():
    assert MAX_PIN_FAILURES == 5
    assert [is_locked(n) for n in range(7)] == [False] * 5 + [True] * 2
