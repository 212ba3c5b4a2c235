"""The signed token revocation list, published in the repository.

Customers must check that a token is not revoked (seed 004, article 8.3), so the list is
public and machine-readable: ``/tsa/revocations.json`` is a canonical JSON document and
``/tsa/revocations.tsr`` an RFC 3161 TimeStampResp over the SHA-256 of exactly those bytes,
issued by Keiin's own TSA. Anyone can check both with OpenSSL::

    openssl ts -verify -in revocations.tsr -data revocations.json -CAfile root.pem

The document (UTF-8, sorted keys, no insignificant white space)::

    {"issuer": "<TSA certificate subject, RFC 4514>", "number": 7,
     "published_at": "2026-01-05T03:00:00Z",
     "revocations": [
        {"reason": "...", "revoked_at": "...Z", "serial": "<token serial, lower-case hex>"},
        {"reason": "...", "revoked_at": "...Z",
         "window_end": "...Z", "window_start": "...Z"}],
     "version": 1}

A window revokes every token whose genTime ``t`` has ``window_start <= t < window_end``.
``number`` grows by one with every list. A new list is published in the same transaction as
every revocation, and on request when the newest list is out of date (no list yet, a
revocation it does not include, or a new TSA certificate).

The list's own token is an ordinary token: it has a fresh random serial and is written to
the issuance log (with no account) like every token Keiin issues. It is issued without the
clock guard: a revocation (for instance of a clock incident's window) must not wait for the
clock to be fixed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max

from keiin.pki.serials import serial_to_hex
from keiin.tsa.request import TimeStampRequest
from keiin.tsa.template import TokenFactory, token_of
from keiin.web.audit.log import record
from keiin.web.ca import services
from keiin.web.ca.models import IssuedCertificate
from keiin.web.timestamping.models import IssuedToken, RevocationListSnapshot, TokenRevocation
from keiin.web.timestamping.profile import factory_for
from keiin.web.timestamping.serials import token_serials

log = logging.getLogger("keiin.tsa")

VERSION = 1
#: Where the list and its token are published (fixed: the policy page promises them).
JSON_PATH = "/tsa/revocations.json"
TSR_PATH = "/tsa/revocations.tsr"
#: Attempts when a concurrent publisher took the same number (or, once in 2**127, serial).
_ATTEMPTS = 5

Snapshot = RevocationListSnapshot


class RevocationListUnavailableError(Exception):
    """No list can be signed: there is no valid time-stamping unit certificate."""


def canonical_json(document: dict[str, Any]) -> bytes:
    """The one byte string a document is published and signed as."""
    text = json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return text.encode("utf-8")


def iso_utc(moment: dt.datetime) -> str:
    """``2026-01-05T03:00:00Z`` (fractions of a second only when there are any)."""
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def entry_of(revocation: TokenRevocation) -> dict[str, str]:
    """One revocation as the document lists it."""
    item = {"reason": revocation.reason, "revoked_at": iso_utc(revocation.revoked_at)}
    if revocation.serial_hex:
        item["serial"] = revocation.serial_hex
    else:
        assert revocation.window_start is not None and revocation.window_end is not None
        item["window_start"] = iso_utc(revocation.window_start)
        item["window_end"] = iso_utc(revocation.window_end)
    return item


def issuer_of_list(row: IssuedCertificate) -> str:
    """The ``issuer`` of a list signed with TSA certificate ``row``: its subject DN."""
    return services.certificate_of(row.certificate_der).subject.rfc4514_string()


def _last_revocation_id() -> int:
    return TokenRevocation.objects.aggregate(last=Max("id"))["last"] or 0


def _next_number() -> int:
    return (RevocationListSnapshot.objects.aggregate(last=Max("number"))["last"] or 0) + 1


def _publish_once(row: IssuedCertificate, factory: TokenFactory, actor: str) -> Snapshot:
    revocations = list(TokenRevocation.objects.order_by("revoked_at", "id"))
    number = _next_number()
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    document = canonical_json(
        {
            "version": VERSION,
            "number": number,
            "issuer": issuer_of_list(row),
            "published_at": iso_utc(now),
            "revocations": [entry_of(r) for r in revocations],
        }
    )
    digest = hashlib.sha256(document).digest()
    request = TimeStampRequest(
        hash_algorithm="sha256", digest=digest, policy=None, nonce=None, cert_req=True
    )
    policy = factory.select_policy(request)
    sequence, serial = token_serials().next()
    response = factory.grant(request, serial=serial, gen_time=now, policy=policy)
    token_serial = serial_to_hex(serial)
    # Audit first: every publisher takes the audit chain's lock before the list's number,
    # as a revocation does, so concurrent publishers queue instead of deadlocking.
    record(
        "tsa.revocations.published",
        actor=actor,
        target=str(number),
        data={"entries": len(revocations), "token_serial": token_serial},
    )
    IssuedToken.objects.create(
        id=sequence,
        serial_hex=token_serial,
        gen_time=now,
        hash_algorithm=request.hash_algorithm,
        digest_hex=digest.hex(),
        policy=policy,
        account=None,
        token_sha256=hashlib.sha256(token_of(response)).hexdigest(),
    )
    return RevocationListSnapshot.objects.create(
        number=number,
        published_at=now,
        document=document,
        response=response,
        token_serial_hex=token_serial,
        tsa_serial_hex=row.serial_hex,
        entries=len(revocations),
        last_revocation_id=max((r.pk for r in revocations), default=0),
        actor=actor,
    )


def publish(actor: str) -> Snapshot:
    """Sign and store the next list; joins the caller's transaction if there is one.

    Raises :class:`RevocationListUnavailableError` when there is no TSA certificate.
    """
    row = services.current_tsa_certificate()
    if row is None:
        raise RevocationListUnavailableError("no valid time-stamping unit certificate")
    factory = factory_for(row)
    for attempt in range(_ATTEMPTS):
        try:
            with transaction.atomic():  # a savepoint when the caller has a transaction
                return _publish_once(row, factory, actor)
        except IntegrityError:
            # Another publisher committed the same number meanwhile: build the list again,
            # so that it also includes whatever that one's transaction revoked.
            if attempt == _ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def publish_after_revocation(actor: str) -> Snapshot | None:
    """Publish after a revocation; without a TSA certificate, keep the revocation anyway.

    Revoking tokens must stay possible when the TSA certificate itself has been revoked
    (that is when it is most needed); the list follows as soon as a certificate exists.
    """
    try:
        return publish(actor)
    except RevocationListUnavailableError:
        log.warning("token revocation recorded but the list cannot be signed: no TSA certificate")
        return None


def newest() -> Snapshot | None:
    """The newest stored list, whatever its age."""
    return RevocationListSnapshot.objects.order_by("-number").first()


def by_number(number: int) -> Snapshot | None:
    """A stored list by its number."""
    return RevocationListSnapshot.objects.filter(number=number).first()


def _out_of_date(snapshot: Snapshot) -> bool:
    if snapshot.last_revocation_id != _last_revocation_id():
        return True
    row = services.current_tsa_certificate()
    return row is not None and row.serial_hex != snapshot.tsa_serial_hex


def current() -> Snapshot | None:
    """The list to serve: the newest one, published first if there is none or it is out of
    date. None only when no list exists and none can be signed."""
    snapshot = newest()
    if snapshot is not None and not _out_of_date(snapshot):
        return snapshot
    with transaction.atomic():
        snapshot = newest()
        if snapshot is not None and not _out_of_date(snapshot):
            return snapshot  # another request has just published it
        try:
            return publish("system")
        except RevocationListUnavailableError:
            return snapshot
