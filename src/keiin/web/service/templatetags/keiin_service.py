"""``{% load keiin_service %}``: the current service notices for any page.

``{% current_notices %}`` renders the maintenance, suspension and end-of-service notices that
are current (``service/_current_notices.html``; nothing at all when there are none). The
partner login template includes it above its form.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.dates import WEEKDAYS
from django.utils.translation import get_language

from keiin.service_hours import WeeklySchedule, format_clock
from keiin.web.service.notices import current_notices as _current_notices

register = template.Library()


@register.inclusion_tag("service/_current_notices.html")
def current_notices() -> dict[str, Any]:
    """The current service notices in the page's language."""
    language = (get_language() or "ja").split("-")[0]
    return {"notices": _current_notices(language)}


@register.filter
def weekly_rows(weekly: WeeklySchedule | None) -> list[tuple[str, tuple[str, str, bool] | None]]:
    """(weekday name, ("HH:MM", "HH:MM", runs over midnight) or None when closed), Monday
    first, for showing a weekly schedule."""
    if weekly is None:
        return []
    rows = []
    for index, day in enumerate(weekly.days):
        name = str(WEEKDAYS[index])
        if day is None:
            rows.append((name, None))
        else:
            rows.append((name, (format_clock(day.opens), format_clock(day.closes), day.overnight)))
    return rows
