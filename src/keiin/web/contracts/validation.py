"""The operator's check after each signature (seed 11(4)): validate, store the report.

Validation is :func:`keiin.pdf.validation.validate_document`, offline (only what the file
embeds), against Keiin's own root certificates. The version's ``validation`` becomes
``passed`` only when every signature and document timestamp in it is TOTAL-PASSED.
"""

from __future__ import annotations

import gc

from asn1crypto import x509 as asn1_x509
from django.db import transaction
from django.utils import timezone

from keiin.pdf.errors import PdfInputError
from keiin.pdf.validation import validate_document
from keiin.web.audit.log import record
from keiin.web.ca.models import CertificateAuthority
from keiin.web.contracts.files import blob_store
from keiin.web.contracts.models import ContractVersion


def trust_roots() -> list[asn1_x509.Certificate]:
    """Keiin's root CA certificates (every self-signed CA in the database)."""
    return [
        asn1_x509.Certificate.load(bytes(ca.certificate_der))
        for ca in CertificateAuthority.objects.filter(parent__isnull=True)
    ]


def _outcome(report) -> str:  # type: ignore[no-untyped-def]
    if report.passed:
        return ContractVersion.Validation.PASSED
    if any(s.indication == "FAILED" for s in report.signatures):
        return ContractVersion.Validation.FAILED
    return ContractVersion.Validation.INDETERMINATE


def validate_version(version: ContractVersion) -> str:
    """Validate ``version``'s file, store the outcome and the report, audit it; the outcome."""
    store = blob_store()
    if not store.verify(version.sha256):
        outcome = ContractVersion.Validation.FAILED
        report = {"error": "the stored file does not match its SHA-256"}
    else:
        try:
            with store.open(version.sha256) as stream:
                result = validate_document(stream, trust_roots())
        except PdfInputError as exc:
            outcome = ContractVersion.Validation.FAILED
            report = {"error": f"the file cannot be validated: {exc}"}
        else:
            outcome = _outcome(result)
            report = result.to_dict()
            del result
        # pyHanko's readers hold every object they parsed (big content streams included) in
        # reference cycles: free them now, not when the next validation is already running.
        gc.collect()
    with transaction.atomic():
        ContractVersion.objects.filter(pk=version.pk).update(
            validation=outcome, validated_at=timezone.now(), validation_report=report
        )
        record(
            "contract.validated",
            actor="system",
            target=f"contract:{version.contract.public_id}",
            data={"version": version.number, "outcome": outcome},
        )
    return outcome
