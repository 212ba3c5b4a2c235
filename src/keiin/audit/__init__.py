"""Append-only, hash-chained audit log: the pure part (no Django).

Each event is encoded canonically (:func:`canonical_bytes`); its ``hash`` is
``SHA-256(prev_hash || canonical bytes)`` and its ``mac`` is ``HMAC-SHA-256(audit key, hash)``.
The hash chain makes any edit, insertion, reordering or deletion visible; the MAC, keyed by a
secret kept outside the database, stops someone who can write the database (but cannot read
the key) from recomputing a consistent chain. :func:`verify_chain` walks the rows and names
the first that does not fit.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

GENESIS_HASH = "0" * 64


@dataclass(frozen=True)
class EventFields:
    """The fields of an event that the chain covers, as plain data."""

    seq: int
    at: str  # ISO 8601, UTC, microseconds
    actor: str
    action: str
    target: str
    data: Mapping[str, Any]


def canonical_bytes(event: EventFields) -> bytes:
    """Deterministic UTF-8 JSON of the event (sorted keys, no spaces)."""
    doc = {
        "seq": event.seq,
        "at": event.at,
        "actor": event.actor,
        "action": event.action,
        "target": event.target,
        "data": event.data,
    }
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def chain_hash(prev_hash: str, event: EventFields) -> str:
    """The hash of ``event`` chained to the previous event's hash (hex)."""
    return hashlib.sha256(bytes.fromhex(prev_hash) + canonical_bytes(event)).hexdigest()


def chain_mac(key: bytes, event_hash: str) -> str:
    """The keyed MAC over an event hash (hex)."""
    return hmac.new(key, bytes.fromhex(event_hash), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class StoredEvent:
    """An event as read back from storage."""

    fields: EventFields
    prev_hash: str
    hash: str
    mac: str


@dataclass(frozen=True)
class ChainReport:
    """The outcome of :func:`verify_chain`."""

    ok: bool
    checked: int
    first_bad_seq: int | None = None
    reason: str = ""


def verify_chain(
    events: Iterable[StoredEvent],
    key: bytes,
    *,
    head: tuple[int, str] | None = None,
) -> ChainReport:
    """Check that ``events`` (in ``seq`` order) form one unbroken, authentic chain.

    ``head`` is the (seq, hash) the store recorded for its newest event; it catches the
    deletion of events at the end of the chain.
    """
    prev_hash = GENESIS_HASH
    expected_seq = 1
    checked = 0
    for event in events:
        seq = event.fields.seq
        if seq != expected_seq:
            return ChainReport(False, checked, expected_seq, f"event {expected_seq} is missing")
        if event.prev_hash != prev_hash:
            return ChainReport(False, checked, seq, "link to the previous event is broken")
        if chain_hash(prev_hash, event.fields) != event.hash:
            return ChainReport(False, checked, seq, "content does not match its hash")
        if not hmac.compare_digest(chain_mac(key, event.hash), event.mac):
            return ChainReport(False, checked, seq, "MAC does not verify (forged or wrong key)")
        prev_hash = event.hash
        expected_seq += 1
        checked += 1
    if head is not None:
        head_seq, head_hash = head
        if head_seq != checked:
            # Missing events after the last one (head ahead), or events the head does not
            # account for (head behind): either way the first unaccounted seq is the bad one.
            return ChainReport(
                False,
                checked,
                min(head_seq, checked) + 1,
                f"chain ends at {checked} but the head says {head_seq}",
            )
        if head_seq and head_hash != prev_hash:
            return ChainReport(False, checked, head_seq, "head hash differs from the last event")
    return ChainReport(True, checked)
