"""Glue between :mod:`keiin.pdf` and the web side: Keiin's own CA, TSA and signatory keys.

What the contracts app hands to :func:`keiin.pdf.certify` / :func:`keiin.pdf.approve`:

* :class:`CaRevocationSource` — revocation data from the database: for every certificate a
  Keiin CA issued, an OCSP response signed now by the CA's delegated responder (the very bytes
  ``/ocsp`` gives for a nonce-less request: same look-ups, same :func:`sign_answer`), the CA's
  current CRL, and the responder and CA certificates. A certificate Keiin did not issue raises
  :class:`UnknownCertificateError`.
* :func:`keiin_timestamper` — Keiin's TSA in-process: the endpoint's clock guard, the TSA's
  :class:`~keiin.tsa.template.TokenFactory`, serials from :func:`token_serials`, and every
  token committed to the issuance log (account None) *before* pyHanko sees it. Its genTimes
  are whole seconds (the declared accuracy, 1 s by default, covers the truncation), so the
  revocation data can be fetched at once after a signature, and pyHanko's size estimates use
  a placeholder, so no token is issued only to be measured.
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

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp as x509_ocsp
from django.db import close_old_connections, connection
from pyhanko_certvalidator.registry import SimpleCertificateStore

from keiin.custody.unlocked import OneShotSigner
from keiin.pdf.errors import PdfSigningError
from keiin.pdf.revinfo import RevocationData
from keiin.pdf.timestamper import CallableTimeStamper, factory_size_model, whole_second
from keiin.pki import ocsp
from keiin.tsa.clock import ClockGuard, parse_servers
from keiin.tsa.issuance import LogEntry
from keiin.tsa.request import parse_request
from keiin.tsa.response import Rejection
from keiin.tsa.template import TokenFactory, TsaProfile, token_of
from keiin.web.accounts.models import User
from keiin.web.ca import services as ca_services
from keiin.web.ca.models import CertificateAuthority, IssuedCertificate
from keiin.web.ca.ocsp_endpoint import authority_for, sign_answer
from keiin.web.credentials.models import SignerCredential
from keiin.web.credentials.services import open_for_signing
from keiin.web.timestamping.config import TsaSettings, tsa_settings
from keiin.web.timestamping.endpoint import clock_status_file
from keiin.web.timestamping.issuance_log import reset_connection, write_entries, writer_lock
from keiin.web.timestamping.profile import factory_for
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


def _ocsp_request(cert: x509.Certificate, issuer: x509.Certificate) -> bytes:
    """A nonce-less DER OCSPRequest for ``cert`` (SHA-1 CertID, as RFC 5019 clients send)."""
    builder = x509_ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1())  # noqa: S303
    return builder.build().public_bytes(serialization.Encoding.DER)


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
        """The answer for ``certificates``, CA by CA: one look-up of the certificates, and per
        CA one responder, one status query and one CRL."""
        cas = {ca.pk: ca for ca in CertificateAuthority.objects.all()}
        wanted = {hashlib.sha256(cert.dump()).hexdigest(): cert for cert in certificates}
        rows = IssuedCertificate.objects.filter(fingerprint_sha256__in=list(wanted))
        issuer_of = {row.fingerprint_sha256: row.issuer_id for row in rows}
        by_ca: dict[int, list[x509.Certificate]] = {}
        for fingerprint, cert in wanted.items():
            ca_id = issuer_of.get(fingerprint)
            if ca_id not in cas:
                raise UnknownCertificateError(
                    f"Keiin's CA did not issue {cert.subject.human_friendly} "
                    f"(serial {cert.serial_number:x}); no revocation data for it"
                )
            by_ca.setdefault(ca_id, []).append(x509.load_der_x509_certificate(cert.dump()))
        authorities = ca_services.ocsp_authorities() if by_ca else []
        ocsps: list[bytes] = []
        crls: list[bytes] = []
        extra: dict[bytes, None] = {}
        for ca_id, certs in by_ca.items():
            ca: CertificateAuthority | None = cas[ca_id]
            assert ca is not None
            issuer = x509.load_der_x509_certificate(bytes(ca.certificate_der))
            queries = [ocsp.parse_request(_ocsp_request(cert, issuer)) for cert in certs]
            signed = ca_services.ocsp_signer(ca_id)
            owners = [authority_for(authorities, query) for query in queries]
            if signed is None or any(o is None or o.ca_id != ca_id for o in owners):
                raise PdfSigningError(f"CA {ca.slug} has no valid OCSP responder certificate")
            signer = signed[0]
            serials = [cert_id.serial for q in queries for cert_id in q.cert_ids]
            statuses = ca_services.certificate_statuses(ca_id, serials)
            for query in queries:
                body, _produced, _validity = sign_answer(signer, query, statuses)
                ocsps.append(body)
            crls.append(bytes(ca_services.current_crl(ca).der))
            extra[_der(signer.certificate)] = None
            while ca is not None:  # the CA certificates up to the root
                extra[bytes(ca.certificate_der)] = None
                ca = cas.get(ca.parent_id) if ca.parent_id else None
        return RevocationData(
            ocsp_responses=tuple(ocsps), crls=tuple(crls), certificates=tuple(extra)
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


#: One second in microseconds: the declared accuracy must reach it for whole-second genTimes.
_SECOND_US = 1_000_000


def accuracy_covers_whole_seconds(profile: TsaProfile) -> bool:
    """Whether ``profile``'s declared accuracy is at least one second, so that a genTime
    truncated to the second still lies within accuracy of the moment of issue (RFC 3161
    §2.4.2: the time is genTime ± accuracy)."""
    declared = (
        profile.accuracy_seconds * _SECOND_US
        + profile.accuracy_millis * 1000
        + profile.accuracy_micros
    )
    return declared >= _SECOND_US


class _InProcessTsa:
    """The transport of :func:`keiin_timestamper` (runs in a worker thread).

    genTime is the issue time truncated to the second when the TSA's declared accuracy is at
    least a second (the default, ``KEIIN_TSA_ACCURACY_MS=1000``), else to the millisecond as
    at ``POST /tsa`` (and signing then waits for the next second before fetching revocation
    data; see :func:`keiin.pdf.timestamper.whole_second`).
    """

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
        if accuracy_covers_whole_seconds(factory.profile):
            gen_time = whole_second(now)
        else:
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

    def size_model(self, md_algorithm: str) -> bytes:
        """A placeholder token for pyHanko's size estimates (nothing issued, nothing logged);
        see :func:`keiin.pdf.timestamper.placeholder_token`."""
        with _worker_connection():
            factory = self._token_factory()
        return factory_size_model(factory)(md_algorithm)

    def _token_factory(self) -> TokenFactory:
        """The factory of the TSA certificate current at the first token: one per signing."""
        with self._lock:
            if self._factory is None:
                self._factory = _current_factory()
            return self._factory


#: Token factories built in this process, by TSA certificate and TSA settings: building one
#: parses and pre-encodes the certificate and key, a few milliseconds per signature otherwise.
_factories: dict[tuple[str, TsaSettings], TokenFactory] = {}
_factories_lock = threading.Lock()


def _current_factory() -> TokenFactory:
    """The token factory of the current TSA certificate (call with a database connection)."""
    row = ca_services.current_tsa_certificate()
    if row is None:
        raise PdfSigningError("Keiin's TSA has no time-stamping unit certificate")
    key = (row.fingerprint_sha256, tsa_settings())
    with _factories_lock:
        factory = _factories.get(key)
        if factory is None:
            factory = _factories[key] = factory_for(row)
        return factory


def keiin_timestamper() -> CallableTimeStamper:
    """A pyHanko time-stamper backed by Keiin's TSA in-process (see the module docstring).

    Raises :class:`~keiin.pdf.PdfSigningError` (through pyHanko) when the clock is not
    trusted or the issuance log cannot be written; no token leaves unlogged. Only the tokens
    that end up in the document are issued: size estimates use a placeholder.
    """
    tsa = _InProcessTsa()
    return CallableTimeStamper(tsa, in_thread=True, size_model=tsa.size_model)


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
def signer_for(
    credential: SignerCredential, pin: str, *, actor: str, user: User | None = None
) -> Iterator[OneShotSigner]:
    """The one-shot pyHanko signer of ``credential``, unlocked with ``pin`` for the ``with``
    block (the key is zeroed on exit). ``user`` is the person signing (required for the
    organisation seal: an active contract manager).

    Raises what :func:`~keiin.web.credentials.services.open_for_signing` raises
    (``PinRejectedError``, ``CredentialError``, ``ServerFaultError``) before anything is
    signed or time-stamped.
    """
    row = IssuedCertificate.objects.get(pk=credential.certificate_id)
    certificate = asn1_x509.Certificate.load(bytes(row.certificate_der))
    registry = SimpleCertificateStore.from_certs(_chain_of(row))
    with open_for_signing(credential, pin, actor=actor, user=user) as unlocked:
        yield unlocked.signer(certificate, registry)
