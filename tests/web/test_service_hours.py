"""Service hours and maintenance windows (terms clauses 5 and 6): partner pages close with 503
and the next opening time; the console, repository and machine endpoints stay open."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client, override_settings
from django.utils import timezone

from keiin.service_hours import DAY_MINUTES, WEEK_MINUTES, DayHours, ServiceHours, WeeklySchedule
from keiin.web.audit.models import AuditEvent
from keiin.web.partners.models import LoginAttempt
from keiin.web.repository.models import Notice
from keiin.web.service.hours import current_status, path_matches
from keiin.web.service.models import MaintenanceWindow, ServiceSchedule
from tests.support.partners import PASSWORD, client_for, make_staff, password_step, register

pytest_plugins = ["tests.support.smtp"]
pytestmark = pytest.mark.django_db

TOKYO = timezone.get_fixed_timezone(9 * 60)


def _text(response) -> str:
    return response.content.decode()


@pytest.fixture
def acme(smtp_server):
    return register(smtp_server)


@pytest.fixture
def staff():
    return make_staff()


@pytest.fixture
def staff_client(staff) -> Client:
    return client_for(staff)


def _maintenance_now(reason: str = "データベースの更新", hours: int = 2) -> MaintenanceWindow:
    now = timezone.now()
    return MaintenanceWindow.objects.create(
        start=now - dt.timedelta(minutes=5),
        end=now + dt.timedelta(hours=hours),
        reason_ja=reason,
        reason_en="Database upgrade",
    )


def _closed_now_schedule() -> tuple[WeeklySchedule, dt.datetime]:
    """Open one hour a week, starting two hours from now (to the minute): closed now."""
    now = timezone.now().astimezone(TOKYO).replace(second=0, microsecond=0)
    minute = now.weekday() * DAY_MINUTES + now.hour * 60 + now.minute
    start = (minute + 120) % WEEK_MINUTES
    opens = start % DAY_MINUTES
    closes = (opens + 60) % DAY_MINUTES or DAY_MINUTES
    days: list[DayHours | None] = [None] * 7
    days[start // DAY_MINUTES] = DayHours(opens, closes)
    return WeeklySchedule.from_days(days), now + dt.timedelta(minutes=120)


# --------------------------------------------------------------------------- open by default


def test_nothing_configured_is_always_open(client, acme):
    assert current_status().is_open
    response = client.get(f"/p/{acme.slug}/login/")
    assert response.status_code == 200
    assert "Retry-After" not in response
    assert client.get("/p/no-such-partner/login/").status_code == 404


@pytest.mark.parametrize(
    ("path", "guarded"),
    [
        ("/p/acme/login/", True),
        ("/en/p/acme/login/", True),
        ("/p/", True),
        ("/pa/acme/", False),
        ("/repository/", False),
        ("/en/repository/", False),
        ("/console/service/", False),
        ("/ocsp", False),
        ("/tsa", False),
        ("/healthz", False),
        ("/static/keiin/keiin.css", False),
        ("/en/", False),
    ],
)
def test_guarded_paths(path, guarded):
    assert path_matches(path, ("/p/",)) is guarded


# --------------------------------------------------------------------------- maintenance


def test_maintenance_closes_partner_pages_in_japanese(client, acme):
    window = _maintenance_now()
    response = client.get(f"/p/{acme.slug}/login/")
    assert response.status_code == 503
    html = _text(response)
    assert '<html lang="ja">' in html
    assert "ただいまサービスをご利用いただけません" in html
    assert "メンテナンスのためサービスを停止しています" in html
    assert "データベースの更新" in html
    expected = timezone.localtime(window.end).strftime("%Y-%m-%d %H:%M")
    assert expected in html
    retry = int(response["Retry-After"])
    assert 0 < retry <= 2 * 3600
    assert "no-store" in response["Cache-Control"]


def test_maintenance_page_in_english(client, acme):
    _maintenance_now()
    response = client.get(f"/en/p/{acme.slug}/login/")
    assert response.status_code == 503
    html = _text(response)
    assert '<html lang="en">' in html
    assert "The service is not available now" in html
    assert "Database upgrade" in html


def test_actions_are_refused_during_maintenance(client, acme, smtp_server):
    _maintenance_now()
    smtp_server.clear()
    response = password_step(client, acme.slug, acme.user.login_id, PASSWORD)
    assert response.status_code == 503
    assert response["Retry-After"].isdigit()
    assert not LoginAttempt.objects.exists()
    assert smtp_server.messages == []


def test_logged_in_partner_users_are_closed_out_too(acme):
    _maintenance_now()
    client = client_for(acme.user)
    assert client.get(f"/p/{acme.slug}/").status_code == 503
    assert client.post(f"/p/{acme.slug}/logout/").status_code == 503


def test_console_repository_and_machine_endpoints_stay_open(client, acme, staff_client, hierarchy):
    _maintenance_now()
    assert client.get(f"/p/{acme.slug}/login/").status_code == 503
    assert staff_client.get("/console/service/").status_code == 200
    assert staff_client.get("/console/tsa/").status_code == 200
    assert client.get("/console/login/").status_code == 200
    assert client.get("/repository/").status_code == 200
    assert client.get("/en/repository/notices/").status_code == 200
    assert client.get("/healthz").status_code == 200
    assert client.get(f"/crl/{hierarchy.root.slug}.crl").status_code == 200
    assert client.get(f"/ca/{hierarchy.root.slug}.crt").status_code == 200
    assert client.get("/apply/").status_code == 200


def test_window_ended_or_not_yet_begun_is_open(client, acme):
    now = timezone.now()
    MaintenanceWindow.objects.create(
        start=now - dt.timedelta(hours=3), end=now - dt.timedelta(hours=1), reason_ja="済"
    )
    MaintenanceWindow.objects.create(
        start=now + dt.timedelta(hours=1), end=now + dt.timedelta(hours=2), reason_ja="予定"
    )
    assert client.get(f"/p/{acme.slug}/login/").status_code == 200


@override_settings(KEIIN_SERVICE_HOURS_PREFIXES=("/repository/",))
def test_guarded_prefixes_are_a_setting(client, acme):
    _maintenance_now()
    assert client.get("/repository/").status_code == 503
    assert client.get("/en/repository/policy/").status_code == 503
    assert client.get(f"/p/{acme.slug}/login/").status_code == 200


@override_settings(KEIIN_SERVICE_HOURS_PREFIXES=())
def test_no_guarded_prefixes_guard_nothing(client, acme):
    _maintenance_now()
    assert client.get(f"/p/{acme.slug}/login/").status_code == 200


# --------------------------------------------------------------------------- weekly schedule


def test_outside_weekly_hours_shows_the_next_opening(client, acme):
    weekly, opening = _closed_now_schedule()
    ServiceSchedule.objects.create(weekly=weekly.to_json())
    status = current_status()
    assert not status.is_open
    assert status.next_open == opening
    response = client.get(f"/p/{acme.slug}/login/")
    assert response.status_code == 503
    html = _text(response)
    assert "サービス時間外です" in html
    found = re.search(r'datetime="([^"]+)" data-next-open', html)
    assert found and dt.datetime.fromisoformat(found.group(1)) == opening
    retry = int(response["Retry-After"])
    assert 118 * 60 <= retry <= 120 * 60
    assert "サービス時間（日本時間）" in html


def test_inside_weekly_hours_is_open(client, acme):
    days = [DayHours(0, DAY_MINUTES)] * 7
    ServiceSchedule.objects.create(weekly=WeeklySchedule.from_days(days).to_json())
    assert client.get(f"/p/{acme.slug}/login/").status_code == 200


def test_closed_every_day_has_no_retry_after(client, acme):
    ServiceSchedule.objects.create(weekly=[None] * 7)
    response = client.get(f"/p/{acme.slug}/login/")
    assert response.status_code == 503
    assert "Retry-After" not in response
    assert "再開の予定は決まっていません" in _text(response)


def test_an_unreadable_stored_schedule_leaves_the_service_open(client, acme, caplog):
    ServiceSchedule.objects.create(weekly={"mon": "all day"})
    assert client.get(f"/p/{acme.slug}/login/").status_code == 200
    assert "unreadable weekly service schedule" in caplog.text


def test_current_service_notices_appear_on_the_closed_page(client, acme):
    _maintenance_now()
    now = timezone.now()
    Notice.objects.create(
        kind=Notice.Kind.MAINTENANCE,
        title_ja="臨時メンテナンスのお知らせ",
        body_ja="本文",
        effective_from=now - dt.timedelta(minutes=5),
        effective_until=now + dt.timedelta(hours=2),
    )
    assert "臨時メンテナンスのお知らせ" in _text(client.get(f"/p/{acme.slug}/login/"))


# --------------------------------------------------------------------------- console


def _weekly_post(**overrides: str) -> dict[str, str]:
    data = {"action": "weekly", "enabled": "on"}
    for day in ("mon", "tue", "wed", "thu", "fri"):
        data[f"{day}_opens"] = "09:00"
        data[f"{day}_closes"] = "18:00"
    for day in ("sat", "sun"):
        data[f"{day}_closed"] = "on"
    data.update(overrides)
    return data


def test_console_page_shows_the_state(staff_client):
    response = staff_client.get("/console/service/")
    assert response.status_code == 200
    html = _text(response)
    assert 'data-service-state="open"' in html
    assert "サービス時間" in html
    _maintenance_now()
    html = _text(staff_client.get("/en/console/service/"))
    assert 'data-service-state="closed"' in html
    assert "Opens again at" in html


def test_console_saves_the_weekly_schedule_and_audits_it(staff_client):
    response = staff_client.post("/console/service/", _weekly_post(fri_closes="24:00"))
    assert response.status_code == 302
    stored = ServiceSchedule.objects.get(pk=1).weekly
    assert stored[0] == ["09:00", "18:00"]
    assert stored[4] == ["09:00", "24:00"]
    assert stored[5] is None and stored[6] is None
    event = AuditEvent.objects.get(action="service.hours.changed")
    assert event.actor == "console:manager"
    assert event.data["weekly"] == stored
    # The form shows what is stored.
    assert 'value="24:00"' in _text(staff_client.get("/console/service/"))
    # Unchecking "limit" removes the schedule: always open again.
    response = staff_client.post("/console/service/", {"action": "weekly"})
    assert response.status_code == 302
    assert ServiceSchedule.objects.get(pk=1).weekly is None
    assert current_status().is_open


def test_console_overnight_hours(staff_client):
    response = staff_client.post(
        "/console/service/", _weekly_post(sat_closed="", sat_opens="22:00", sat_closes="06:00")
    )
    assert response.status_code == 302
    weekly = WeeklySchedule.from_json(ServiceSchedule.objects.get(pk=1).weekly)
    assert weekly.days[5] == DayHours(22 * 60, 6 * 60)
    hours = ServiceHours.build(weekly, tz=TOKYO)
    assert hours.is_open(dt.datetime(2026, 11, 29, 3, 0, tzinfo=TOKYO))  # Sunday 03:00


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"mon_opens": "25:00"}, "HH:MM"),
        ({"mon_opens": "9時"}, "HH:MM"),
        ({"tue_opens": ""}, "両方の時刻を入力するか"),
        ({"wed_closes": "09:00"}, "開始時刻と終了時刻が同じです"),
        ({"thu_opens": "24:00", "thu_closes": "06:00"}, "24:00"),
    ],
)
def test_console_refuses_bad_hours(staff_client, overrides, message):
    response = staff_client.post("/console/service/", _weekly_post(**overrides))
    assert response.status_code == 400
    assert message in _text(response)
    assert not ServiceSchedule.objects.exists()
    assert not AuditEvent.objects.filter(action="service.hours.changed").exists()


def test_console_adds_and_ends_maintenance_windows(staff_client):
    now = timezone.localtime()
    start = (now + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    end = (now + dt.timedelta(days=1, hours=2)).strftime("%Y-%m-%dT%H:%M")
    response = staff_client.post(
        "/console/service/",
        {"action": "window-add", "start": start, "end": end, "reason_ja": "定期保守"},
    )
    assert response.status_code == 302
    planned = MaintenanceWindow.objects.get()
    assert timezone.localtime(planned.start).strftime("%Y-%m-%dT%H:%M") == start
    assert planned.created_by == "console:manager"
    assert AuditEvent.objects.filter(
        action="service.maintenance.added", target=f"maintenance:{planned.pk}"
    ).exists()
    # A planned window is removed; a running one ends now.
    running = _maintenance_now()
    assert not current_status().is_open
    staff_client.post("/console/service/", {"action": "window-end", "window": str(planned.pk)})
    assert not MaintenanceWindow.objects.filter(pk=planned.pk).exists()
    staff_client.post("/console/service/", {"action": "window-end", "window": str(running.pk)})
    running.refresh_from_db()
    assert running.end <= timezone.now()
    assert current_status().is_open
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"service.maintenance.removed", "service.maintenance.ended"} <= actions


@pytest.mark.parametrize(
    "data",
    [
        {"start": "2030-01-02T10:00", "end": "2030-01-02T09:00", "reason_ja": "x"},
        {"start": "2020-01-02T10:00", "end": "2020-01-02T11:00", "reason_ja": "x"},
        {"start": "tomorrow", "end": "2030-01-02T09:00", "reason_ja": "x"},
        {"start": "2030-01-02T10:00", "end": "2030-01-02T11:00", "reason_ja": ""},
        {"start": "2030-01-02T10:00", "end": "2032-01-02T11:00", "reason_ja": "x"},
        {"start": "9999-12-31T23:00", "end": "9999-12-31T23:59", "reason_ja": "x"},
    ],
)
def test_console_refuses_bad_windows(staff_client, data):
    response = staff_client.post("/console/service/", {"action": "window-add", **data})
    assert response.status_code == 400
    assert not MaintenanceWindow.objects.exists()


@pytest.mark.parametrize("window", ["", "abc", "999999", "-1"])
def test_console_ending_an_unknown_window_is_a_message(staff_client, window):
    response = staff_client.post(
        "/console/service/", {"action": "window-end", "window": window}, follow=True
    )
    assert response.status_code == 200
    assert "該当する予定中または実施中のメンテナンスはありません" in _text(response)


def test_console_unknown_action(staff_client):
    response = staff_client.post("/console/service/", {"action": "explode"}, follow=True)
    assert response.status_code == 200
    assert "不明な操作です" in _text(response)


def test_console_pages_are_for_staff_only(client, acme):
    response = client.get("/console/service/")
    assert response.status_code == 302
    assert response["Location"].startswith("/console/login/")
    partner_client = client_for(acme.user)
    assert partner_client.get("/console/service/").status_code == 403
    assert partner_client.post("/console/service/", _weekly_post()).status_code == 403
    assert not ServiceSchedule.objects.exists()
