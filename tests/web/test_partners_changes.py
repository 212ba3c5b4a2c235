"""Operator changes to partners and their people: edits, removal, restriction, signals."""

from __future__ import annotations

import pytest
from django.test import Client

from keiin.web.accounts.models import Role, User
from keiin.web.audit.log import verify
from keiin.web.audit.models import AuditEvent
from keiin.web.partners import signals
from keiin.web.partners.models import LoginAttempt, Partner
from tests.support.partners import (
    PASSWORD,
    client_for,
    log_in,
    make_staff,
    password_step,
    register,
)

pytest_plugins = ["tests.support.smtp"]
pytestmark = pytest.mark.django_db


def _text(response) -> str:
    return response.content.decode()


@pytest.fixture
def staff(db) -> User:
    return make_staff()


@pytest.fixture
def staff_client(staff) -> Client:
    return client_for(staff)


@pytest.fixture
def acme(smtp_server):
    return register(smtp_server)


@pytest.fixture
def received():
    """Collect what the certificate lifecycle would receive from the partner signals."""
    got: list[tuple[str, dict]] = []

    def on(name):
        def handler(sender, **kwargs):
            got.append((name, kwargs))

        return handler

    handlers = {
        "user_removed": on("user_removed"),
        "signatory_identity_changed": on("signatory_identity_changed"),
        "partner_status_changed": on("partner_status_changed"),
    }
    for name, handler in handlers.items():
        getattr(signals, name).connect(handler, weak=False)
    yield got
    for name, handler in handlers.items():
        getattr(signals, name).disconnect(handler)


def _user_post(user: User, **changes: str) -> dict[str, str]:
    data = {"display_name": user.display_name, "email": user.email, "role": user.role}
    return {"action": "edit", **data, **changes}


# --------------------------------------------------------------------------- pages


def test_partner_pages_render_in_both_languages(staff_client, acme):
    pk, user_pk = acme.partner.pk, acme.user.pk
    for path, text_ja, text_en in (
        ("/console/partners/", "取引先", "Partners"),
        (f"/console/partners/{pk}/", "ログインURL", "Login URL"),
        (f"/console/partners/{pk}/edit/", "取引先の編集", "Edit partner"),
        (f"/console/partners/{pk}/people/new/", "利用者の追加", "Add a person"),
        (f"/console/partners/{pk}/people/{user_pk}/", "削除", "Remove"),
    ):
        japanese = staff_client.get(path)
        assert japanese.status_code == 200, path
        assert text_ja in _text(japanese), path
        english = staff_client.get(f"/en{path}")
        assert english.status_code == 200, path
        assert text_en in _text(english), path
    assert f"/p/{acme.slug}/login/" in _text(staff_client.get(f"/console/partners/{pk}/"))


def test_partner_pages_need_staff(client, acme):
    response = client.get(f"/console/partners/{acme.partner.pk}/")
    assert response.status_code == 302
    assert response["Location"].startswith("/console/login/")


def test_person_of_another_partner_is_404(staff_client, smtp_server, acme):
    other = register(smtp_server, name_en="Other", email="o@example.jp")
    path = f"/console/partners/{acme.partner.pk}/people/{other.user.pk}/"
    assert staff_client.get(path).status_code == 404


# --------------------------------------------------------------------------- partner edits


def test_edit_partner_is_audited_and_a_new_name_reissues(staff_client, acme, received):
    partner = acme.partner
    data = {
        name: getattr(partner, name)
        for name in (
            "name_ja",
            "name_en",
            "address",
            "representative_name",
            "representative_title",
            "contact_name",
            "contact_email",
            "contact_phone",
            "language",
            "login_slug",
        )
    }
    data["address"] = "大阪府大阪市北区1-1"
    response = staff_client.post(f"/console/partners/{partner.pk}/edit/", data)
    assert response.status_code == 302
    partner.refresh_from_db()
    assert partner.address == "大阪府大阪市北区1-1"
    event = AuditEvent.objects.filter(action="partner.changed").get()
    assert event.data == {"address": ["東京都千代田区丸の内1-1-1", "大阪府大阪市北区1-1"]}
    assert event.actor == "console:manager"
    assert received == []  # the address is not in a certificate

    data["name_ja"] = "新社名株式会社"
    staff_client.post(f"/console/partners/{partner.pk}/edit/", data)
    assert [name for name, _ in received] == ["signatory_identity_changed"]
    kwargs = received[0][1]
    assert kwargs["user"] == acme.user
    assert kwargs["changes"] == {"partner_name": {"name_ja": ["取引先株式会社", "新社名株式会社"]}}
    assert verify().ok


def test_new_login_url_name_moves_the_login(staff_client, smtp_server, acme):
    partner = acme.partner
    data = {
        name: getattr(partner, name)
        for name in (
            "name_ja",
            "name_en",
            "address",
            "representative_name",
            "representative_title",
            "contact_name",
            "contact_email",
            "contact_phone",
            "language",
        )
    }
    data["login_slug"] = "torihikisaki"
    assert staff_client.post(f"/console/partners/{partner.pk}/edit/", data).status_code == 302
    client = Client()
    assert client.get(f"/p/{acme.slug}/login/").status_code == 404
    assert password_step(client, "torihikisaki", acme.user.login_id, PASSWORD).status_code == 302
    # an invalid or taken name is refused
    data["login_slug"] = "a b"
    assert staff_client.post(f"/console/partners/{partner.pk}/edit/", data).status_code == 400


# --------------------------------------------------------------------------- people


