"""Property tests: round trips for random PINs, and no alteration of a record ever opens it.

Every alteration must end in the documented custody error for that field — never a successful
unlock and never another exception type (which would be a crash, or would leak information).
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keiin.custody import (
    CorruptRecordError,
    CredentialMismatchError,
    KdfParams,
    PepperMismatchError,
    WeakPinError,
    WrongPinError,
    check_pin_strength,
    create_credential,
    normalize_pin,
    unlock,
)
from keiin.pki.keys import KeyAlgorithm
from tests.unit.custody.helpers import CREDENTIAL_ID, FAST_KDF, PIN, TENANT, memory_pepper

PEPPER = memory_pepper("tamper tests")
SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def record():
    made, _ = create_credential(
        PIN, pepper=PEPPER, tenant=TENANT, credential_id=CREDENTIAL_ID, kdf=FAST_KDF
    )
    return made


def _flip(value: bytes, bit: int) -> bytes:
    data = bytearray(value)
    data[bit // 8] ^= 1 << (bit % 8)
    return bytes(data)


def _unlock(record, pin=PIN, **kwargs):
    args = {"pepper": PEPPER, "tenant": record.tenant, "credential_id": record.credential_id}
    return unlock(record, pin, **(args | kwargs))


strong_pins = st.text(alphabet="0123456789", min_size=6, max_size=12).filter(
    lambda pin: _is_strong(pin)
)


def _is_strong(pin: str) -> bool:
    try:
        check_pin_strength(pin)
    except WeakPinError:
        return False
    return True


@settings(max_examples=25, deadline=None)
@given(pin=strong_pins, other=st.text(max_size=16))
def test_round_trip_for_random_pins(pin, other):
    made, _ = create_credential(
        pin, pepper=PEPPER, tenant=TENANT, credential_id=CREDENTIAL_ID, kdf=FAST_KDF
    )
    with _unlock(made, pin) as key:
        assert key.public_key_der == made.public_key_der
    if normalize_pin(other) != pin:
        with pytest.raises(WrongPinError):
            _unlock(made, other)


@SETTINGS
@given(pin=st.text(max_size=40))
def test_a_wrong_pin_never_yields_a_key(record, pin):
    if normalize_pin(pin) == PIN:
        return
    with pytest.raises(WrongPinError):
        _unlock(record, pin)


# For each bytes field: the error any single bit flip must produce.
BIT_FLIP_OUTCOME = {
    "ciphertext": WrongPinError,  # AES-GCM tag
    "nonce": WrongPinError,
    "salt": WrongPinError,  # different Argon2id output → different wrapping key
    "public_key_der": WrongPinError,  # its SHA-256 is in the AAD
    "pepper_fingerprint": PepperMismatchError,  # checked before the PIN is used
}


@SETTINGS
@given(field=st.sampled_from(sorted(BIT_FLIP_OUTCOME)), data=st.data())
def test_any_bit_flip_is_refused(record, field, data):
    value = getattr(record, field)
    bit = data.draw(st.integers(0, len(value) * 8 - 1), label="bit")
    tampered = replace(record, **{field: _flip(value, bit)})
    with pytest.raises(BIT_FLIP_OUTCOME[field]):
        _unlock(tampered)


@SETTINGS
@given(cut=st.integers(1, 200), data=st.data())
def test_truncated_or_extended_ciphertext_is_refused(record, cut, data):
    extend = data.draw(st.booleans(), label="extend")
    if extend:
        ciphertext = record.ciphertext + bytes(cut)
    else:
        ciphertext = record.ciphertext[: max(0, len(record.ciphertext) - cut)]
    tampered = replace(record, ciphertext=ciphertext)
    expected = CorruptRecordError if len(ciphertext) <= 16 else WrongPinError
    with pytest.raises(expected):
        _unlock(tampered)


@SETTINGS
@given(
    field=st.sampled_from(["tenant", "credential_id"]),
    new=st.text(min_size=1, max_size=40).filter(lambda s: _utf8(s)),
)
def test_relabelled_records_do_not_open(record, field, new):
    if new == getattr(record, field):
        return
    tampered = replace(record, **{field: new})
    # The caller's own expectation no longer matches the row...
    with pytest.raises(CredentialMismatchError):
        _unlock(tampered, **{field: getattr(record, field)})
    # ...and an attacker who also controls what the caller expects hits the AAD / HKDF info.
    with pytest.raises(WrongPinError):
        _unlock(tampered)


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@pytest.mark.parametrize("algorithm", [a for a in KeyAlgorithm if a is not KeyAlgorithm.EC_P256])
def test_changed_algorithm_is_refused(record, algorithm):
    with pytest.raises(WrongPinError):
        _unlock(replace(record, algorithm=algorithm))


@SETTINGS
@given(
    kdf=st.builds(
        KdfParams,
        time_cost=st.integers(1, 3),
        memory_cost_kib=st.integers(8, 64),
        parallelism=st.integers(1, 2),
    ).filter(lambda k: k != FAST_KDF and k.memory_cost_kib >= 8 * k.parallelism)
)
def test_changed_kdf_parameters_are_refused(record, kdf):
    with pytest.raises(WrongPinError):
        _unlock(replace(record, kdf=kdf))


@pytest.mark.parametrize(
    "change",
    [
        {"format_version": 0},
        {"format_version": 2},
        {"kdf": KdfParams(time_cost=2**31, memory_cost_kib=8, parallelism=1)},
        {"kdf": KdfParams(time_cost=1, memory_cost_kib=2**31, parallelism=1)},
        {"kdf": KdfParams(time_cost=1, memory_cost_kib=8, parallelism=2**24)},
        {"nonce": b"\x00" * 11},
        {"salt": b""},
        {"pepper_fingerprint": b"\x00" * 15},
        {"public_key_der": b""},
        {"algorithm": "ec-p521"},
        {"tenant": ""},
    ],
)
def test_structurally_impossible_records_are_corrupt(record, change):
    """Including KDF parameters inflated to exhaust the machine: refused before Argon2 runs."""
    with pytest.raises(CorruptRecordError):
        _unlock(replace(record, **change))
