"""Durations written for people: "20 years (7300 days)", "7 days 12 hours", "90 days"."""

from __future__ import annotations

import datetime as dt

from django.utils.translation import ngettext, pgettext

_DAY = 86_400
_HOUR = 3_600


def describe_period(period: dt.timedelta) -> str:
    """A translated, exact description of ``period`` in years, days, hours or minutes."""
    seconds = int(period.total_seconds())
    days, rest = divmod(seconds, _DAY)
    if rest == 0 and days >= 365 and days % 365 == 0:
        years = days // 365
        return ngettext(
            "%(years)d year (%(days)d days)", "%(years)d years (%(days)d days)", years
        ) % {"years": years, "days": days}
    if rest == 0 and days > 0:
        return ngettext("%(days)d day", "%(days)d days", days) % {"days": days}
    if seconds % _HOUR == 0:
        hours = seconds // _HOUR
        if days >= 2:
            rest_hours = rest // _HOUR
            return pgettext("duration", "%(days)s %(hours)s") % {
                "days": ngettext("%(days)d day", "%(days)d days", days) % {"days": days},
                "hours": ngettext("%(hours)d hour", "%(hours)d hours", rest_hours)
                % {"hours": rest_hours},
            }
        return ngettext("%(hours)d hour", "%(hours)d hours", hours) % {"hours": hours}
    minutes = seconds // 60
    return ngettext("%(minutes)d minute", "%(minutes)d minutes", minutes) % {"minutes": minutes}
