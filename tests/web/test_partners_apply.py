"""The public application form and the operator's review (approve / reject / documents)."""

from __future__ import annotations

import pytest
from django.test import Client

from keiin.web.accounts.models import Role, User
from keiin.web.audit.models import AuditEvent
from keiin.web.partners import services
from keiin.web.partners.models import Application, ApplicationPerson, Partner
from tests.support.partners import (
    COMPANY,
    PASSWORD,
    application_post,
    client_for,
    code_step,
    logged_in_user_id,
    make_application,
    make_staff,
    password_step,
    set_password_from_invitation,
)

pytest_plugins = ["tests.support.smtp"]
pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(db) -> User:
    return make_staff()


@pytest.fixture
def staff_client(staff) -> Client:
    return client_for(staff)


def _text(response) -> str:
    return response.content.decode()


# --------------------------------------------------------------------------- the form


def test_application_form_renders_in_japanese_and_english(client, db):
    japanese = client.get("/apply/")
    assert japanese.status_code == 200
    html = _text(japanese)
    assert '<html lang="ja">' in html
    assert "利用申込" in html
    assert "署名権限者" in html
    assert "csrfmiddlewaretoken" in html
    english = client.get("/en/apply/")
    assert english.status_code == 200
    assert "Application to use the service" in _text(english)
    assert "Signatory" in _text(english)


def test_valid_application_is_stored_and_acknowledged(client, smtp_server):
    response = client.post("/apply/", application_post())
    assert response.status_code == 302
    assert response["Location"] == "/apply/done/"
    application = Application.objects.get()
    assert application.status == Application.Status.SUBMITTED
    assert application.name_ja == COMPANY["name_ja"]
    assert application.terms_version == "2019-12"
    assert application.terms_accepted_at is not None
    assert application.language == "ja"
    people = list(application.people.order_by("position"))
    assert [(p.email, p.role) for p in people] == [
        ("ichiro@torihikisaki.example.jp", Role.SIGNATORY),
        ("jiro@torihikisaki.example.jp", Role.PARTNER_USER),
    ]
    done = client.get("/apply/done/")
    assert application.reference in _text(done)
    mail = smtp_server.last_to(COMPANY["contact_email"])
    assert application.reference in mail.subject
    assert "ichiro@torihikisaki.example.jp" in mail.body
    assert AuditEvent.objects.filter(action="partner.application.submitted").count() == 1
    assert not User.objects.exists()  # nobody is registered before the review


def test_english_application_records_english_for_mail(client, smtp_server):
    response = client.post("/en/apply/", application_post())
    assert response.status_code == 302
    assert response["Location"] == "/en/apply/done/"
    assert Application.objects.get().language == "en"
    assert "has been received" in smtp_server.last_to(COMPANY["contact_email"]).subject


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (application_post(accept=False), "利用規約に同意"),
        (application_post(name_ja=""), "このフィールドは必須です"),
        (application_post(contact_email="not-an-address"), "有効なメールアドレス"),
        (application_post(people=[]), "利用者または署名権限者を1名以上"),
        (
            application_post(people=[("閲覧 次郎", "jiro@example.jp", Role.PARTNER_USER)]),
            "署名権限者を1名以上",
        ),
        (
            application_post(
                people=[
                    ("署名 一郎", "same@example.jp", Role.SIGNATORY),
                    ("閲覧 次郎", "SAME@example.jp", Role.PARTNER_USER),
                ]
            ),
            "それぞれ別のメールアドレス",
        ),
        (
            application_post(people=[("署名 一郎", "", Role.SIGNATORY)]),
            "メールアドレスを入力",
        ),
        (
            application_post(people=[("署名 一郎", "ichiro@example.jp", "operator_admin")]),
            "正しく選択してください",
        ),
    ],
)
def test_invalid_application_shows_errors_and_stores_nothing(client, smtp_server, data, message):
    response = client.post("/apply/", data)
    assert response.status_code == 400
    assert message in _text(response)
    assert not Application.objects.exists()
    assert not ApplicationPerson.objects.exists()
    assert smtp_server.messages == []


def test_more_rows_keeps_what_was_typed(client, db):
    data = application_post()
    data["more"] = "1"
    response = client.post("/apply/", data)
    assert response.status_code == 200
    html = _text(response)
    assert "ichiro@torihikisaki.example.jp" in html
    assert 'name="people-4-email"' in html  # two typed rows + three empty ones
    assert not Application.objects.exists()


