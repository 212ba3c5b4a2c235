"""keiin.tsa.issuance: the record stream between TSA workers and the log keeper."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keiin.tsa.issuance import (
    ACK_SIZE,
    COMMITTED,
    FAILED,
    LogEntry,
    RecordReader,
    WireError,
    decode_acks,
    encode_ack,
    encode_record,
)

ENTRIES = st.builds(
    LogEntry,
    sequence=st.integers(min_value=1, max_value=(1 << 63) - 1),
    serial=st.integers(min_value=1, max_value=(1 << 127) - 1),
    gen_time=st.datetimes(
        min_value=dt.datetime(2000, 1, 1),
        max_value=dt.datetime(2200, 1, 1),
        timezones=st.just(dt.UTC),
    ),
    hash_algorithm=st.sampled_from(["sha256", "sha384", "sha512"]),
    digest=st.binary(min_size=32, max_size=64),
    policy=st.from_regex(r"[0-2](\.[0-9]{1,9}){1,12}", fullmatch=True),
    account_id=st.none() | st.integers(min_value=1, max_value=(1 << 62)),
    token_sha256=st.binary(min_size=32, max_size=32),
)


@given(st.lists(ENTRIES, min_size=1, max_size=20), st.integers(min_value=1, max_value=97))
def test_records_round_trip_whatever_the_chunking(entries, chunk):
    wire = b"".join(encode_record(i + 1, e) for i, e in enumerate(entries))
    reader = RecordReader()
    got = []
    for at in range(0, len(wire), chunk):
        got.extend(reader.feed(wire[at : at + chunk]))
    assert got == list(enumerate(entries, start=1))


def test_an_incomplete_record_waits_for_the_rest():
    entry = LogEntry(
        1, 2, dt.datetime(2026, 1, 1, tzinfo=dt.UTC), "sha256", b"d" * 32, "1.2.3", None, b"t" * 32
    )
    wire = encode_record(5, entry)
    reader = RecordReader()
    assert reader.feed(wire[:-1]) == []
    assert reader.feed(wire[-1:]) == [(5, entry)]


@pytest.mark.parametrize(
    "mutate",
    [
        lambda w: w[:8] + (0).to_bytes(8, "little") + w[16:],  # sequence 0
        lambda w: w[:32] + bytes([0]) + w[33:],  # empty hash name
        lambda w: w[:33] + bytes([0]) + w[34:],  # empty digest
        lambda w: w[:34] + bytes([0]) + w[35:],  # empty policy
        lambda w: w[:33] + bytes([200]) + w[34:],  # digest longer than any hash
        lambda w: w[:-1] + b"\xff",  # policy not ASCII
    ],
)
def test_malformed_records_are_refused(mutate):
    entry = LogEntry(
        1, 2, dt.datetime(2026, 1, 1, tzinfo=dt.UTC), "sha256", b"d" * 32, "1.2.3", 4, b"t" * 32
    )
    wire = mutate(encode_record(1, entry)) + b"\0" * 300
    with pytest.raises(WireError):
        RecordReader().feed(wire)


@given(st.binary(max_size=400))
def test_garbage_never_crashes_the_reader(data):
    try:
        RecordReader().feed(data)
    except WireError:
        pass


def test_acks_round_trip_and_partial_acks_are_refused():
    data = encode_ack(COMMITTED, 7) + encode_ack(FAILED, 9)
    assert len(data) == 2 * ACK_SIZE
    assert decode_acks(data) == [(COMMITTED, 7), (FAILED, 9)]
    with pytest.raises(WireError):
        decode_acks(data[:-1])
