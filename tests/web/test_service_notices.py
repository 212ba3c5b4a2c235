"""Service notices (terms clauses 6 and 17): the console form and its 90-day rule, e-mail to
every partner user over real SMTP, and the notices on the repository and partner pages."""

from __future__ import annotations

import datetime as dt

import pytest
from django.template import Context, Template
from django.test import Client, override_settings
from django.utils import timezone, translation

from keiin.web.accounts.models import Role, User
from keiin.web.audit.models import AuditEvent
from keiin.web.partners.models import Partner
from keiin.web.repository.models import Notice
from keiin.web.service.models import NoticeDelivery
from keiin.web.service.notices import current_notices, recipients, send_notice
from tests.support.partners import client_for, make_staff, register
from tests.support.server import free_port

pytest_plugins = ["tests.support.smtp"]
pytestmark = pytest.mark.django_db

FORMAT = "%Y-%m-%dT%H:%M"


def _text(response) -> str:
    return response.content.decode()


def _local(delta: dt.timedelta) -> str:
    return timezone.localtime(timezone.now() + delta).strftime(FORMAT)


@pytest.fixture
def staff_client() -> Client:
    return client_for(make_staff())


@pytest.fixture
def partners(smtp_server):
    """Two partners (one reading English) with one person each; the invitations cleared."""
    ja = register(smtp_server)
    en = register(smtp_server, name_en="Other Co", email="hanako@other.example.jp")
    Partner.objects.filter(pk=en.partner.pk).update(language="en")
    smtp_server.clear()
    return ja, en


