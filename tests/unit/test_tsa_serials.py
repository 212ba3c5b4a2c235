"""keiin.tsa.serials: token serials are a keyed permutation of sequence numbers."""

from __future__ import annotations

import itertools
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keiin.tsa.serials import (
    BLOCK_SIZE,
    SERIAL_BITS,
    BlockExhaustedError,
    SequenceBlock,
    SerialCipher,
)

KEY = bytes(range(32))
CIPHER = SerialCipher(KEY)
SEQUENCES = st.integers(min_value=0, max_value=(1 << SERIAL_BITS) - 1)


@given(SEQUENCES)
def test_serial_is_invertible_and_in_range(sequence):
    serial = CIPHER.serial(sequence)
    assert 0 <= serial < 1 << SERIAL_BITS
    assert CIPHER.sequence_of(serial) == sequence


@given(SEQUENCES, SEQUENCES)
def test_distinct_sequences_give_distinct_serials(a, b):
    assert (CIPHER.serial(a) == CIPHER.serial(b)) == (a == b)


def test_a_block_of_serials_is_unique_wide_and_looks_random():
    block = SequenceBlock(CIPHER, 7, size=20_000)
    pairs = [block.next() for _ in range(10_000)]
    sequences = [p[0] for p in pairs]
    serials = [p[1] for p in pairs]
    assert sequences == sorted(sequences) and sequences[0] == 7 * 20_000
    assert len(set(serials)) == len(serials)
    assert all(1 << 64 <= s < 1 << SERIAL_BITS for s in serials)
    # Consecutive sequence numbers do not give ordered or clustered serials: about half of
    # the serials are above the middle of the range and half of the steps go down.
    high = sum(s >> (SERIAL_BITS - 1) for s in serials)
    down = sum(1 for a, b in itertools.pairwise(serials) if b < a)
    assert 4_500 < high < 5_500
    assert 4_500 < down < 5_500


def test_another_key_gives_other_serials():
    other = SerialCipher(os.urandom(32))
    assert [other.serial(n) for n in range(100)] != [CIPHER.serial(n) for n in range(100)]


def test_block_exhaustion_and_remaining():
    block = SequenceBlock(CIPHER, 1, size=3)
    assert block.remaining == 3
    got = [block.next() for _ in range(3)]
    assert [g[0] for g in got] == [3, 4, 5]
    assert block.remaining == 0
    with pytest.raises(BlockExhaustedError):
        block.next()


def test_blocks_never_overlap():
    first = SequenceBlock(CIPHER, 1)
    second = SequenceBlock(CIPHER, 2)
    assert first.next()[0] == BLOCK_SIZE
    assert second.next()[0] == 2 * BLOCK_SIZE


def test_small_serials_are_skipped():
    """A sequence number whose serial is below 2**64 is never handed out."""

    class Tiny(SerialCipher):
        def serial(self, sequence: int) -> int:
            return sequence if sequence % 2 else (1 << 100) + sequence

    block = SequenceBlock(Tiny(KEY), 1, size=4)
    assert [block.next()[0] for _ in range(2)] == [4, 6]
    with pytest.raises(BlockExhaustedError):
        block.next()


@pytest.mark.parametrize("bad", [b"", b"k" * 16, b"k" * 33])
def test_key_must_be_32_bytes(bad):
    with pytest.raises(ValueError, match="32 bytes"):
        SerialCipher(bad)


@pytest.mark.parametrize("value", [-1, 1 << SERIAL_BITS])
def test_out_of_range_values_are_refused(value):
    with pytest.raises(ValueError):
        CIPHER.serial(value)
    with pytest.raises(ValueError):
        CIPHER.sequence_of(value)


@pytest.mark.parametrize("block", [0, -1, (1 << SERIAL_BITS) // BLOCK_SIZE])
def test_block_numbers_are_checked(block):
    with pytest.raises(ValueError):
        SequenceBlock(CIPHER, block)
