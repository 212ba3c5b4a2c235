"""What a signatory's PIN (暗証コード) must look like, and the lockout policy.

**Shape: 6 to 12 ASCII digits.** Digits because the PIN is typed on phones and shared office
PCs, like a bank or My Number card PIN; at least 6 because the only attack left to someone without
the server pepper is guessing online, which :data:`MAX_PIN_FAILURES` stops after 5 tries — at most
5 chances in a million for a 6-digit PIN chosen outside the refused set below; at most 12 so that
the PIN stays something a person remembers instead of writes down. Full-width digits typed through
a Japanese input method (``１２３４５６``) are the same PIN as their ASCII form: every PIN goes
through :func:`normalize_pin` (Unicode NFKC) before it is checked or used.

**Refused** (:func:`check_pin_strength` raises :class:`~keiin.custody.errors.WeakPinError` with a
``code``):

- ``same_digit``: one digit repeated (``000000``);
- ``sequence``: the same step between every pair of neighbouring digits, modulo 10 — ascending or
  descending runs (``123456``, ``987654``, ``890123``) and other progressions (``135791``);
- ``repeated_pattern``: a shorter block repeated (``121212``, ``123123``, ``12341234``,
  ``1231231``);
- ``few_digits``: fewer than three different digits (``112211``, ``100001``);
- ``common``: a small list of PINs that studies of leaked PINs find among the most frequent
  (keypad shapes such as ``147258`` and ``159753``, mirrored runs such as ``123321``, ``5201314``…).

Dates (birthdays) are not refused: they are a large share of the space and refusing them would
push people to write the PIN down; the lockout bounds what guessing a date can win.

**Lockout.** :data:`MAX_PIN_FAILURES` wrong PINs in a row lock the credential for good; the only
way back is revocation and a new certificate (with a new key). The counter lives in the database;
see the package docstring of :mod:`keiin.custody` for the order of operations the caller must
follow.
"""

from __future__ import annotations

import itertools
import unicodedata

from keiin.custody.errors import WeakPinError

MIN_PIN_LENGTH = 6
MAX_PIN_LENGTH = 12
MAX_PIN_FAILURES = 5
"""Consecutive wrong PINs after which the credential is locked (revoke and re-issue to recover)."""

MIN_DISTINCT_DIGITS = 3
_ASCII_DIGITS = frozenset("0123456789")

COMMON_PINS: frozenset[str] = frozenset(
    {
        # Keypad shapes and mirrored runs that fall outside the structural rules.
        "123321",
        "321123",
        "112233",
        "332211",
        "123654",
        "456321",
        "123789",
        "789123",
        "321654",
        "456123",
        "654123",
        "789456",
        "456789123",
        "147258",
        "147258369",
        "258369",
        "963852",
        "147369",
        "159357",
        "159753",
        "357159",
        "753159",
        "951357",
        "951753",
        "142536",
        "102030",
        "100200",
        "101202",
        "147852",
        "258456",
        "5201314",
        "1314520",
        "123654789",
        "987456321",
        "159632",
        "753951",
        "131415",
        "246813",
        "135246",
    }
)
"""Frequent PINs not already caught by the structural rules (kept short on purpose)."""


def normalize_pin(pin: str) -> str:
    """The canonical form of ``pin``: Unicode NFKC, so full-width digits become ASCII digits.

    The same normalisation is applied when a credential is created and when it is opened, so a
    PIN typed as ``１２３４５６`` opens a credential whose PIN was set as ``123456``.
    """
    if not isinstance(pin, str):
        raise TypeError(f"a PIN is a str, not {type(pin).__name__}")
    return unicodedata.normalize("NFKC", pin)


def check_pin_strength(pin: str) -> str:
    """Check a *new* PIN against the policy and return its normalised form.

    Raises :class:`~keiin.custody.errors.WeakPinError` (with ``code`` one of ``not_digits``,
    ``too_short``, ``too_long``, ``same_digit``, ``sequence``, ``repeated_pattern``,
    ``few_digits``, ``common``) when it is refused. The policy applies only when a PIN is set or
    changed; opening a credential never re-checks it, so tightening the policy never locks anyone
    out of an existing credential.
    """
    pin = normalize_pin(pin)
    if any(c not in _ASCII_DIGITS for c in pin):
        raise WeakPinError("not_digits", "the PIN must consist of the digits 0-9 only")
    if len(pin) < MIN_PIN_LENGTH:
        raise WeakPinError("too_short", f"the PIN must have at least {MIN_PIN_LENGTH} digits")
    if len(pin) > MAX_PIN_LENGTH:
        raise WeakPinError("too_long", f"the PIN must have at most {MAX_PIN_LENGTH} digits")
    digits = [int(c) for c in pin]
    if len(set(digits)) == 1:
        raise WeakPinError("same_digit", "the PIN must not repeat a single digit")
    steps = {(b - a) % 10 for a, b in itertools.pairwise(digits)}
    if len(steps) == 1:
        raise WeakPinError(
            "sequence", "the PIN must not be a run of digits such as 123456 or 987654"
        )
    if _shortest_period(pin) <= len(pin) // 2:
        raise WeakPinError(
            "repeated_pattern", "the PIN must not repeat a short pattern such as 121212"
        )
    if len(set(digits)) < MIN_DISTINCT_DIGITS:
        raise WeakPinError(
            "few_digits", f"the PIN must use at least {MIN_DISTINCT_DIGITS} different digits"
        )
    if pin in COMMON_PINS:
        raise WeakPinError("common", "this PIN is among the most commonly used; choose another")
    return pin


def is_locked(failure_count: int) -> bool:
    """Whether a credential with ``failure_count`` consecutive wrong PINs is locked."""
    return failure_count >= MAX_PIN_FAILURES


def _shortest_period(text: str) -> int:
    """The smallest ``p`` such that ``text[i] == text[i + p]`` for every valid ``i``."""
    for period in range(1, len(text)):
        if all(text[i] == text[i + period] for i in range(len(text) - period)):
            return period
    return len(text)
