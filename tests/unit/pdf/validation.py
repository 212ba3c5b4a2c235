"""Validating signed PDFs in tests with pyHanko, strictly and offline (see the shared notes)."""

from __future__ import annotations

import asyncio
from io import BytesIO

from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import async_validate_pdf_signature, async_validate_pdf_timestamp
from pyhanko.sign.validation.ades import ades_lta_validation
from pyhanko.sign.validation.policy_decl import (
    CertificateFetchingRule,
    PdfSignatureValidationSpec,
    RevinfoOnlineFetchingRule,
    RevocationInfoGatheringSpec,
    SignatureValidationSpec,
)
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.context import CertValidationPolicySpec
from pyhanko_certvalidator.policy_decl import REQUIRE_REVINFO, CertRevTrustPolicy
from pyhanko_certvalidator.registry import SimpleTrustManager


def strict_offline_spec(root: asn1_x509.Certificate) -> PdfSignatureValidationSpec:
    return PdfSignatureValidationSpec(
        SignatureValidationSpec(
            cert_validation_policy=CertValidationPolicySpec(
                trust_manager=SimpleTrustManager.build(trust_roots=[root]),
                revinfo_policy=CertRevTrustPolicy(REQUIRE_REVINFO),
            ),
            revinfo_gathering_policy=RevocationInfoGatheringSpec(
                online_fetching_rule=RevinfoOnlineFetchingRule.LOCAL_ONLY,
                certificate_fetching_rule=CertificateFetchingRule.NEVER_FETCH,
            ),
        )
    )


def validate(pdf: bytes, root: asn1_x509.Certificate) -> dict[str, dict[str, object]]:
    """Per field: pyHanko status flags, DocMDP, and the AdES LTA indication."""

    async def run() -> dict[str, dict[str, object]]:
        reader = PdfFileReader(BytesIO(pdf), strict=False)
        results: dict[str, dict[str, object]] = {}
        for sig in reader.embedded_regular_signatures:
            status = await async_validate_pdf_signature(
                sig, ValidationContext(trust_roots=[root], allow_fetching=False)
            )
            lta = await ades_lta_validation(sig, strict_offline_spec(root))
            results[sig.field_name] = {
                "intact": status.intact,
                "valid": status.valid,
                "trusted": status.trusted,
                "docmdp_ok": status.docmdp_ok,
                "timestamped": status.timestamp_validity is not None,
                "lta": lta.ades_subindic.status.name,
            }
        for sig in reader.embedded_timestamp_signatures:
            status = await async_validate_pdf_timestamp(
                sig, ValidationContext(trust_roots=[root], allow_fetching=False)
            )
            results[sig.field_name] = {
                "intact": status.intact,
                "valid": status.valid,
                "trusted": status.trusted,
            }
        return results

    return asyncio.run(run())
