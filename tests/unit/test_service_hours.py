"""keiin.service_hours: weekly schedule + maintenance windows, checked against a brute-force
minute-by-minute reference built independently from the day-by-day rule."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keiin.service_hours import (
    ALWAYS_OPEN,
    DAY_MINUTES,
    TOKYO,
    DayHours,
    MaintenanceWindow,
    ServiceHours,
    WeeklySchedule,
    format_clock,
    parse_clock,
)

UTC = dt.UTC
MINUTE = dt.timedelta(minutes=1)
WEEK = 7 * DAY_MINUTES


def tokyo(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=TOKYO)


OFFICE = WeeklySchedule.from_days(
    [DayHours.parse("09:00", "18:00")] * 5 + [None, None]  # Monday–Friday 9–18
)


# --------------------------------------------------------------------------- the reference


def reference_table(days: list[tuple[int, int] | None]) -> list[bool]:
    """Open flags for each minute of the week (Monday 00:00 first), day by day."""
    table = [False] * WEEK
    for weekday, day in enumerate(days):
        if day is None:
            continue
        opens, closes = day
        if closes > opens:
            for minute in range(opens, closes):
                table[weekday * DAY_MINUTES + minute] = True
        else:  # runs over midnight into the next day (Sunday into Monday)
            for minute in range(opens, DAY_MINUTES):
                table[weekday * DAY_MINUTES + minute] = True
            for minute in range(closes):
                table[((weekday + 1) % 7) * DAY_MINUTES + minute] = True
    return table


def reference_open(
    table: list[bool], windows: list[tuple[dt.datetime, dt.datetime]], moment: dt.datetime
) -> bool:
    """Open at the minute ``moment`` falls in (windows are minute-aligned)."""
    local = moment.astimezone(TOKYO)
    index = local.weekday() * DAY_MINUTES + local.hour * 60 + local.minute
    if not table[index]:
        return False
    return not any(start <= moment < end for start, end in windows)


def floor_minute(moment: dt.datetime) -> dt.datetime:
    return moment.replace(second=0, microsecond=0)


# --------------------------------------------------------------------------- strategies


@st.composite
def day_hours(draw) -> tuple[int, int] | None:
    if draw(st.booleans()):
        return None
    opens = draw(st.integers(0, DAY_MINUTES - 1))
    closes = draw(st.integers(1, DAY_MINUTES).filter(lambda c: c != opens))
    return opens, closes


weeks = st.lists(day_hours(), min_size=7, max_size=7)
base_times = st.datetimes(
    min_value=dt.datetime(2020, 1, 1), max_value=dt.datetime(2035, 12, 31), timezones=st.just(UTC)
).map(floor_minute)


@st.composite
def windows_near(draw, base: dt.datetime) -> list[tuple[dt.datetime, dt.datetime]]:
    result = []
    for _ in range(draw(st.integers(0, 4))):
        start = base + draw(st.integers(-600, 3 * DAY_MINUTES)) * MINUTE
        result.append((start, start + draw(st.integers(1, 2 * DAY_MINUTES)) * MINUTE))
    return result


def build(days, windows) -> ServiceHours:
    weekly = WeeklySchedule.from_days([DayHours(*d) if d else None for d in days])
    return ServiceHours.build(weekly, [MaintenanceWindow(s, e, "m") for s, e in windows])


# 3 days of windows + 2 weeks: past every possible opening when one exists.
HORIZON = (3 + 14) * DAY_MINUTES


def scan_first_open(table, windows, start: dt.datetime) -> dt.datetime | None:
    for step in range(HORIZON):
        moment = start + step * MINUTE
        if reference_open(table, windows, moment):
            return moment
    return None


# --------------------------------------------------------------------------- properties


@settings(max_examples=150, deadline=None)
@given(data=st.data(), days=weeks, base=base_times)
def test_is_open_agrees_with_the_reference(data, days, base):
    windows = data.draw(windows_near(base))
    hours = build(days, windows)
    table = reference_table(days)
    offsets = data.draw(st.lists(st.integers(-600, 4 * DAY_MINUTES), min_size=1, max_size=20))
    seconds = data.draw(st.integers(0, 59))
    for offset in offsets:
        moment = base + offset * MINUTE + dt.timedelta(seconds=seconds, microseconds=7)
        assert hours.is_open(moment) == reference_open(table, windows, floor_minute(moment))


@settings(max_examples=80, deadline=None)
@given(data=st.data(), days=weeks, base=base_times)
def test_next_open_is_the_first_open_minute_of_a_scan(data, days, base):
    windows = data.draw(windows_near(base))
    hours = build(days, windows)
    table = reference_table(days)
    now = base + data.draw(st.integers(-120, 2 * DAY_MINUTES)) * MINUTE
    expected = scan_first_open(table, windows, now)
    got = hours.next_open(now)
    assert got == expected
    if got is not None:
        assert got.tzinfo is TOKYO
        assert hours.is_open(got)
        assert hours.seconds_until_open(now) == int((got - now).total_seconds())
    else:
        assert not any(table), "only a schedule closed every day never opens"
        assert hours.seconds_until_open(now) is None


@settings(max_examples=80, deadline=None)
@given(data=st.data(), days=weeks, base=base_times)
def test_next_open_between_minutes(data, days, base):
    """From an instant inside a minute: itself when open, else the first open minute after."""
    windows = data.draw(windows_near(base))
    hours = build(days, windows)
    table = reference_table(days)
    now = (
        base
        + data.draw(st.integers(0, DAY_MINUTES)) * MINUTE
        + dt.timedelta(seconds=data.draw(st.integers(1, 59)))
    )
    got = hours.next_open(now)
    if reference_open(table, windows, floor_minute(now)):
        assert got == now
        assert hours.seconds_until_open(now) == 0
    else:
        assert got == scan_first_open(table, windows, floor_minute(now) + MINUTE)
        if got is not None:
            assert 1 <= hours.seconds_until_open(now) <= (got - now).total_seconds() + 1


@settings(max_examples=100, deadline=None)
@given(data=st.data(), days=weeks, base=base_times)
def test_next_open_with_windows_to_the_second(data, days, base):
    """Windows that do not start on a minute: the answer is open and nothing before it is
    (checked at every minute and every window edge in between)."""
    windows = []
    for _ in range(data.draw(st.integers(1, 4))):
        start = base + dt.timedelta(seconds=data.draw(st.integers(-3600, 2 * 86400)))
        length = dt.timedelta(seconds=data.draw(st.integers(1, 86400)))
        windows.append(MaintenanceWindow(start, start + length))
    weekly = WeeklySchedule.from_days([DayHours(*d) if d else None for d in days])
    hours = ServiceHours.build(weekly, windows)
    now = base + dt.timedelta(seconds=data.draw(st.integers(0, 86400)))
    got = hours.next_open(now)
    if got is None:
        assert not weekly.ever_open
        return
    assert got >= now
    assert hours.is_open(got)
    probes = [now + step * MINUTE for step in range(int((got - now) / MINUTE) + 1)]
    probes += [w.start for w in windows] + [w.end for w in windows]
    probes += [p - dt.timedelta(microseconds=1) for p in probes]
    for probe in probes:
        if now <= probe < got:
            assert not hours.is_open(probe), probe


@given(days=weeks)
def test_weekly_json_round_trip(days):
    weekly = WeeklySchedule.from_days([DayHours(*d) if d else None for d in days])
    assert WeeklySchedule.from_json(weekly.to_json()) == weekly


# --------------------------------------------------------------------------- examples


def test_nothing_configured_is_always_open():
    now = dt.datetime(2026, 11, 28, 3, 0, tzinfo=UTC)  # a Saturday
    assert ALWAYS_OPEN.is_open(now)
    assert ALWAYS_OPEN.next_open(now) == now
    assert ALWAYS_OPEN.seconds_until_open(now) == 0


def test_office_hours_in_tokyo():
    hours = ServiceHours.build(OFFICE)
    assert hours.is_open(tokyo(2026, 11, 24, 9, 0))  # Tuesday
    assert hours.is_open(tokyo(2026, 11, 24, 17, 59, 59))
    assert not hours.is_open(tokyo(2026, 11, 24, 18, 0))
    assert not hours.is_open(tokyo(2026, 11, 24, 8, 59, 59))
    # Friday evening, given in UTC: next Monday 09:00 in Tokyo.
    friday = dt.datetime(2026, 11, 27, 10, 30, tzinfo=UTC)  # 19:30 JST
    assert not hours.is_open(friday)
    assert hours.next_open(friday) == tokyo(2026, 11, 30, 9, 0)
    assert hours.seconds_until_open(friday) == (2 * 24 + 13) * 3600 + 30 * 60


def test_overnight_and_whole_days():
    weekly = WeeklySchedule.from_days(
        [DayHours.parse("22:00", "06:00"), *[None] * 5, DayHours.parse("00:00", "24:00")]
    )
    hours = ServiceHours.build(weekly)
    assert hours.is_open(tokyo(2026, 11, 23, 23, 0))  # Monday night
    assert hours.is_open(tokyo(2026, 11, 24, 5, 59))  # … into Tuesday
    assert not hours.is_open(tokyo(2026, 11, 24, 6, 0))
    assert hours.is_open(tokyo(2026, 11, 29, 0, 0))  # Sunday, all day
    assert hours.is_open(tokyo(2026, 11, 29, 23, 59, 59))
    assert not hours.is_open(tokyo(2026, 11, 30, 0, 0))  # Monday before 22:00
    assert hours.next_open(tokyo(2026, 11, 30, 0, 0)) == tokyo(2026, 11, 30, 22, 0)


def test_sunday_overnight_runs_into_monday():
    weekly = WeeklySchedule.from_days([None] * 6 + [DayHours.parse("20:00", "02:00")])
    hours = ServiceHours.build(weekly)
    assert hours.is_open(tokyo(2026, 11, 30, 1, 59))  # Monday 01:59
    assert not hours.is_open(tokyo(2026, 11, 30, 2, 0))
    assert hours.next_open(tokyo(2026, 11, 30, 2, 0)) == tokyo(2026, 12, 6, 20, 0)


def test_maintenance_window_closes_and_reopens():
    window = MaintenanceWindow(tokyo(2026, 11, 24, 12, 0), tokyo(2026, 11, 24, 13, 0), "DB")
    hours = ServiceHours.build(OFFICE, [window])
    assert hours.window_at(tokyo(2026, 11, 24, 12, 30)) == window
    assert not hours.is_open(tokyo(2026, 11, 24, 12, 0))
    assert hours.is_open(tokyo(2026, 11, 24, 13, 0))
    assert hours.next_open(tokyo(2026, 11, 24, 12, 30)) == tokyo(2026, 11, 24, 13, 0)


def test_window_over_closing_time_and_chained_windows():
    windows = [
        MaintenanceWindow(tokyo(2026, 11, 27, 17, 0), tokyo(2026, 11, 30, 10, 0)),
        MaintenanceWindow(tokyo(2026, 11, 30, 9, 30), tokyo(2026, 11, 30, 11, 0)),
    ]
    hours = ServiceHours.build(OFFICE, windows)
    assert hours.next_open(tokyo(2026, 11, 27, 16, 0)) == tokyo(2026, 11, 27, 16, 0)
    assert hours.next_open(tokyo(2026, 11, 27, 17, 0)) == tokyo(2026, 11, 30, 11, 0)
    # A window ending after hours: the next day's opening.
    late = ServiceHours.build(
        OFFICE, [MaintenanceWindow(tokyo(2026, 11, 24, 17, 0), tokyo(2026, 11, 24, 20, 0))]
    )
    assert late.next_open(tokyo(2026, 11, 24, 17, 30)) == tokyo(2026, 11, 25, 9, 0)


def test_closed_every_day_never_opens():
    hours = ServiceHours.build(WeeklySchedule.from_days([None] * 7))
    now = tokyo(2026, 11, 24, 12, 0)
    assert not hours.is_open(now)
    assert hours.next_open(now) is None
    assert hours.seconds_until_open(now) is None


def test_naive_times_are_refused():
    with pytest.raises(ValueError):
        ALWAYS_OPEN.is_open(dt.datetime(2026, 11, 24, 12, 0))
    with pytest.raises(ValueError):
        MaintenanceWindow(dt.datetime(2026, 11, 24), dt.datetime(2026, 11, 25))
    with pytest.raises(ValueError):
        MaintenanceWindow(tokyo(2026, 11, 25), tokyo(2026, 11, 25))


@pytest.mark.parametrize(
    ("text", "minutes"), [("00:00", 0), ("9:05", 545), ("18:30", 1110), ("24:00", 1440)]
)
def test_parse_clock(text, minutes):
    assert parse_clock(text) == minutes
    assert parse_clock(format_clock(minutes)) == minutes


@pytest.mark.parametrize("text", ["24:01", "25:00", "9", "09:60", "", "ab:cd", "-1:00", "9:5"])
def test_parse_clock_refuses(text):
    with pytest.raises(ValueError):
        parse_clock(text)


def test_day_hours_refuses_nonsense():
    for opens, closes in [(600, 600), (-1, 60), (1440, 60), (0, 0), (0, 1441)]:
        with pytest.raises(ValueError):
            DayHours(opens, closes)


@pytest.mark.parametrize(
    "value",
    [None, [], [None] * 6, [None] * 8, [["09:00"]] + [None] * 6, [[9, 18]] + [None] * 6,
     [["09:00", "09:00"]] + [None] * 6, ["09:00-18:00"] + [None] * 6],
)  # fmt: skip
def test_weekly_from_json_refuses(value):
    with pytest.raises((ValueError, TypeError)):
        WeeklySchedule.from_json(value)


def test_module_does_not_import_django():
    code = (
        "import sys, keiin.service_hours\n"
        "sys.exit(1 if any(n == 'django' or n.startswith('django.') for n in sys.modules) else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr
