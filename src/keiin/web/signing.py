"""Glue between :mod:`keiin.pdf` and the web side: Keiin's own CA, TSA and signatory keys.

What the contracts app hands to :func:`keiin.pdf.certify` / :func:`keiin.pdf.approve`:

* :class:`CaRevocationSource` — revocation data from the database: for every certificate a
  Keiin CA issued, an OCSP response signed now by the CA's delegated responder (the very bytes
  ``/ocsp`` gives for a nonce-less request: same look-ups, same :func:`sign_answer`), the CA's
  current CRL, and the responder and CA certificates. A certificate Keiin did not issue raises
  :class:`UnknownCertificateError`.
* :func:`keiin_timestamper` — Keiin's TSA in-process: the endpoint's clock guard, the TSA's
  :class:`~keiin.tsa.template.TokenFactory`, serials from :func:`token_serials`, and every
  token committed to the issuance log (account None) *before* pyHanko sees it.
* :func:`signer_for` — a signatory's (or the seal's) key, opened with the PIN for one
  signature, with its certificate and chain.

Database work runs in the worker threads :mod:`keiin.pdf` uses (``asyncio.to_thread``): the
time-stamper is built with ``in_thread=True`` and the revocation source is called by
``collect`` in a thread. Each call there closes its thread's connection when done. Call
``certify``/``approve`` outside any database transaction: the issuance log is written on
another connection (on SQLite a caller holding the write lock would make it time out, and
the token would not be issued).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import threading
from collections.abc import Iterator, Sequence

from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization
from django.db import close_old_connections, connection
from pyhanko_certvalidator.registry import SimpleCertificateStore

from keiin.custody.unlocked import OneShotSigner
from keiin.pdf.errors import PdfSigningError
from keiin.pdf.revinfo import RevocationData
from keiin.pdf.timestamper import CallableTimeStamper
from keiin.pki import ocsp
from keiin.tsa.clock import ClockGuard, parse_servers
from keiin.tsa.issuance import LogEntry
from keiin.tsa.request import parse_request
from keiin.tsa.response import Rejection
from keiin.tsa.template import TokenFactory, token_of
from keiin.web.ca import services as ca_services
from keiin.web.ca.models import CertificateAuthority, IssuedCertificate
from keiin.web.ca.ocsp_endpoint import authority_for, sign_answer
from keiin.web.credentials.models import SignerCredential
from keiin.web.credentials.services import open_for_signing
from keiin.web.timestamping.config import tsa_settings
from keiin.web.timestamping.endpoint import clock_status_file
from keiin.web.timestamping.issuance_log import reset_connection, write_entries, writer_lock
from keiin.web.timestamping.profile import load_factory
from keiin.web.timestamping.serials import token_serials

__all__ = [
    "CaRevocationSource",
    "UnknownCertificateError",
    "keiin_timestamper",
    "signer_for",
]


class UnknownCertificateError(PdfSigningError):
    """Revocation data was asked for a certificate no Keiin CA issued."""


@contextlib.contextmanager
def _worker_connection() -> Iterator[None]:
    """Database work outside any transaction of the caller; off the main thread, the
    thread's connection is closed afterwards (asyncio's worker threads outlive no one)."""
    if connection.in_atomic_block:
        raise PdfSigningError(
            "Keiin's TSA and CA cannot be used inside a database transaction "
            "(every token must be committed to the issuance log before use)"
        )
    try:
        yield
    finally:
        if threading.current_thread() is not threading.main_thread():
            close_old_connections()
            with contextlib.suppress(Exception):
                connection.close()


def _der(cert) -> bytes:  # type: ignore[no-untyped-def]
    return cert.public_bytes(serialization.Encoding.DER)


# --------------------------------------------------------------------------- revocation


def _ocsp_request(cert: asn1_x509.Certificate, issuer: asn1_x509.Certificate) -> bytes:
    """A nonce-less DER OCSPRequest for ``cert`` (SHA-1 CertID, as RFC 5019 clients send)."""
    cert_id = asn1_ocsp.CertId(
        {
            "hash_algorithm": {"algorithm": "sha1"},
            "issuer_name_hash": hashlib.sha1(issuer.subject.dump()).digest(),  # noqa: S324
            "issuer_key_hash": issuer.public_key.sha1,
            "serial_number": cert.serial_number,
        }
    )
    request = asn1_ocsp.OCSPRequest(
        {"tbs_request": {"version": "v1", "request_list": [{"req_cert": cert_id}]}}
    )
    return request.dump()


class CaRevocationSource:
    """:class:`keiin.pdf.RevocationSource` answered by Keiin's CA from the database."""

    def fetch(
        self, certificates: Sequence[asn1_x509.Certificate], *, not_before: dt.datetime
    ) -> RevocationData:
        """OCSP response (delegated responder, produced now), current CRL and the responder
        and CA certificates for each of ``certificates``; see the module docstring."""
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        if now < not_before:
            raise PdfSigningError(
                f"revocation data was asked for {not_before.isoformat()}, still in the future"
            )
        with _worker_connection():
            return self._fetch(certificates)

    def _fetch(self, certificates: Sequence[asn1_x509.Certificate]) -> RevocationData:
        cas = list(CertificateAuthority.objects.all())
        authorities = ca_services.ocsp_authorities()
        ocsps: list[bytes] = []
        crls: dict[int, bytes] = {}
        extra: dict[bytes, None] = {}
        for cert in certificates:
            row = IssuedCertificate.objects.filter(
                fingerprint_sha256=hashlib.sha256(cert.dump()).hexdigest()
            ).first()
            ca = next((c for c in cas if row is not None and c.pk == row.issuer_id), None)
            if row is None or ca is None:
                raise UnknownCertificateError(
                    f"Keiin's CA did not issue {cert.subject.human_friendly} "
                    f"(serial {cert.serial_number:x}); no revocation data for it"
                )
            issuer = asn1_x509.Certificate.load(bytes(ca.certificate_der))
            query = ocsp.parse_request(_ocsp_request(cert, issuer))
            authority = authority_for(authorities, query)
            signed = ca_services.ocsp_signer(ca.pk)
            if authority is None or authority.ca_id != ca.pk or signed is None:
                raise PdfSigningError(f"CA {ca.slug} has no valid OCSP responder certificate")
            signer = signed[0]
            statuses = ca_services.certificate_statuses(ca.pk, [c.serial for c in query.cert_ids])
            body, _produced, _validity = sign_answer(signer, query, statuses)
            ocsps.append(body)
            if ca.pk not in crls:
                crls[ca.pk] = bytes(ca_services.current_crl(ca).der)
            extra[_der(signer.certificate)] = None
            while ca is not None:  # the CA certificates up to the root
                extra[bytes(ca.certificate_der)] = None
                ca = next((c for c in cas if c.pk == ca.parent_id), None)
        return RevocationData(
            ocsp_responses=tuple(ocsps), crls=tuple(crls.values()), certificates=tuple(extra)
        )


