"""Append to and verify the audit chain stored in the database."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any

from django.conf import settings
from django.db import transaction

from keiin.audit import (
    ChainReport,
    EventFields,
    StoredEvent,
    chain_hash,
    chain_mac,
    verify_chain,
)
from keiin.web.audit.models import AuditEvent, AuditHead


def _audit_key() -> bytes:
    return settings.HOME.secret("audit.key")


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _reject_floats(value: Any, where: str = "data") -> None:
    """Floats do not survive every database unchanged (PostgreSQL's jsonb turns ``1e20`` into
    ``100000000000000000000`` and ``-0.0`` into ``0.0``), which would break the chain when the
    row is read back; audit data records numbers as integers or strings."""
    if isinstance(value, float):
        raise TypeError(f"audit {where} holds a float ({value!r}); use an int or a str")
    if isinstance(value, Mapping):
        for key, item in value.items():
            _reject_floats(item, f"{where}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _reject_floats(item, f"{where}[{index}]")


def record(
    action: str,
    *,
    actor: str,
    target: str = "",
    data: Mapping[str, Any] | None = None,
) -> AuditEvent:
    """Append one event; runs inside (or as) a transaction that also does the action.

    The head row is locked first, so concurrent appends from any process form one chain.
    ``data`` must be JSON-serialisable without floats and must never contain secrets (PINs,
    passwords, keys).
    """
    _reject_floats(data or {})
    with transaction.atomic():
        head, _ = AuditHead.objects.select_for_update().get_or_create(id=1)
        now = dt.datetime.now(dt.UTC)
        fields = EventFields(
            seq=head.seq + 1,
            at=_iso(now),
            actor=actor,
            action=action,
            target=target,
            data=dict(data or {}),
        )
        digest = chain_hash(head.hash, fields)
        event = AuditEvent.objects.create(
            seq=fields.seq,
            at=now,
            actor=actor,
            action=action,
            target=target,
            data=fields.data,
            prev_hash=head.hash,
            hash=digest,
            mac=chain_mac(_audit_key(), digest),
        )
        head.seq, head.hash = fields.seq, digest
        head.save(update_fields=["seq", "hash"])
        return event


def _stored() -> Iterator[StoredEvent]:
    for row in AuditEvent.objects.order_by("seq").iterator(chunk_size=2000):
        yield StoredEvent(
            fields=EventFields(
                seq=row.seq,
                at=_iso(row.at),
                actor=row.actor,
                action=row.action,
                target=row.target,
                data=row.data,
            ),
            prev_hash=row.prev_hash,
            hash=row.hash,
            mac=row.mac,
        )


def verify() -> ChainReport:
    """Verify the whole chain against the head row and the audit key."""
    head = AuditHead.objects.filter(id=1).first()
    return verify_chain(_stored(), _audit_key(), head=(head.seq, head.hash) if head else (0, ""))