def test_failure_midway_leaves_no_half_written_application(smtp_server, monkeypatch):
    original = ApplicationPerson.objects.create
    calls = []

    def create(**kwargs):
        calls.append(kwargs)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return original(**kwargs)

    monkeypatch.setattr(ApplicationPerson.objects, "create", create)
    with pytest.raises(RuntimeError):
        services.submit_application(
            COMPANY,
            [
                {"name": "一", "email": "a@example.jp", "role": Role.SIGNATORY},
                {"name": "二", "email": "b@example.jp", "role": Role.PARTNER_USER},
            ],
            language="ja",
            client_address="192.0.2.1",
        )
    assert len(calls) == 2
    assert not Application.objects.exists()
    assert not ApplicationPerson.objects.exists()
    assert not AuditEvent.objects.filter(action="partner.application.submitted").exists()


def test_applications_per_address_are_limited(client, smtp_server, settings):
    settings.KEIIN_APPLICATIONS_PER_ADDRESS_HOUR = 2
    assert client.post("/apply/", application_post()).status_code == 302
    assert client.post("/apply/", application_post()).status_code == 302
    refused = client.post("/apply/", application_post())
    assert refused.status_code == 400
    assert "申込みが多すぎます" in _text(refused)
    assert Application.objects.count() == 2


def test_application_form_needs_csrf(db):
    client = Client(enforce_csrf_checks=True)
    assert client.post("/apply/", application_post()).status_code == 403
    assert not Application.objects.exists()


# --------------------------------------------------------------------------- the review


def test_staff_see_applications_in_the_console(staff_client, smtp_server):
    application = make_application()
    listing = staff_client.get("/console/applications/")
    assert listing.status_code == 200
    assert application.reference in _text(listing)
    detail = staff_client.get(f"/console/applications/{application.pk}/")
    assert detail.status_code == 200
    assert "ichiro@torihikisaki.example.jp" in _text(detail)
    assert "承認" in _text(detail)
    english = staff_client.get(f"/en/console/applications/{application.pk}/")
    assert "Approve" in _text(english)


def test_approval_registers_invites_and_the_invitation_leads_to_login(staff_client, smtp_server):
    """Apply → approve → invitation over SMTP → set password → password → OTP → home."""
    applicant = Client()
    applicant.post("/apply/", application_post())
    application = Application.objects.get()
    smtp_server.clear()

    response = staff_client.post(
        f"/console/applications/{application.pk}/", {"action": "approve", "login_slug": ""}
    )
    partner = Partner.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/console/partners/{partner.pk}/"
    application.refresh_from_db()
    assert application.status == Application.Status.APPROVED
    assert application.partner == partner
    assert application.decided_by == "console:manager"
    assert partner.terms_version == "2019-12"
    assert partner.login_slug.startswith("torihikisaki-kk-")
    ichiro = User.objects.get(email="ichiro@torihikisaki.example.jp")
    jiro = User.objects.get(email="jiro@torihikisaki.example.jp")
    assert (ichiro.role, jiro.role) == (Role.SIGNATORY, Role.PARTNER_USER)
    assert ichiro.partner == jiro.partner == partner
    assert not ichiro.has_usable_password()
    assert ichiro.login_id == "torihikisaki-kk-01"
    assert jiro.login_id == "torihikisaki-kk-02"
    assert {"partner.application.approved", "partner.registered"} <= set(
        AuditEvent.objects.values_list("action", flat=True)
    )
    assert AuditEvent.objects.filter(action="partner.user.invited").count() == 2
    # The applicant hears of the approval; each person gets an invitation.
    approved = smtp_server.last_to(COMPANY["contact_email"])
    assert f"/p/{partner.login_slug}/login/" in approved.body
    invitation = smtp_server.last_to(ichiro.email)
    assert ichiro.login_id in invitation.body
    assert f"http://127.0.0.1:8000/p/{partner.login_slug}/login/" in invitation.body

    person = Client()
    set_password_from_invitation(person, smtp_server, ichiro.email, PASSWORD)
    ichiro.refresh_from_db()
    assert ichiro.has_usable_password()
    assert ichiro.check_password(PASSWORD)
    # The invitation link works once.
    again = person.get(smtp_server.link_to(ichiro.email, "/welcome/"), follow=True)
    assert "このリンクは無効です" in _text(again)

    response = password_step(person, partner.login_slug, ichiro.login_id, PASSWORD)
    assert response["Location"] == f"/p/{partner.login_slug}/login/code/"
    code = smtp_server.otp_for(ichiro.email)
    response = code_step(person, partner.login_slug, code)
    assert response.status_code == 302
    assert response["Location"] == f"/p/{partner.login_slug}/"
    assert logged_in_user_id(person) == str(ichiro.pk)
    home = person.get(f"/p/{partner.login_slug}/")
    assert home.status_code == 200
    assert "取引先株式会社" in _text(home)
    assert 'id="signatory-certificate"' in _text(home)


