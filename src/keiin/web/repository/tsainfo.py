"""What the time-stamping pages show: the service, its clock, its policy, its revocations.

Read-only, like the index: nothing here signs or publishes. The revocation list is published
with every revocation and on download; a page shows the newest stored list and the
revocations straight from the database.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

from django.conf import settings
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from keiin.pki.keys import KeyAlgorithm, algorithm_of
from keiin.tsa.clock import ClockGuard, ClockStatus, parse_servers
from keiin.tsa.request import HASH_ALGORITHMS
from keiin.web.ca import services
from keiin.web.repository.overview import TsaEntry, tsa_certificates
from keiin.web.repository.policyinfo import RootFingerprint, policy_facts
from keiin.web.timestamping import revocation_list
from keiin.web.timestamping.config import tsa_settings
from keiin.web.timestamping.endpoint import clock_status_file
from keiin.web.timestamping.models import TokenRevocation

#: How a token's signature is made, by the key type of the TSA certificate.
TOKEN_SIGNATURE_LABELS: dict[str, str] = {
    KeyAlgorithm.EC_P256.value: "ECDSA P-256 / SHA-256",
    KeyAlgorithm.EC_P384.value: "ECDSA P-384 / SHA-384",
    KeyAlgorithm.RSA_3072.value: "RSASSA-PKCS1-v1_5 (RSA 3072) / SHA-256",
    KeyAlgorithm.RSA_4096.value: "RSASSA-PKCS1-v1_5 (RSA 4096) / SHA-256",
}

#: Message imprint algorithms the TSA accepts, for people ("SHA-256", ...).
ACCEPTED_HASHES = [name.upper().replace("SHA", "SHA-") for name, _size in HASH_ALGORITHMS.values()]

_CLOCK_LABELS: dict[str, Promise] = {
    "ok": _("Synchronised"),
    "skewed": _("Out of tolerance"),
    "unknown": _("Unknown"),
    "unchecked": _("Not verified"),
}
#: The certificate status styles reused for the clock: green, red, amber, amber.
_CLOCK_STYLES = {"ok": "valid", "skewed": "revoked", "unknown": "expired", "unchecked": "expired"}


def describe_milliseconds(ms: int) -> str:
    """``1 second``, ``3 seconds`` or ``500 milliseconds`` (translated)."""
    if ms and ms % 1000 == 0:
        seconds = ms // 1000
        return ngettext("%(seconds)d second", "%(seconds)d seconds", seconds) % {"seconds": seconds}
    return ngettext("%(ms)d millisecond", "%(ms)d milliseconds", ms) % {"ms": ms}


@dataclass(frozen=True)
class ClockFacts:
    """The TSA clock as the last check found it (``keiin serve`` checks it periodically)."""

    state: str  # "ok" | "skewed" | "unknown" | "unchecked"
    label: Promise
    style: str  # a ``status--…`` modifier
    #: System clock minus reference, in milliseconds, signed ("+12.3"); "" when unknown.
    offset_ms: str
    checked_at: dt.datetime | None
    #: The reference that decided (server, stratum, delay) or why there is none.
    source: str
    #: The configured NTP servers.
    servers: list[str]
    tolerance: str
    interval_seconds: int
    #: The last check is older than the TSA accepts: it refuses until the next check.
    stale: bool
    #: Whether the TSA issues tokens right now (else it answers ``timeNotAvailable``).
    issuing: bool


@dataclass(frozen=True)
class RevocationListFacts:
    """The newest published revocation list and where to get it."""

    number: int | None
    published_at: dt.datetime | None
    entries: int
    json_url: str
    tsr_url: str
    json_public_url: str
    tsr_public_url: str
    #: The root CA certificate (PEM) to verify the list's token with.
    root_pem_url: str
    root_pem_name: str


@dataclass(frozen=True)
class TsaServiceFacts:
    """Everything on the time-stamping service page."""

    service_url: str
    policies: list[str]
    accuracy: str
    clock: ClockFacts
    current: list[TsaEntry]
    history: list[TsaEntry]
    revocations: int
    revocation_list: RevocationListFacts
    anonymous: bool


@dataclass(frozen=True)
class TsaPolicyFacts:
    """Configured values shown on the time-stamping policy page."""

    policies: list[str]
    accuracy: str
    servers: list[str]
    tolerance: str
    interval_seconds: int
    accepted_hashes: list[str]
    token_signature: str
    #: notAfter of the TSA certificate in use (None: no certificate in use).
    tsa_not_after: dt.datetime | None
    tsa_name: str
    service_url: str
    revocation_list: RevocationListFacts
    roots: list[RootFingerprint]


def _servers() -> list[str]:
    try:
        return [str(s) for s in parse_servers(tsa_settings().ntp_servers)]
    except ValueError:
        return [tsa_settings().ntp_servers]


def _read_clock() -> ClockStatus | None:
    try:
        status_file = clock_status_file()
    except OSError:
        return None
    try:
        return status_file.read()
    finally:
        status_file.close()


def _max_age(interval: float) -> float:
    """How old a clock check the TSA accepts (the endpoint's rule)."""
    return max(3 * interval, 30.0)


def clock_facts(now: float | None = None) -> ClockFacts:
    """Read the shared clock status file; an unreadable one counts as unknown."""
    cfg = tsa_settings()
    servers = _servers()
    status = _read_clock()
    if status is None:
        status = ClockStatus("unknown", None, None, "the clock status file could not be read")
    max_age = _max_age(cfg.ntp_interval)
    wall = time.time() if now is None else now
    stale = status.state in ("ok", "skewed") and (
        status.checked_at is None or wall - status.checked_at > max_age
    )
    guard = ClockGuard(
        _Fixed(status),  # type: ignore[arg-type]
        tolerance=cfg.clock_tolerance,
        max_age=max_age,
        unchecked_ok=cfg.allow_unchecked_clock and not servers,
    )
    issuing, _why = guard.check(now)
    offset_ms = ""
    if status.offset is not None:
        value = -status.offset * 1000
        offset_ms = f"{value:+.1f}" if abs(value) >= 0.05 else "0.0"
    checked_at = (
        dt.datetime.fromtimestamp(status.checked_at, dt.UTC)
        if status.checked_at is not None
        else None
    )
    return ClockFacts(
        state=status.state,
        label=_CLOCK_LABELS[status.state],
        style=_CLOCK_STYLES[status.state],
        offset_ms=offset_ms,
        checked_at=checked_at,
        source=status.source,
        servers=servers,
        tolerance=describe_milliseconds(round(cfg.clock_tolerance * 1000)),
        interval_seconds=round(cfg.ntp_interval),
        stale=stale,
        issuing=issuing,
    )


class _Fixed:
    """A status file stand-in that returns one status (the one the page already read)."""

    def __init__(self, status: ClockStatus) -> None:
        self._status = status

    def read(self) -> ClockStatus:
        return self._status


def revocation_list_facts() -> RevocationListFacts:
    """The newest stored list (a page never publishes one) and its download URLs."""
    newest = revocation_list.newest()
    root = services.get_root()
    slug = root.slug if root else "root-ca-1"
    json_url = revocation_list.JSON_PATH
    tsr_url = revocation_list.TSR_PATH
    return RevocationListFacts(
        number=newest.number if newest else None,
        published_at=newest.published_at if newest else None,
        entries=newest.entries if newest else 0,
        json_url=json_url,
        tsr_url=tsr_url,
        json_public_url=settings.KEIIN_BASE_URL + json_url,
        tsr_public_url=settings.KEIIN_BASE_URL + tsr_url,
        root_pem_url=reverse("ca-certificate-pem", args=[slug]),
        root_pem_name=f"{slug}.pem",
    )


def service_url() -> str:
    """Where customers send time-stamp requests."""
    return settings.KEIIN_BASE_URL + "/tsa"


def service_facts() -> TsaServiceFacts:
    """Collect the time-stamping service page."""
    cfg = tsa_settings()
    certificates = tsa_certificates()
    return TsaServiceFacts(
        service_url=service_url(),
        policies=list(cfg.policies),
        accuracy=describe_milliseconds(cfg.accuracy_ms),
        clock=clock_facts(),
        current=[t for t in certificates if t.current],
        history=[t for t in certificates if not t.current],
        revocations=TokenRevocation.objects.count(),
        revocation_list=revocation_list_facts(),
        anonymous=cfg.anonymous,
    )


def token_signature_label(key_algorithm: str | None) -> str:
    """How tokens are signed with a TSA key of ``key_algorithm`` (default: the CA's choice)."""
    return TOKEN_SIGNATURE_LABELS.get(key_algorithm or "", TOKEN_SIGNATURE_LABELS["ec-p256"])


def policy_page_facts() -> TsaPolicyFacts:
    """Collect the time-stamping policy page."""
    cfg = tsa_settings()
    row = services.current_tsa_certificate()
    key_algorithm = None
    if row is not None:
        try:
            certificate = services.certificate_of(row.certificate_der)
            key_algorithm = algorithm_of(certificate.public_key()).value
        except ValueError:
            key_algorithm = None
    return TsaPolicyFacts(
        policies=list(cfg.policies),
        accuracy=describe_milliseconds(cfg.accuracy_ms),
        servers=_servers(),
        tolerance=describe_milliseconds(round(cfg.clock_tolerance * 1000)),
        interval_seconds=round(cfg.ntp_interval),
        accepted_hashes=ACCEPTED_HASHES,
        token_signature=token_signature_label(key_algorithm),
        tsa_not_after=row.not_after if row else None,
        tsa_name=row.common_name if row else "",
        service_url=service_url(),
        revocation_list=revocation_list_facts(),
        roots=policy_facts().roots,
    )


@dataclass(frozen=True)
class RevocationRow:
    """One line of the revocation table."""

    serial_hex: str
    window_start: dt.datetime | None
    window_end: dt.datetime | None
    reason: str
    revoked_at: dt.datetime


def revocation_rows() -> list[RevocationRow]:
    """Every token revocation, oldest first (the order of the published list)."""
    return [
        RevocationRow(r.serial_hex, r.window_start, r.window_end, r.reason, r.revoked_at)
        for r in TokenRevocation.objects.order_by("revoked_at", "id")
    ]