# --------------------------------------------------------------------------- time-stamps


def _clock_guard() -> ClockGuard:
    """The TSA endpoint's clock guard, from the same settings and status file."""
    cfg = tsa_settings()
    checked = bool(parse_servers(cfg.ntp_servers))
    return ClockGuard(
        clock_status_file(),
        tolerance=cfg.clock_tolerance,
        max_age=max(3 * cfg.ntp_interval, 30.0),
        unchecked_ok=cfg.allow_unchecked_clock and not checked,
    )


class _InProcessTsa:
    """The transport of :func:`keiin_timestamper` (runs in a worker thread)."""

    def __init__(self) -> None:
        self._guard = _clock_guard()
        self._factory: TokenFactory | None = None
        self._lock = threading.Lock()

    def __call__(self, request_der: bytes) -> bytes:
        ok, why = self._guard.check()
        if not ok:
            raise PdfSigningError(f"Keiin's TSA cannot issue a time-stamp: {why}")
        with _worker_connection():
            return self._issue(request_der)

    def _issue(self, request_der: bytes) -> bytes:
        try:
            request = parse_request(request_der)
            factory = self._token_factory()
            policy = factory.select_policy(request)
        except Rejection as rejection:
            return rejection.response()
        sequence, serial = token_serials().next()
        now = dt.datetime.now(dt.UTC)
        gen_time = now.replace(microsecond=now.microsecond - now.microsecond % 1000)
        response = factory.grant(request, serial=serial, gen_time=gen_time, policy=policy)
        entry = LogEntry(
            sequence,
            serial,
            gen_time,
            request.hash_algorithm,
            request.digest,
            policy,
            None,
            hashlib.sha256(token_of(response)).digest(),
        )
        try:
            with writer_lock():
                write_entries([entry])
        except Exception as exc:
            reset_connection()
            raise PdfSigningError(
                f"the time-stamp could not be written to the issuance log: {exc}"
            ) from exc
        return response

    def _token_factory(self) -> TokenFactory:
        with self._lock:
            if self._factory is None:
                factory = load_factory()
                if factory is None:
                    raise PdfSigningError("Keiin's TSA has no time-stamping unit certificate")
                self._factory = factory
            return self._factory


def keiin_timestamper() -> CallableTimeStamper:
    """A pyHanko time-stamper backed by Keiin's TSA in-process (see the module docstring).

    Raises :class:`~keiin.pdf.PdfSigningError` (through pyHanko) when the clock is not
    trusted or the issuance log cannot be written; no token leaves unlogged.
    """
    return CallableTimeStamper(_InProcessTsa(), in_thread=True)


# --------------------------------------------------------------------------- signers


def _chain_of(row: IssuedCertificate) -> list[asn1_x509.Certificate]:
    chain = []
    ca: CertificateAuthority | None = CertificateAuthority.objects.get(pk=row.issuer_id)
    while ca is not None:
        chain.append(asn1_x509.Certificate.load(bytes(ca.certificate_der)))
        parent_id = ca.parent_id
        ca = CertificateAuthority.objects.get(pk=parent_id) if parent_id else None
    return chain


@contextlib.contextmanager
def signer_for(credential: SignerCredential, pin: str, *, actor: str) -> Iterator[OneShotSigner]:
    """The one-shot pyHanko signer of ``credential``, unlocked with ``pin`` for the ``with``
    block (the key is zeroed on exit).

    Raises what :func:`~keiin.web.credentials.services.open_for_signing` raises
    (``PinRejectedError``, ``CredentialError``, ``ServerFaultError``) before anything is
    signed or time-stamped.
    """
    row = IssuedCertificate.objects.get(pk=credential.certificate_id)
    certificate = asn1_x509.Certificate.load(bytes(row.certificate_der))
    registry = SimpleCertificateStore.from_certs(_chain_of(row))
    with open_for_signing(credential, pin, actor=actor) as unlocked:
        yield unlocked.signer(certificate, registry)
