"""Deleting contracts: only after the retention period, and only through :func:`purge`.

The models refuse ``delete()``; this module removes the rows (versions, signatories,
contract) and the blobs no other version refers to, once ``retention_until`` has passed and
the contract is closed. Every purge is audited (the audit chain keeps that it existed).
"""

from __future__ import annotations

import contextlib
import datetime as dt

from django.db import models, transaction
from django.utils import timezone

from keiin.blobs import BlobNotFoundError
from keiin.web.audit.log import record
from keiin.web.contracts.files import blob_store
from keiin.web.contracts.models import Contract, ContractSigner, ContractVersion, RetentionError


def purge(contract: Contract, *, actor: str, today: dt.date | None = None) -> int:
    """Delete a closed contract whose retention period is over; the number of blobs removed.

    Raises :class:`~keiin.web.contracts.models.RetentionError` inside the period or while the
    contract is still open.
    """
    today = today or timezone.localdate()
    with transaction.atomic():
        row = Contract.objects.select_for_update().get(pk=contract.pk)
        if not row.retention_over(today):
            raise RetentionError(
                f"{row.reference} must be kept until {row.retention_until.isoformat()}"
            )
        if not row.is_closed and row.status != Contract.Status.INVALID:
            raise RetentionError(f"{row.reference} is still open")
        hashes = set(ContractVersion.objects.filter(contract=row).values_list("sha256", flat=True))
        record(
            "contract.purged",
            actor=actor,
            target=f"contract:{row.public_id}",
            data={"reference": row.reference, "retention_until": row.retention_until.isoformat()},
        )
        # The guarded managers refuse bulk deletes; the base QuerySet does the real work here.
        models.QuerySet.delete(ContractVersion.objects.filter(contract=row))
        models.QuerySet.delete(ContractSigner.objects.filter(contract=row))
        models.QuerySet.delete(Contract.objects.filter(pk=row.pk))
        still_used = set(
            ContractVersion.objects.filter(sha256__in=hashes).values_list("sha256", flat=True)
        )
    removed = 0
    store = blob_store()
    for digest in sorted(hashes - still_used):
        with contextlib.suppress(BlobNotFoundError):
            store.remove_expired(digest, allowed=True)
            removed += 1
    return removed