def _post(**overrides: str) -> dict[str, str]:
    data = {
        "kind": Notice.Kind.END_OF_SERVICE,
        "title_ja": "本サービスの廃止について",
        "title_en": "End of the service",
        "body_ja": "本サービスは終了いたします。",
        "body_en": "The service will end.",
        "effective_from": _local(dt.timedelta(days=120)),
        "effective_until": "",
        "published_at": _local(dt.timedelta(0)),
        "is_published": "on",
        "send_mail": "on",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


# --------------------------------------------------------------------------- the 90-day rule


@pytest.mark.parametrize("kind", [Notice.Kind.END_OF_SERVICE, Notice.Kind.SUSPENSION])
def test_less_than_90_days_ahead_is_refused(staff_client, kind, smtp_server):
    response = staff_client.post(
        "/console/notices/new/", _post(kind=kind, effective_from=_local(dt.timedelta(days=89)))
    )
    assert response.status_code == 400
    assert "90日前までの通知が必要です" in _text(response)
    assert not Notice.objects.exists()
    assert smtp_server.messages == []


def test_backdating_the_publication_does_not_help(staff_client):
    response = staff_client.post(
        "/console/notices/new/",
        _post(
            published_at=_local(-dt.timedelta(days=60)),
            effective_from=_local(dt.timedelta(days=45)),
        ),
    )
    assert response.status_code == 400
    assert not Notice.objects.exists()


def test_scheduled_publication_of_an_end_notice_is_refused(staff_client):
    response = staff_client.post(
        "/console/notices/new/",
        _post(
            published_at=_local(dt.timedelta(days=1)),
            effective_from=_local(dt.timedelta(days=200)),
            send_mail=None,
        ),
    )
    assert response.status_code == 400
    assert not Notice.objects.exists()


def test_an_end_notice_must_be_mailed(staff_client):
    response = staff_client.post("/console/notices/new/", _post(send_mail=None))
    assert response.status_code == 400
    assert "メールで通知しなければなりません" in _text(response)
    # … unless it is only a draft.
    response = staff_client.post("/console/notices/new/", _post(send_mail=None, is_published=None))
    assert response.status_code == 302
    assert not Notice.objects.get().is_published


def test_end_of_service_90_days_ahead_is_published_and_mailed(staff_client, partners, smtp_server):
    ja, en = partners
    response = staff_client.post("/console/notices/new/", _post())
    assert response.status_code == 302
    notice = Notice.objects.get()
    assert notice.kind == Notice.Kind.END_OF_SERVICE
    assert abs(notice.published_at - timezone.now()) < dt.timedelta(minutes=1)
    # One mail per person, in the partner's language, over SMTP.
    japanese = smtp_server.last_to(ja.user.email)
    assert "サービスの廃止" in japanese.subject
    assert "本サービスの廃止について" in japanese.subject
    assert "本サービスは終了いたします。" in japanese.body
    assert f"/repository/notices/#notice-{notice.pk}" in japanese.body
    english = smtp_server.last_to(en.user.email)
    assert "End of the service" in english.subject
    assert "The service ends on" in english.body
    assert len(smtp_server.messages) == 2
    assert all(len(m.rcpt_tos) == 1 for m in smtp_server.messages)
    deliveries = NoticeDelivery.objects.filter(notice=notice)
    assert {d.email for d in deliveries} == {ja.user.email, en.user.email}
    event = AuditEvent.objects.get(action="service.notice.mailed")
    assert event.data == {"kind": "end_of_service", "sent": 2, "failed": 0, "already": 0}
    assert AuditEvent.objects.filter(action="notice.created", target=f"notice:{notice.pk}").exists()
    page = _text(staff_client.get(f"/console/notices/{notice.pk}/"))
    assert 'data-deliveries="2"' in page


def test_mail_goes_only_to_active_people_of_partners_not_refused(partners, smtp_server):
    ja, en = partners
    staff = User.objects.create_user("admin", "admin@operator.example.jp", "x" * 16)
    gone = User.objects.create_user(
        "gone", "gone@torihikisaki.example.jp", None, role=Role.PARTNER_USER, partner=ja.partner
    )
    gone.is_active = False
    gone.save()
    refused = register(smtp_server, name_en="Refused Co", email="taro@refused.example.jp")
    Partner.objects.filter(pk=refused.partner.pk).update(status=Partner.Status.REFUSED)
    restricted = register(smtp_server, name_en="Restricted Co", email="jiro@restricted.example.jp")
    Partner.objects.filter(pk=restricted.partner.pk).update(status=Partner.Status.RESTRICTED)
    smtp_server.clear()
    addresses = {u.email for u in recipients()}
    assert addresses == {ja.user.email, en.user.email, restricted.user.email}
    assert staff.email not in addresses
    notice = Notice.objects.create(
        kind=Notice.Kind.MAINTENANCE, title_ja="保守", body_ja="保守します。"
    )
    report = send_notice(notice, actor="test")
    assert sorted(report.sent) == sorted(addresses)
    assert {a for m in smtp_server.messages for a in m.rcpt_tos} == addresses


def test_sending_again_reaches_only_people_without_the_notice(staff_client, partners, smtp_server):
    ja, _en = partners
    staff_client.post("/console/notices/new/", _post())
    notice = Notice.objects.get()
    smtp_server.clear()
    response = staff_client.post(f"/console/notices/{notice.pk}/mail/", follow=True)
    assert "すでに全員がこのお知らせを受け取っています" in _text(response)
    assert smtp_server.messages == []
    newcomer = User.objects.create_user(
        "saburo", "saburo@torihikisaki.example.jp", None, role=Role.SIGNATORY, partner=ja.partner
    )
    staff_client.post(f"/console/notices/{notice.pk}/mail/")
    assert [m.rcpt_tos for m in smtp_server.messages] == [[newcomer.email]]


def test_an_unreachable_mail_server_is_reported_and_can_be_retried(
    staff_client, partners, smtp_server
):
    with override_settings(EMAIL_PORT=free_port()):
        response = staff_client.post("/console/notices/new/", _post(), follow=True)
    assert response.status_code == 200
    assert "メールを送信できませんでした" in _text(response)
    notice = Notice.objects.get()
    assert not NoticeDelivery.objects.exists()
    assert AuditEvent.objects.get(action="service.notice.mailed").data["failed"] == 2
    staff_client.post(f"/console/notices/{notice.pk}/mail/")
    assert NoticeDelivery.objects.filter(notice=notice).count() == 2
    assert len(smtp_server.messages) == 2


def test_fixing_a_typo_later_does_not_reopen_the_90_days(staff_client, partners):
    notice = Notice.objects.create(
        kind=Notice.Kind.END_OF_SERVICE,
        title_ja="廃止",
        body_ja="誤字あり",
        effective_from=timezone.now() + dt.timedelta(days=30),
        published_at=timezone.now() - dt.timedelta(days=60),
    )
    data = _post(
        title_ja="廃止",
        body_ja="誤字なし",
        effective_from=timezone.localtime(notice.effective_from).strftime(FORMAT),
        published_at=timezone.localtime(notice.published_at).strftime(FORMAT),
        send_mail=None,
    )
    # Not mailed yet: it has to be mailed.
    assert staff_client.post(f"/console/notices/{notice.pk}/", data).status_code == 400
    send_notice(notice, actor="test")
    response = staff_client.post(f"/console/notices/{notice.pk}/", data)
    assert response.status_code == 302
    notice.refresh_from_db()
    assert notice.body_ja == "誤字なし"
    # Moving the date is a new announcement: the rule applies again.
    moved = {**data, "effective_from": _local(dt.timedelta(days=40))}
    assert staff_client.post(f"/console/notices/{notice.pk}/", moved).status_code == 400


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"kind": "maintenance", "effective_from": "", "send_mail": None}, "effective_from"),
        ({"kind": "maintenance", "send_mail": None}, "effective_until"),
        ({"kind": "general", "send_mail": None}, "effective_from"),
        ({"effective_until": "2099-01-01T00:00"}, "effective_until"),
        ({"title_ja": "一行目\n二行目"}, "title_ja"),
        ({"kind": "nonsense"}, "kind"),
        ({"effective_from": "next year"}, "effective_from"),
        ({"published_at": ""}, "published_at"),
        ({"kind": "general", "effective_from": "", "is_published": None}, "send_mail"),
    ],
)
def test_bad_notices_are_form_errors(staff_client, overrides, field):
    response = staff_client.post("/console/notices/new/", _post(**overrides))
    assert response.status_code == 400
    assert response.context["form"].errors.get(field), response.context["form"].errors
    assert not Notice.objects.exists()


