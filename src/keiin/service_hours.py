"""Service hours: a weekly schedule plus maintenance windows (no Django).

The terms (clause 5 (4)) let the operator fix the hours in which partners may use the
service, and clause 6 lets it stop the service for maintenance. This module answers the two
questions the web layer asks about those rules:

* :meth:`ServiceHours.is_open` — may partners use the service at this instant?
* :meth:`ServiceHours.next_open` — if not, from which instant on may they again?

A :class:`WeeklySchedule` gives, per weekday, one opening period in local wall-clock time
(Asia/Tokyo by default); a period whose closing time is not after its opening time runs over
midnight into the next day. A :class:`MaintenanceWindow` closes the service from ``start``
(inclusive) to ``end`` (exclusive) whatever the schedule says. No schedule means always open.

Times are compared on the wall clock of the schedule's zone. Asia/Tokyo has no daylight
saving time, so every local time exists exactly once; in a zone with DST, instants inside a
transition gap or overlap follow Python's ``fold=0`` rule and may be a little off.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

#: The operator's time zone: the terms are Japanese and so are the hours.
TOKYO = ZoneInfo("Asia/Tokyo")
DAY_MINUTES = 24 * 60
WEEK_MINUTES = 7 * DAY_MINUTES
_WEEK = dt.timedelta(days=7)
#: Weekday keys, Monday first (``datetime.weekday()`` order).
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_CLOCK = re.compile(r"^([01]?\d|2[0-4]):([0-5]\d)$")


def parse_clock(text: str) -> int:
    """Minutes after midnight of ``"HH:MM"``; ``"24:00"`` (end of day) is 1440.

    Raises ValueError for anything else (``"24:01"``, ``"9"``, ``"09:60"``).
    """
    found = _CLOCK.match(text.strip())
    if not found:
        raise ValueError(f"not a time of day (HH:MM): {text!r}")
    minutes = int(found.group(1)) * 60 + int(found.group(2))
    if minutes > DAY_MINUTES:
        raise ValueError(f"not a time of day (HH:MM): {text!r}")
    return minutes


def format_clock(minutes: int) -> str:
    """``"HH:MM"`` of minutes after midnight (1440 → ``"24:00"``)."""
    if not 0 <= minutes <= DAY_MINUTES:
        raise ValueError(f"minutes out of range: {minutes}")
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@dataclass(frozen=True)
class DayHours:
    """One weekday's opening period, in minutes after local midnight.

    ``opens`` is 0–1439 and ``closes`` 1–1440. When ``closes`` is not after ``opens`` the
    period runs over midnight and ends at ``closes`` on the next day (22:00–06:00);
    ``opens == closes`` is refused as ambiguous (use 00:00–24:00 for a whole day).
    """

    opens: int
    closes: int

    def __post_init__(self) -> None:
        if not 0 <= self.opens < DAY_MINUTES:
            raise ValueError(f"opening time out of range: {self.opens}")
        if not 0 < self.closes <= DAY_MINUTES:
            raise ValueError(f"closing time out of range: {self.closes}")
        if self.opens == self.closes:
            raise ValueError("opening and closing time are the same")

    @property
    def overnight(self) -> bool:
        """Whether the period ends on the next day."""
        return self.closes < self.opens

    @property
    def minutes(self) -> int:
        """Length of the period in minutes."""
        return self.closes - self.opens + (DAY_MINUTES if self.overnight else 0)

    @classmethod
    def parse(cls, opens: str, closes: str) -> DayHours:
        """From ``"HH:MM"`` texts; ``closes`` may be ``"24:00"``."""
        return cls(parse_clock(opens), parse_clock(closes))

    def to_json(self) -> list[str]:
        """``["HH:MM", "HH:MM"]``."""
        return [format_clock(self.opens), format_clock(self.closes)]


@dataclass(frozen=True)
class WeeklySchedule:
    """Opening periods for each weekday, Monday first; ``None`` is a closed day."""

    days: tuple[DayHours | None, ...]

    def __post_init__(self) -> None:
        if len(self.days) != 7:
            raise ValueError("a weekly schedule has exactly 7 days")
        for day in self.days:
            if day is not None and not isinstance(day, DayHours):
                raise TypeError("each day is DayHours or None")

    @classmethod
    def from_days(cls, days: Sequence[DayHours | None]) -> WeeklySchedule:
        """From a sequence of 7 entries, Monday first."""
        return cls(tuple(days))

    @classmethod
    def from_json(cls, value: object) -> WeeklySchedule:
        """From ``[["09:00", "18:00"], null, …]`` (7 entries, Monday first).

        Raises ValueError (or TypeError) for anything malformed.
        """
        if not isinstance(value, list) or len(value) != 7:
            raise ValueError("a weekly schedule is a list of 7 days")
        days: list[DayHours | None] = []
        for entry in value:
            if entry is None:
                days.append(None)
            elif (
                isinstance(entry, list)
                and len(entry) == 2
                and all(isinstance(part, str) for part in entry)
            ):
                days.append(DayHours.parse(entry[0], entry[1]))
            else:
                raise ValueError(f"not a day's hours: {entry!r}")
        return cls(tuple(days))

    def to_json(self) -> list[list[str] | None]:
        """The JSON form read by :meth:`from_json`."""
        return [day.to_json() if day else None for day in self.days]

    @property
    def intervals(self) -> tuple[tuple[int, int], ...]:
        """Open periods as ``(start, end)`` minutes after Monday 00:00, ``start < end``.

        ``end`` exceeds :data:`WEEK_MINUTES` for a Sunday period that runs into Monday.
        """
        result = []
        for weekday, day in enumerate(self.days):
            if day is not None:
                start = weekday * DAY_MINUTES + day.opens
                result.append((start, start + day.minutes))
        return tuple(result)

    @property
    def ever_open(self) -> bool:
        """Whether at least one day has opening hours."""
        return any(day is not None for day in self.days)

    def is_open_at(self, position: dt.timedelta) -> bool:
        """Whether the service is open ``position`` after Monday 00:00 (local wall clock)."""
        for start, end in self.intervals:
            low, high = dt.timedelta(minutes=start), dt.timedelta(minutes=end)
            if low <= position < high:
                return True
            if end > WEEK_MINUTES and position < high - _WEEK:
                return True
        return False


@dataclass(frozen=True)
class MaintenanceWindow:
    """The service is closed from ``start`` (inclusive) until ``end`` (exclusive)."""

    start: dt.datetime
    end: dt.datetime
    reason: str = ""

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("maintenance windows need time-zone-aware times")
        if self.end <= self.start:
            raise ValueError("a maintenance window ends after it starts")

    def covers(self, moment: dt.datetime) -> bool:
        """Whether ``moment`` falls inside the window."""
        return self.start <= moment < self.end


def _aware(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("service hours need a time-zone-aware time")
    return moment


def _week_start(local: dt.datetime) -> dt.datetime:
    """Monday 00:00 (wall clock) of the week ``local`` falls in."""
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight - dt.timedelta(days=local.weekday())


def _week_position(local: dt.datetime) -> dt.timedelta:
    return local.replace(tzinfo=None) - _week_start(local).replace(tzinfo=None)


@dataclass(frozen=True)
class ServiceHours:
    """The weekly schedule (``None``: always open) and the maintenance windows."""

    weekly: WeeklySchedule | None = None
    windows: tuple[MaintenanceWindow, ...] = ()
    tz: dt.tzinfo = TOKYO

    @classmethod
    def build(
        cls,
        weekly: WeeklySchedule | None = None,
        windows: Iterable[MaintenanceWindow] = (),
        tz: dt.tzinfo = TOKYO,
    ) -> ServiceHours:
        """A schedule with ``windows`` sorted by start."""
        return cls(weekly, tuple(sorted(windows, key=lambda w: (w.start, w.end))), tz)

    def window_at(self, now: dt.datetime) -> MaintenanceWindow | None:
        """The maintenance window covering ``now`` that ends last, if any."""
        now = _aware(now)
        covering = [w for w in self.windows if w.covers(now)]
        return max(covering, key=lambda w: w.end) if covering else None

    def scheduled_open(self, now: dt.datetime) -> bool:
        """Whether the weekly schedule (ignoring maintenance) is open at ``now``."""
        if self.weekly is None:
            return True
        return self.weekly.is_open_at(_week_position(_aware(now).astimezone(self.tz)))

    def is_open(self, now: dt.datetime) -> bool:
        """Whether partners may use the service at ``now``."""
        return self.window_at(now) is None and self.scheduled_open(now)

    def _next_scheduled_start(self, moment: dt.datetime) -> dt.datetime | None:
        """The first opening-period start after ``moment`` (which the schedule has closed)."""
        assert self.weekly is not None
        local = moment.astimezone(self.tz)
        week_start = _week_start(local)
        best: dt.datetime | None = None
        for start, _end in self.weekly.intervals:
            candidate = week_start + dt.timedelta(minutes=start)
            if candidate <= local:
                candidate += _WEEK
            if best is None or candidate < best:
                best = candidate
        return best

    def next_open(self, now: dt.datetime) -> dt.datetime | None:
        """The first instant at or after ``now`` when the service is open (``now`` itself if
        it is open), in the schedule's zone; None if it never opens again (every day closed).
        """
        moment = _aware(now)
        # Each pass either returns, leaves a window for good (moment only grows), or moves to
        # a period start that is then inside a window: at most 2 passes per window, plus 2.
        for _ in range(2 * len(self.windows) + 3):
            window = self.window_at(moment)
            if window is not None:
                moment = window.end
                continue
            if self.scheduled_open(moment):
                return moment.astimezone(self.tz)
            if self.weekly is None or not self.weekly.ever_open:
                return None
            moment = self._next_scheduled_start(moment)  # type: ignore[assignment]
        raise AssertionError("next_open did not converge")  # pragma: no cover

    def seconds_until_open(self, now: dt.datetime) -> int | None:
        """Whole seconds (rounded up, at least 1) until :meth:`next_open`; 0 when open now;
        None when the service never opens again. Suits an HTTP ``Retry-After`` header."""
        opening = self.next_open(now)
        if opening is None:
            return None
        delta = opening - now
        if delta <= dt.timedelta(0):
            return 0
        seconds = delta.days * 86400 + delta.seconds + (1 if delta.microseconds else 0)
        return max(1, seconds)


#: Nothing configured: always open.
ALWAYS_OPEN = ServiceHours()