def test_edit_signatory_email_revokes_and_mails(staff_client, smtp_server, acme, received):
    user = acme.user
    path = f"/console/partners/{acme.partner.pk}/people/{user.pk}/"
    smtp_server.clear()
    response = staff_client.post(path, _user_post(user, email="ichiro.new@example.jp"))
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.email == "ichiro.new@example.jp"
    assert received == [
        (
            "signatory_identity_changed",
            {
                "signal": signals.signatory_identity_changed,
                "user": user,
                "actor": "console:manager",
                "changes": {"email": ["ichiro@torihikisaki.example.jp", "ichiro.new@example.jp"]},
            },
        )
    ]
    mail = smtp_server.last_to("ichiro.new@example.jp")
    assert "ichiro.new@example.jp" in mail.body
    assert AuditEvent.objects.filter(action="partner.user.changed", target=f"user:{user.login_id}")


def test_edit_of_a_plain_user_sends_no_signal(staff_client, smtp_server, received):
    viewer = register(smtp_server, email="viewer@example.jp", role=Role.PARTNER_USER)
    path = f"/console/partners/{viewer.partner.pk}/people/{viewer.user.pk}/"
    staff_client.post(path, _user_post(viewer.user, display_name="閲覧 三郎"))
    assert User.objects.get(pk=viewer.user.pk).display_name == "閲覧 三郎"
    assert received == []
    # becoming a signatory is a change of what a certificate would say
    staff_client.post(path, _user_post(viewer.user, display_name="閲覧 三郎", role="signatory"))
    assert [name for name, _ in received] == ["signatory_identity_changed"]


def test_edit_refuses_operator_roles(staff_client, acme):
    path = f"/console/partners/{acme.partner.pk}/people/{acme.user.pk}/"
    response = staff_client.post(path, _user_post(acme.user, role="operator_admin"))
    assert response.status_code == 400
    assert User.objects.get(pk=acme.user.pk).role == Role.SIGNATORY


def test_remove_user_disables_login_and_signals(staff_client, smtp_server, acme, received):
    person = Client()
    log_in(person, smtp_server, acme)
    pending = Client()
    password_step(pending, acme.slug, acme.user.login_id, PASSWORD)
    path = f"/console/partners/{acme.partner.pk}/people/{acme.user.pk}/"
    missing_confirm = staff_client.post(path, {"action": "remove", "reason": "退職"})
    assert missing_confirm.status_code == 400
    assert User.objects.get(pk=acme.user.pk).is_active
    response = staff_client.post(path, {"action": "remove", "reason": "退職", "confirm": "on"})
    assert response.status_code == 302
    user = User.objects.get(pk=acme.user.pk)
    assert not user.is_active
    assert [name for name, _ in received] == ["user_removed"]
    assert received[0][1]["reason"] == "退職"
    assert LoginAttempt.objects.filter(closed_at__isnull=True).count() == 0
    event = AuditEvent.objects.get(action="partner.user.removed")
    assert event.data["reason"] == "退職"
    assert "削除" in smtp_server.last_to(user.email).subject
    # The open session ends; the login is refused.
    response = person.get(f"/p/{acme.slug}/")
    assert response["Location"].startswith(f"/p/{acme.slug}/login/")
    assert person.get(f"/p/{acme.slug}/login/").status_code == 200  # anonymous again
    assert password_step(Client(), acme.slug, user.login_id, PASSWORD).status_code == 200


def test_add_person_invites(staff_client, smtp_server, acme):
    smtp_server.clear()
    response = staff_client.post(
        f"/console/partners/{acme.partner.pk}/people/new/",
        {"display_name": "追加 四郎", "email": "shiro@example.jp", "role": "partner_user"},
    )
    assert response.status_code == 302
    user = User.objects.get(email="shiro@example.jp")
    assert user.partner == acme.partner
    assert user.login_id == "torihikisaki-kk-02"
    assert user.login_id in smtp_server.last_to("shiro@example.jp").body


# --------------------------------------------------------------------------- restriction


def test_restrict_with_reason_then_reactivate(staff_client, smtp_server, acme, received):
    path = f"/console/partners/{acme.partner.pk}/"
    no_reason = staff_client.post(path, {"status": "restricted", "reason": ""})
    assert no_reason.status_code == 400
    assert Partner.objects.get().status == Partner.Status.ACTIVE
    smtp_server.clear()
    response = staff_client.post(path, {"status": "restricted", "reason": "虚偽の申告が判明"})
    assert response.status_code == 302
    partner = Partner.objects.get()
    assert partner.status == Partner.Status.RESTRICTED
    assert partner.status_reason == "虚偽の申告が判明"
    assert partner.status_changed_at is not None
    notice = smtp_server.last_to(partner.contact_email)
    assert "制限" in notice.subject and "虚偽の申告が判明" in notice.body
    event = AuditEvent.objects.get(action="partner.status_changed")
    assert event.data == {"old": "active", "new": "restricted", "reason": "虚偽の申告が判明"}
    assert received[0][0] == "partner_status_changed"
    # Restricted: no login; the people and the partner are kept.
    assert password_step(Client(), acme.slug, acme.user.login_id, PASSWORD).status_code == 200
    assert User.objects.filter(partner=partner, is_active=True).count() == 1
    # Refuse, then reactivate.
    staff_client.post(path, {"status": "refused", "reason": "反社会的勢力に該当"})
    assert Partner.objects.get().status == Partner.Status.REFUSED
    assert "拒否" in smtp_server.last_to(partner.contact_email).subject
    staff_client.post(path, {"status": "active", "reason": ""})
    assert Partner.objects.get().status == Partner.Status.ACTIVE
    assert password_step(Client(), acme.slug, acme.user.login_id, PASSWORD).status_code == 302


def test_partner_status_change_needs_csrf(staff, acme):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff)
    response = client.post(
        f"/console/partners/{acme.partner.pk}/", {"status": "restricted", "reason": "x"}
    )
    assert response.status_code == 403
    assert Partner.objects.get().status == Partner.Status.ACTIVE