def test_maintenance_notice_with_a_period(staff_client, smtp_server):
    response = staff_client.post(
        "/console/notices/new/",
        _post(
            kind="maintenance",
            title_ja="定期メンテナンス",
            effective_from=_local(dt.timedelta(days=3)),
            effective_until=_local(dt.timedelta(days=3, hours=4)),
            send_mail=None,
        ),
    )
    assert response.status_code == 302
    assert Notice.objects.get().kind == Notice.Kind.MAINTENANCE


def test_unknown_notice_is_404(staff_client):
    assert staff_client.get("/console/notices/999999/").status_code == 404
    assert staff_client.post("/console/notices/999999/mail/").status_code == 404
    assert staff_client.get("/console/notices/999999/mail/").status_code == 405


def test_notice_pages_are_for_staff_only(client, smtp_server):
    registered = register(smtp_server)
    assert client.get("/console/notices/").status_code == 302
    partner_client = client_for(registered.user)
    assert partner_client.get("/console/notices/").status_code == 403
    assert partner_client.post("/console/notices/new/", _post()).status_code == 403
    assert not Notice.objects.exists()


def test_console_list(staff_client):
    Notice.objects.create(title_ja="一般のお知らせ", body_ja="本文")
    response = staff_client.get("/console/notices/")
    assert response.status_code == 200
    assert "一般のお知らせ" in _text(response)


# --------------------------------------------------------------------------- where notices show


def _service_notices():
    now = timezone.now()
    current = Notice.objects.create(
        kind=Notice.Kind.MAINTENANCE,
        title_ja="今週末のメンテナンス",
        title_en="Maintenance this weekend",
        body_ja="本文",
        effective_from=now + dt.timedelta(days=2),
        effective_until=now + dt.timedelta(days=2, hours=3),
    )
    ending = Notice.objects.create(
        kind=Notice.Kind.END_OF_SERVICE,
        title_ja="サービス廃止のお知らせ",
        body_ja="本文",
        effective_from=now + dt.timedelta(days=100),
    )
    Notice.objects.create(
        kind=Notice.Kind.MAINTENANCE,
        title_ja="終わったメンテナンス",
        body_ja="本文",
        effective_from=now - dt.timedelta(days=2),
        effective_until=now - dt.timedelta(days=1),
    )
    Notice.objects.create(
        kind=Notice.Kind.SUSPENSION,
        title_ja="下書きの休止",
        body_ja="本文",
        effective_from=now + dt.timedelta(days=100),
        is_published=False,
    )
    Notice.objects.create(title_ja="一般のお知らせ", body_ja="本文")
    return current, ending


def test_current_notices_are_the_running_service_notices(db):
    current, ending = _service_notices()
    assert [n.pk for n in current_notices("ja")] == [current.pk, ending.pk]
    english = current_notices("en")
    assert english[0].title == "Maintenance this weekend"
    assert english[0].kind_label == "Maintenance"
    assert english[1].title == "サービス廃止のお知らせ" and not english[1].translated


def test_current_notices_template_tag(db):
    _service_notices()
    template = Template("{% load keiin_service %}{% current_notices %}")
    with translation.override("ja"):
        html = template.render(Context({}))
    assert "今週末のメンテナンス" in html
    assert "サービス廃止のお知らせ" in html
    assert "終わったメンテナンス" not in html
    assert "下書きの休止" not in html
    assert "一般のお知らせ" not in html
    assert 'data-notice-kind="end_of_service"' in html
    Notice.objects.all().delete()
    assert template.render(Context({})).strip() == ""


def test_repository_shows_current_and_all_notices(client, db):
    current, ending = _service_notices()
    index = _text(client.get("/repository/"))
    assert f'id="service-notice-{current.pk}"' in index
    assert f'id="service-notice-{ending.pk}"' in index
    page = _text(client.get("/en/repository/notices/"))
    assert 'data-notice-kind="end_of_service"' in page
    assert "the service ends on" in page
    assert "Maintenance this weekend" in page
