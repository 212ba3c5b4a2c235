"""The integrity job (seed 13(1)): re-hash every stored contract file, report mismatches.

``keiin contracts verify-store`` runs it by hand (exit status 1 on any finding); the
maintenance loop runs it at most once a day. Each mismatch or missing file is audited as
``contract.integrity_failed``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from keiin.blobs import BlobNotFoundError
from keiin.web.audit.log import record
from keiin.web.contracts.files import blob_store
from keiin.web.contracts.models import ContractVersion


@dataclass(frozen=True)
class IntegrityFinding:
    """One stored contract file that is not what its record says."""

    reference: str
    version: int
    sha256: str
    problem: str  # "missing" | "mismatch" | "size"


def check_all(*, audit: bool = True) -> Iterator[IntegrityFinding]:
    """Yield a finding for every version whose blob is missing or does not hash to its name."""
    store = blob_store()
    versions = ContractVersion.objects.select_related("contract").order_by("pk")
    for version in versions.iterator(chunk_size=500):
        problem = None
        try:
            if store.size(version.sha256) != version.size:
                problem = "size"
            elif not store.verify(version.sha256):
                problem = "mismatch"
        except BlobNotFoundError:
            problem = "missing"
        if problem is None:
            continue
        finding = IntegrityFinding(
            version.contract.reference, version.number, version.sha256, problem
        )
        if audit:
            record(
                "contract.integrity_failed",
                actor="system",
                target=f"contract:{version.contract.public_id}",
                data={"version": version.number, "sha256": version.sha256, "problem": problem},
            )
        yield finding
