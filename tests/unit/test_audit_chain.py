"""keiin.audit: the pure hash chain and its verification."""

from __future__ import annotations

import dataclasses
import json

import pytest

from keiin.audit import (
    GENESIS_HASH,
    EventFields,
    StoredEvent,
    canonical_bytes,
    chain_hash,
    chain_mac,
    verify_chain,
)

KEY = b"k" * 32


def make_chain(n: int, key: bytes = KEY) -> list[StoredEvent]:
    events = []
    prev = GENESIS_HASH
    for seq in range(1, n + 1):
        fields = EventFields(
            seq=seq,
            at=f"2031-05-06T07:08:{seq:02d}.000123Z",
            actor="cli:root",
            action="ca.certificate.revoked",
            target=f"{seq:x}",
            data={"reason": "keyCompromise", "n": seq, "名前": "山田", "nested": {"b": [1, None]}},
        )
        digest = chain_hash(prev, fields)
        events.append(StoredEvent(fields, prev, digest, chain_mac(key, digest)))
        prev = digest
    return events


def head_of(events: list[StoredEvent]) -> tuple[int, str]:
    return (events[-1].fields.seq, events[-1].hash) if events else (0, GENESIS_HASH)


def test_intact_chain_verifies():
    events = make_chain(6)
    report = verify_chain(events, KEY, head=head_of(events))
    assert report.ok
    assert report.checked == 6
    assert report.first_bad_seq is None
    assert verify_chain(events, KEY).ok  # without a head too


def test_empty_chain_verifies():
    assert verify_chain([], KEY, head=(0, "")).ok
    assert verify_chain([], KEY).checked == 0


def test_canonical_bytes_are_deterministic():
    a = EventFields(1, "t", "me", "x", "", {"b": 1, "a": {"d": 2, "c": "日本"}})
    b = EventFields(1, "t", "me", "x", "", {"a": {"c": "日本", "d": 2}, "b": 1})
    assert canonical_bytes(a) == canonical_bytes(b)
    assert (
        canonical_bytes(a)
        == (
            '{"action":"x","actor":"me","at":"t","data":{"a":{"c":"日本","d":2},"b":1},'
            '"seq":1,"target":""}'
        ).encode()
    )
    assert json.loads(canonical_bytes(a))["data"]["a"]["c"] == "日本"


def test_hash_covers_the_previous_hash():
    fields = make_chain(1)[0].fields
    assert chain_hash(GENESIS_HASH, fields) != chain_hash("1" * 64, fields)


@pytest.mark.parametrize(
    "change",
    [
        {"actor": "mallory"},
        {"action": "ca.certificate.issued"},
        {"target": "ffff"},
        {"at": "2031-05-06T07:08:03.000124Z"},
        {"data": {"reason": "superseded"}},
    ],
)
def test_edit_is_detected(change):
    events = make_chain(5)
    events[2] = dataclasses.replace(
        events[2], fields=dataclasses.replace(events[2].fields, **change)
    )
    report = verify_chain(events, KEY, head=head_of(events))
    assert not report.ok
    assert report.first_bad_seq == 3
    assert report.checked == 2
    assert "hash" in report.reason


def test_edit_with_recomputed_hashes_is_caught_by_the_mac():
    """Someone who can write the database but lacks the key rebuilds the chain from row 3."""
    events = make_chain(5)
    forged = make_chain(5, key=b"x" * 32)
    forged_data = dataclasses.replace(forged[2].fields, data={"reason": "forged"})
    prev = events[1].hash
    rebuilt = events[:2]
    for fields in [forged_data, *(e.fields for e in forged[3:])]:
        digest = chain_hash(prev, fields)
        rebuilt.append(StoredEvent(fields, prev, digest, chain_mac(b"x" * 32, digest)))
        prev = digest
    report = verify_chain(rebuilt, KEY, head=head_of(rebuilt))
    assert not report.ok
    assert report.first_bad_seq == 3
    assert "MAC" in report.reason


def test_broken_link_is_detected():
    events = make_chain(4)
    events[1] = dataclasses.replace(events[1], prev_hash="f" * 64)
    report = verify_chain(events, KEY)
    assert (report.ok, report.first_bad_seq) == (False, 2)
    assert "link" in report.reason


def test_deletion_in_the_middle_is_detected():
    events = make_chain(5)
    del events[2]
    report = verify_chain(events, KEY, head=head_of(events))
    assert not report.ok
    assert report.first_bad_seq == 3
    assert "missing" in report.reason


def test_deletion_of_the_first_event_is_detected():
    events = make_chain(3)[1:]
    report = verify_chain(events, KEY)
    assert (report.ok, report.first_bad_seq) == (False, 1)


def test_deletion_at_the_end_needs_the_head():
    events = make_chain(5)
    head = head_of(events)
    truncated = events[:3]
    assert verify_chain(truncated, KEY).ok  # undetectable without the head...
    report = verify_chain(truncated, KEY, head=head)  # ...caught with it
    assert not report.ok
    assert report.first_bad_seq == 4
    assert report.checked == 3
    assert "head says 5" in report.reason


def test_deleting_everything_is_caught_by_the_head():
    report = verify_chain([], KEY, head=(4, "a" * 64))
    assert (report.ok, report.first_bad_seq) == (False, 1)


def test_head_hash_mismatch_is_detected():
    events = make_chain(3)
    report = verify_chain(events, KEY, head=(3, "e" * 64))
    assert (report.ok, report.first_bad_seq) == (False, 3)


def test_head_behind_the_chain_names_the_first_event_past_it():
    events = make_chain(5)
    report = verify_chain(events, KEY, head=(3, events[2].hash))
    assert not report.ok
    assert report.first_bad_seq == 4  # the first event the head does not account for


def test_reordering_is_detected():
    events = make_chain(5)
    events[1], events[2] = events[2], events[1]
    report = verify_chain(events, KEY, head=head_of(events))
    assert (report.ok, report.first_bad_seq) == (False, 2)


def test_renumbered_swap_is_detected():
    """Swap two events and renumber them so the seq column still counts up."""
    events = make_chain(5)
    a, b = events[1], events[2]
    events[1] = dataclasses.replace(b, fields=dataclasses.replace(b.fields, seq=2))
    events[2] = dataclasses.replace(a, fields=dataclasses.replace(a.fields, seq=3))
    report = verify_chain(events, KEY, head=head_of(make_chain(5)))
    assert (report.ok, report.first_bad_seq) == (False, 2)


def test_wrong_key_fails_at_the_first_event():
    events = make_chain(3)
    report = verify_chain(events, b"w" * 32, head=head_of(events))
    assert not report.ok
    assert report.first_bad_seq == 1
    assert report.checked == 0
    assert "MAC" in report.reason


def test_mac_is_keyed_hmac_sha256():
    import hashlib
    import hmac

    digest = make_chain(1)[0].hash
    assert (
        chain_mac(KEY, digest) == hmac.new(KEY, bytes.fromhex(digest), hashlib.sha256).hexdigest()
    )
    assert chain_mac(KEY, digest) != chain_mac(b"other", digest)
