"""The figures the certificate policy page states, taken from the policy in force."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from keiin.pki.revocation import RevocationReason
from keiin.web.ca.config import policy, public_urls
from keiin.web.ca.models import CertificateAuthority
from keiin.web.repository.certinfo import KEY_ALGORITHM_LABELS
from keiin.web.repository.periods import describe_period

REASON_DESCRIPTIONS: dict[RevocationReason, Promise] = {
    RevocationReason.UNSPECIFIED: _("no reason given"),
    RevocationReason.KEY_COMPROMISE: _("the private key was or may have been exposed"),
    RevocationReason.CA_COMPROMISE: _("the issuing CA's key was or may have been exposed"),
    RevocationReason.AFFILIATION_CHANGED: _("the subject's name or organisation changed"),
    RevocationReason.SUPERSEDED: _("replaced by a new certificate"),
    RevocationReason.CESSATION_OF_OPERATION: _("no longer needed"),
    RevocationReason.CERTIFICATE_HOLD: _("suspended (in Keiin this is final, too)"),
    RevocationReason.PRIVILEGE_WITHDRAWN: _("the right to use the certificate was withdrawn"),
    RevocationReason.AA_COMPROMISE: _("an attribute authority was compromised"),
}


@dataclass(frozen=True)
class Reason:
    """One CRLReason (RFC 5280 §5.3.1) an operator may give."""

    code: int
    name: str
    description: Promise | str


@dataclass(frozen=True)
class RootFingerprint:
    """The root CA's name and fingerprint, repeated on the policy page for relying parties."""

    name: str
    sha256: str
    slug: str


@dataclass(frozen=True)
class PolicyFacts:
    """Configured values shown on the policy page."""

    policy_oid: str
    key_algorithm: Promise | str
    root_validity: str
    issuing_validity: str
    tsa_validity: str
    signer_validity: str
    ocsp_responder_validity: str
    ocsp_responder_renew_before: str
    ocsp_response_validity: str
    root_crl_validity: str
    root_crl_refresh: str
    issuing_crl_validity: str
    issuing_crl_refresh: str
    ocsp_url: str
    base_url: str
    revocation_reasons: list[Reason]
    roots: list[RootFingerprint]


def _colon(hex_digest: str) -> str:
    return ":".join(hex_digest[i : i + 2] for i in range(0, len(hex_digest), 2)).upper()


def policy_facts() -> PolicyFacts:
    """Read the policy in force and the root fingerprint(s) for the policy page."""
    pol = policy()
    urls = public_urls()
    roots = [
        RootFingerprint(ca.name, _colon(ca.fingerprint_sha256), ca.slug)
        for ca in CertificateAuthority.objects.filter(kind=CertificateAuthority.Kind.ROOT)
    ]
    return PolicyFacts(
        policy_oid=pol.policy_oid,
        key_algorithm=KEY_ALGORITHM_LABELS.get(pol.key_algorithm.value, pol.key_algorithm.value),
        root_validity=describe_period(pol.root_validity),
        issuing_validity=describe_period(pol.issuing_validity),
        tsa_validity=describe_period(pol.tsa_validity),
        signer_validity=describe_period(pol.signer_validity),
        ocsp_responder_validity=describe_period(pol.ocsp_responder_validity),
        ocsp_responder_renew_before=describe_period(pol.ocsp_responder_renew_before),
        ocsp_response_validity=describe_period(pol.ocsp_response_validity),
        root_crl_validity=describe_period(pol.crl_validity(True)),
        root_crl_refresh=describe_period(pol.crl_refresh_age(True)),
        issuing_crl_validity=describe_period(pol.crl_validity(False)),
        issuing_crl_refresh=describe_period(pol.crl_refresh_age(False)),
        ocsp_url=urls.ocsp,
        base_url=urls.base_url,
        revocation_reasons=[
            Reason(r.code, r.value, REASON_DESCRIPTIONS.get(r, ""))
            for r in sorted(RevocationReason, key=lambda r: r.code)
        ],
        roots=roots,
    )