def test_approval_with_a_chosen_login_url_name(staff_client, smtp_server):
    application = make_application()
    staff_client.post(
        f"/console/applications/{application.pk}/", {"action": "approve", "login_slug": "Acme"}
    )
    assert Partner.objects.get().login_slug == "acme"
    other = make_application(name_en="Other", contact_email="o@example.jp")
    response = staff_client.post(
        f"/console/applications/{other.pk}/", {"action": "approve", "login_slug": "acme"}
    )
    assert response.status_code == 400
    assert "既に使われています" in _text(response)
    other.refresh_from_db()
    assert other.status == Application.Status.SUBMITTED
    assert Partner.objects.count() == 1


def test_reject_with_reason_mails_the_applicant(staff_client, smtp_server):
    application = make_application()
    smtp_server.clear()
    response = staff_client.post(
        f"/console/applications/{application.pk}/",
        {"action": "reject", "reason": "申込書の記載に誤りがあります。"},
    )
    assert response.status_code == 302
    application.refresh_from_db()
    assert application.status == Application.Status.REJECTED
    assert application.status_note == "申込書の記載に誤りがあります。"
    mail = smtp_server.last_to(COMPANY["contact_email"])
    assert application.reference in mail.subject
    assert "申込書の記載に誤りがあります。" in mail.body
    event = AuditEvent.objects.get(action="partner.application.rejected")
    assert event.actor == "console:manager"
    assert not Partner.objects.exists() and not User.objects.filter(partner__isnull=False)
    # A decided application cannot be approved afterwards.
    again = staff_client.post(
        f"/console/applications/{application.pk}/", {"action": "approve", "login_slug": ""}
    )
    assert again.status_code == 400
    assert not Partner.objects.exists()


def test_reject_needs_a_reason(staff_client, smtp_server):
    application = make_application()
    response = staff_client.post(
        f"/console/applications/{application.pk}/", {"action": "reject", "reason": ""}
    )
    assert response.status_code == 400
    application.refresh_from_db()
    assert application.status == Application.Status.SUBMITTED


def test_request_documents_mails_and_keeps_the_application_open(staff_client, smtp_server):
    application = make_application()
    smtp_server.clear()
    response = staff_client.post(
        f"/console/applications/{application.pk}/",
        {"action": "request-documents", "message": "登記事項証明書を提出してください。"},
    )
    assert response.status_code == 302
    application.refresh_from_db()
    assert application.status == Application.Status.DOCUMENTS_REQUESTED
    mail = smtp_server.last_to(COMPANY["contact_email"])
    assert "登記事項証明書を提出してください。" in mail.body
    assert AuditEvent.objects.filter(action="partner.application.documents_requested").exists()
    # Still open: the operator can approve once the documents arrive.
    staff_client.post(
        f"/console/applications/{application.pk}/", {"action": "approve", "login_slug": ""}
    )
    application.refresh_from_db()
    assert application.status == Application.Status.APPROVED


def test_console_review_needs_csrf(staff, smtp_server):
    application = make_application()
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff)
    response = client.post(
        f"/console/applications/{application.pk}/", {"action": "approve", "login_slug": ""}
    )
    assert response.status_code == 403
    assert not Partner.objects.exists()


def test_approval_survives_a_mail_failure_and_can_resend(staff_client, smtp_server, settings):
    application = make_application()
    settings.EMAIL_PORT = 1  # nothing listens there: every send fails
    response = staff_client.post(
        f"/console/applications/{application.pk}/",
        {"action": "approve", "login_slug": ""},
        follow=True,
    )
    assert "送信できませんでした" in _text(response)
    user = User.objects.get(partner__isnull=False)  # registered all the same
    assert not AuditEvent.objects.filter(action="partner.user.invited").exists()
    settings.EMAIL_PORT = smtp_server.port
    response = staff_client.post(
        f"/console/partners/{user.partner_id}/people/{user.pk}/", {"action": "invite"}
    )
    assert response.status_code == 302
    assert "/welcome/" in smtp_server.last_to(user.email).body
