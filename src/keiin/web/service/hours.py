"""Service hours from the database, and which URLs they (and the rate limits) guard.

The rules themselves are the pure :mod:`keiin.service_hours`; this module only loads the
weekly schedule and the maintenance windows that have not ended yet.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

from keiin.service_hours import MaintenanceWindow as Window
from keiin.service_hours import ServiceHours, WeeklySchedule
from keiin.web.service.models import MaintenanceWindow, ServiceSchedule

logger = logging.getLogger(__name__)


def schedule_zone() -> ZoneInfo:
    """The zone the weekly schedule is written in (``TIME_ZONE``: Asia/Tokyo)."""
    return ZoneInfo(settings.TIME_ZONE)


def stored_weekly() -> WeeklySchedule | None:
    """The weekly schedule, or None (always open) when none is set.

    A stored value that does not parse (it can only be written through the validated console
    form) is logged and ignored: partners are not locked out by a damaged row.
    """
    value = ServiceSchedule.objects.filter(pk=1).values_list("weekly", flat=True).first()
    if value is None:
        return None
    try:
        return WeeklySchedule.from_json(value)
    except (TypeError, ValueError):
        logger.exception("ignoring an unreadable weekly service schedule")
        return None


@dataclass(frozen=True)
class ServiceStatus:
    """Whether partner pages are open at ``now``, and if not, why and until when."""

    now: dt.datetime
    hours: ServiceHours
    is_open: bool
    next_open: dt.datetime | None
    #: Seconds for ``Retry-After`` (None: no opening is scheduled).
    retry_after: int | None
    #: The maintenance window that closes the service now, if one does.
    window: MaintenanceWindow | None


def service_hours(now: dt.datetime | None = None) -> tuple[ServiceHours, list[MaintenanceWindow]]:
    """The schedule with every maintenance window not yet over at ``now``, and those rows."""
    now = now or timezone.now()
    rows = list(MaintenanceWindow.objects.filter(end__gt=now).order_by("start", "end", "id"))
    windows = [Window(row.start, row.end, row.reason_ja) for row in rows]
    return ServiceHours.build(stored_weekly(), windows, schedule_zone()), rows


def current_status(now: dt.datetime | None = None) -> ServiceStatus:
    """Open or closed at ``now`` (default: the current time)."""
    now = now or timezone.now()
    hours, rows = service_hours(now)
    is_open = hours.is_open(now)
    covering = [row for row in rows if row.start <= now < row.end]
    return ServiceStatus(
        now=now,
        hours=hours,
        is_open=is_open,
        next_open=hours.next_open(now),
        retry_after=hours.seconds_until_open(now),
        window=max(covering, key=lambda row: row.end) if covering else None,
    )


def _language_stripped(path: str) -> Iterable[str]:
    yield path
    for code, _name in settings.LANGUAGES:
        prefix = f"/{code}/"
        if path.startswith(prefix):
            yield path[len(code) + 1 :]


def path_matches(path: str, prefixes: Iterable[str]) -> bool:
    """Whether ``path`` (with or without a ``/en/`` language prefix) starts with a prefix."""
    prefixes = tuple(p for p in prefixes if p)
    return any(candidate.startswith(prefixes) for candidate in _language_stripped(path))


def guarded_prefixes() -> tuple[str, ...]:
    """URL prefixes closed outside service hours (``KEIIN_SERVICE_HOURS_PREFIXES``)."""
    return tuple(getattr(settings, "KEIIN_SERVICE_HOURS_PREFIXES", ("/p/",)))
