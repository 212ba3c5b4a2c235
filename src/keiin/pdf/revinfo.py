"""Revocation data for the DSS: "give me OCSP responses and CRLs for these certificates now".

A :class:`RevocationSource` answers for a batch of certificates with fresh revocation data
(OCSP responses and/or CRLs) and the certificates needed to check it (issuer CA certificates,
OCSP responder certificates). :func:`collect` walks every certificate path up to a
self-signed root, asking again for each newly found CA certificate, so the DSS can prove the
status of every certificate on every path.

Call it *after* the signature's timestamp: ETSI EN 319 102-1 wants revocation data issued after
the time it is used to prove.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509

from keiin.pdf.errors import PdfSigningError

#: Longest certificate path walked (leaf + intermediates + root).
MAX_PATH_LENGTH = 8


@dataclass(frozen=True)
class RevocationData:
    """What a :class:`RevocationSource` returns (all DER)."""

    ocsp_responses: tuple[bytes, ...] = ()
    crls: tuple[bytes, ...] = ()
    #: Issuer and OCSP responder certificates that the responses and CRLs rely on.
    certificates: tuple[bytes, ...] = ()


class RevocationSource(Protocol):
    """Fetches revocation data, e.g. Keiin's CA signing OCSP responses and CRLs on demand."""

    def fetch(
        self, certificates: Sequence[asn1_x509.Certificate], *, not_before: dt.datetime
    ) -> RevocationData:
        """Fresh OCSP responses and/or CRLs covering each of ``certificates``, and the
        certificates needed to verify them (issuers, responder certificates).

        The thisUpdate of each response and CRL must be at or after ``not_before`` (the
        newest timestamp in the document, rounded up to a whole second, since OCSP and CRL
        times have whole seconds) and not in the future. :func:`collect` calls this only
        once the clock has passed ``not_before``, so "now, truncated to the second" is right.
        """
        ...


@dataclass
class CollectedRevocationInfo:
    """Everything :func:`collect` gathered, de-duplicated, as asn1crypto objects."""

    certificates: list[asn1_x509.Certificate] = field(default_factory=list)
    ocsp_responses: list[asn1_ocsp.OCSPResponse] = field(default_factory=list)
    crls: list[asn1_crl.CertificateList] = field(default_factory=list)


def ceil_second(moment: dt.datetime) -> dt.datetime:
    """``moment`` rounded up to a whole second (OCSP and CRL times have no fractions)."""
    whole = moment.replace(microsecond=0)
    return whole if whole == moment else whole + dt.timedelta(seconds=1)


def is_self_signed(cert: asn1_x509.Certificate) -> bool:
    """Whether ``cert`` is self-issued (a root: its status is a matter of trust, not revinfo)."""
    return cert.self_signed in ("yes", "maybe")


def has_ocsp_nocheck(cert: asn1_x509.Certificate) -> bool:
    """Whether ``cert`` carries id-pkix-ocsp-nocheck (its status is not checked)."""
    return any(
        ext["extn_id"].native == "ocsp_no_check" for ext in cert["tbs_certificate"]["extensions"]
    )


def needs_status(cert: asn1_x509.Certificate) -> bool:
    """Whether a validator will want revocation data for ``cert``."""
    return not is_self_signed(cert) and not has_ocsp_nocheck(cert)


def _issuer_in(cert: asn1_x509.Certificate, pool: Iterable[asn1_x509.Certificate]) -> list:
    aki = cert.authority_key_identifier
    found = []
    for candidate in pool:
        if candidate.subject != cert.issuer or candidate.dump() == cert.dump():
            continue
        if aki is not None and candidate.key_identifier not in (None, aki):
            continue
        found.append(candidate)
    return found


def collect(
    source: RevocationSource,
    leaves: Iterable[asn1_x509.Certificate],
    known: Iterable[asn1_x509.Certificate] = (),
    *,
    not_before: dt.datetime,
) -> CollectedRevocationInfo:
    """Ask ``source`` about ``leaves`` and, level by level, about every CA above them.

    ``not_before`` (the newest timestamp the data must postdate) is rounded up to a whole
    second and passed on to the source (see :meth:`RevocationSource.fetch`); call this only
    once the clock has reached it (:func:`wait_until` does that).
    ``known`` are certificates already at hand (e.g. from the CMS signatures) used to find
    issuers. Raises :class:`~keiin.pdf.errors.PdfSigningError` if the source returns
    something unparsable or a path cannot be followed up to a self-signed certificate.
    """
    not_before = ceil_second(not_before)
    result = CollectedRevocationInfo()
    pool: dict[bytes, asn1_x509.Certificate] = {}
    seen_ocsp: set[bytes] = set()
    seen_crl: set[bytes] = set()

    def add_cert(cert: asn1_x509.Certificate) -> None:
        if cert.dump() not in pool:
            pool[cert.dump()] = cert
            result.certificates.append(cert)

    for cert in known:
        add_cert(cert)
    pending = {c.dump(): c for c in leaves}
    for cert in pending.values():
        add_cert(cert)
    asked: set[bytes] = set()
    for _level in range(MAX_PATH_LENGTH):
        query = [c for k, c in pending.items() if k not in asked and needs_status(c)]
        if query:
            asked.update(c.dump() for c in query)
            data = source.fetch(query, not_before=not_before)
            try:
                for der in data.certificates:
                    add_cert(asn1_x509.Certificate.load(der))
                for der in data.ocsp_responses:
                    if der not in seen_ocsp:
                        seen_ocsp.add(der)
                        response = asn1_ocsp.OCSPResponse.load(der)
                        result.ocsp_responses.append(response)
                        basic = response["response_bytes"]["response"].parsed
                        for cert in basic["certs"] or ():
                            add_cert(cert)
                for der in data.crls:
                    if der not in seen_crl:
                        seen_crl.add(der)
                        result.crls.append(asn1_crl.CertificateList.load(der))
            except (ValueError, TypeError, KeyError) as exc:
                raise PdfSigningError(f"the revocation source returned bad data: {exc}") from exc
        next_pending: dict[bytes, asn1_x509.Certificate] = {}
        for cert in pending.values():
            if is_self_signed(cert):
                continue
            issuers = _issuer_in(cert, pool.values())
            if not issuers:
                raise PdfSigningError(
                    f"no issuer certificate found for {cert.subject.human_friendly}"
                )
            for issuer in issuers:
                if issuer.dump() not in asked:
                    next_pending[issuer.dump()] = issuer
        # OCSP responder certificates have issuers too (usually a CA already on a path).
        for cert in list(pool.values()):
            if has_ocsp_nocheck(cert):
                for issuer in _issuer_in(cert, pool.values()):
                    if issuer.dump() not in asked:
                        next_pending[issuer.dump()] = issuer
        next_pending = {k: c for k, c in next_pending.items() if k not in asked}
        if not any(needs_status(c) for c in next_pending.values()):
            return result
        pending = next_pending
    raise PdfSigningError("certificate paths are longer than expected; giving up")


async def wait_until(moment: dt.datetime) -> float:
    """Sleep until the system clock reaches ``moment`` (rounded up to a whole second);
    returns the seconds slept (0 if already past). Revocation data fetched after this has
    a whole-second thisUpdate that is after ``moment`` and not in the future.
    """
    delay = (ceil_second(moment) - dt.datetime.now(dt.UTC)).total_seconds()
    if delay <= 0:
        return 0.0
    await asyncio.sleep(delay)
    return delay
