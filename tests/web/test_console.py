"""The operator console: staff login with lockout, and the TSA account pages (ja/en)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client
from django.utils import timezone

from keiin.pki.serials import serial_to_hex
from keiin.web.accounts.models import Role, User
from keiin.web.audit.models import AuditEvent
from keiin.web.console.models import LoginThrottle
from keiin.web.timestamping import services
from keiin.web.timestamping.auth import lookup_token
from keiin.web.timestamping.models import (
    IssuedToken,
    TokenRevocation,
    TsaAccount,
    TsaApiToken,
)
from keiin.web.timestamping.serials import token_serials

PASSWORD = "correct horse battery staple"
CUSTOMER_PASSWORD = "customer-secret-123"


def _text(response) -> str:
    return response.content.decode()


@pytest.fixture
def staff(db) -> User:
    return User.objects.create_user(
        "manager", "manager@example.jp", PASSWORD, role=Role.CONTRACT_MANAGER
    )


@pytest.fixture
def staff_client(staff) -> Client:
    client = Client()
    client.force_login(staff)
    return client


@pytest.fixture
def account(db) -> TsaAccount:
    services.ensure_plan("standard", 1000)
    return services.create_account(
        "acme", CUSTOMER_PASSWORD, actor="test", plan="standard", organization="ACME K.K."
    )


def _issued(account: TsaAccount | None = None, gen_time: dt.datetime | None = None):
    sequence, serial = token_serials().next()
    return IssuedToken.objects.create(
        id=sequence,
        serial_hex=serial_to_hex(serial),
        gen_time=gen_time or timezone.now(),
        hash_algorithm="sha256",
        digest_hex="ab" * 32,
        policy="1.2.3.4",
        account=account,
        token_sha256="cd" * 32,
    )


def _login(client: Client, login_id: str, password: str, prefix: str = ""):
    return client.post(f"{prefix}/console/login/", {"username": login_id, "password": password})


# --------------------------------------------------------------------------- login


def test_login_page_in_both_languages(client, db):
    response = client.get("/console/login/")
    assert response.status_code == 200
    html = _text(response)
    assert '<html lang="ja">' in html
    assert "ログイン" in html
    assert "ワンタイムパスワード" in html
    english = client.get("/en/console/login/")
    assert english.status_code == 200
    assert "Console login" in _text(english)
    assert "one-time password" in _text(english)


def test_login_ok_rotates_the_session_and_opens_the_console(client, staff):
    client.get("/console/login/")
    before = client.session.session_key
    response = _login(client, "manager", PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == "/console/contracts/"  # a contract manager's start page
    assert client.session.session_key != before
    assert client.get("/console/tsa/").status_code == 200


def test_login_follows_next(client, staff):
    response = client.post(
        "/en/console/login/",
        {"username": "manager", "password": PASSWORD, "next": "/en/console/tsa/new/"},
    )
    assert response["Location"] == "/en/console/tsa/new/"


def test_wrong_password_and_unknown_user_get_the_same_message(client, staff):
    wrong = _login(client, "manager", "not the password")
    unknown = _login(client, "nobody", "not the password")
    assert wrong.status_code == unknown.status_code == 200
    message = "ログインIDまたはパスワードが正しくないか"
    assert message in _text(wrong)
    assert message in _text(unknown)
    assert "_auth_user_id" not in client.session


def test_lockout_after_five_failures(client, staff):
    for _ in range(5):
        _login(client, "manager", "wrong password")
    response = _login(client, "Manager", PASSWORD)  # even the right password, any case
    assert response.status_code == 200
    assert "15分" in _text(response)
    assert "_auth_user_id" not in client.session
    # An unknown login ID locks the same way (no user enumeration).
    for _ in range(5):
        _login(client, "ghost", "wrong password")
    assert LoginThrottle.objects.get(login_key="ghost").locked_until is not None
    # After 15 minutes the login ID is free again.
    LoginThrottle.objects.filter(login_key="manager").update(
        locked_until=timezone.now() - dt.timedelta(seconds=1)
    )
    assert _login(client, "manager", PASSWORD).status_code == 302
    assert not LoginThrottle.objects.filter(login_key="manager").exists()


@pytest.mark.parametrize("role", [Role.PARTNER_USER, Role.SIGNATORY])
def test_partner_roles_cannot_log_in_or_use_the_console(client, db, role):
    User.objects.create_user("partner", "p@example.jp", PASSWORD, role=role)
    response = _login(client, "partner", PASSWORD)
    assert response.status_code == 200
    assert "ログインIDまたはパスワードが正しくないか" in _text(response)
    assert "_auth_user_id" not in client.session
    client.force_login(User.objects.get(login_id="partner"))
    assert client.get("/console/tsa/").status_code == 403
    assert client.post("/console/tsa/new/", {}).status_code == 403


def test_inactive_staff_cannot_log_in(client, staff):
    staff.is_active = False
    staff.save()
    response = _login(client, "manager", PASSWORD)
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize(
    "path",
    [
        "/console/",
        "/console/tsa/",
        "/console/tsa/new/",
        "/console/tsa/revocations/",
        "/console/tsa/acme/",
        "/en/console/tsa/",
    ],
)
def test_anonymous_visitors_are_sent_to_the_login(client, db, path):
    response = client.get(path)
    assert response.status_code == 302
    language = "/en" if path.startswith("/en/") else ""
    assert response["Location"].startswith(f"{language}/console/login/?next=")


def test_anonymous_posts_change_nothing(client, account):
    response = client.post("/console/tsa/acme/", {"action": "suspend", "reason": "x"})
    assert response.status_code == 302
    account.refresh_from_db()
    assert account.status == TsaAccount.Status.ACTIVE


def test_logout_is_post_only(staff_client):
    assert staff_client.get("/console/logout/").status_code == 405
    response = staff_client.post("/console/logout/")
    assert response.status_code == 302
    assert staff_client.get("/console/tsa/").status_code == 302


def test_must_change_password_first(client, staff):
    staff.must_change_password = True
    staff.save()
    client.force_login(staff)
    response = client.get("/console/tsa/")
    assert response.status_code == 302
    assert response["Location"] == "/console/password/"
    assert client.get("/console/password/").status_code == 200
    new = "a brand new long passphrase"
    response = client.post(
        "/console/password/",
        {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
    )
    assert response.status_code == 302
    staff.refresh_from_db()
    assert not staff.must_change_password
    assert staff.check_password(new)
    assert client.get("/console/tsa/").status_code == 200  # session kept


# --------------------------------------------------------------------------- CSRF


def test_post_without_csrf_token_is_refused(staff, account):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff)
    response = client.post("/console/tsa/acme/", {"action": "suspend", "reason": "late"})
    assert response.status_code == 403
    account.refresh_from_db()
    assert account.status == TsaAccount.Status.ACTIVE
    # With the token from the page it works.
    page = client.get("/console/tsa/acme/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', _text(page)).group(1)
    response = client.post(
        "/console/tsa/acme/",
        {"action": "suspend", "reason": "late", "csrfmiddlewaretoken": token},
    )
    assert response.status_code == 302
    account.refresh_from_db()
    assert account.status == TsaAccount.Status.SUSPENDED


def test_login_without_csrf_token_is_refused(staff):
    client = Client(enforce_csrf_checks=True)
    assert _login(client, "manager", PASSWORD).status_code == 403


# --------------------------------------------------------------------------- pages


@pytest.mark.parametrize("prefix", ["", "/en"])
@pytest.mark.parametrize(
    "path",
    [
        "/console/tsa/",
        "/console/tsa/new/",
        "/console/tsa/revocations/",
        "/console/tsa/acme/",
        "/console/password/",
    ],
)
def test_every_page_for_staff(staff_client, account, prefix, path):
    TokenRevocation.objects.create(serial_hex="ab12", reason="test", actor="test")
    response = staff_client.get(prefix + path)
    assert response.status_code == 200
    html = _text(response)
    assert f'<html lang="{"en" if prefix else "ja"}">' in html
    assert "csrfmiddlewaretoken" in html  # the logout form at least
    assert 'href="/console/tsa/"' in html or 'href="/en/console/tsa/"' in html


def test_console_link_only_for_staff(client, staff_client):
    assert "/console/tsa/" not in _text(client.get("/repository/"))
    assert 'href="/console/tsa/"' in _text(staff_client.get("/repository/"))


def test_unknown_account_is_404(staff_client, db):
    assert staff_client.get("/console/tsa/nobody/").status_code == 404


def test_list_shows_usage_and_totals(staff_client, account):
    services.create_account("small", CUSTOMER_PASSWORD, actor="test", quota=1)
    small = TsaAccount.objects.get(user_id="small")
    now = timezone.localtime()
    for _ in range(3):
        _issued(small, now)
    _issued(account, now)
    _issued(None, now)
    response = staff_client.get(f"/console/tsa/?month={now:%Y-%m}")
    html = _text(response)
    assert "ACME K.K." in html
    assert 'data-customer-tokens="4"' in html
    assert 'data-total-overage="2"' in html
    assert 'data-anonymous-tokens="1"' in html
    assert 'data-total-tokens="5"' in html
    # Another month: nothing.
    other = (now.replace(day=1) - dt.timedelta(days=40)).strftime("%Y-%m")
    html = _text(staff_client.get(f"/console/tsa/?month={other}"))
    assert 'data-total-tokens="0"' in html
    # A bad month is an error on the form, not a 500.
    response = staff_client.get("/console/tsa/?month=2026-13")
    assert response.status_code == 200
    assert "form-errors" in _text(response)


# --------------------------------------------------------------------------- accounts


def _new_account(client: Client, **extra):
    data = {
        "user_id": "newco",
        "password1": CUSTOMER_PASSWORD,
        "password2": CUSTOMER_PASSWORD,
        "organization": "New Co.",
        "email": "tsa@newco.example",
        "plan": "standard",
        "quota": "",
        "start": "2026-04-01",
        "ip_allowlist": "192.0.2.0/24",
    }
    data.update(extra)
    return client.post("/console/tsa/new/", data)


def test_create_account(staff_client, account):
    response = _new_account(staff_client)
    assert response.status_code == 302
    assert response["Location"] == "/console/tsa/newco/"
    created = TsaAccount.objects.get(user_id="newco")
    assert created.plan.name == "standard"
    assert created.contract_start == dt.date(2026, 4, 1)
    assert created.ip_allowlist == "192.0.2.0/24"
    assert created.check_password(CUSTOMER_PASSWORD)
    assert AuditEvent.objects.filter(
        action="tsa.account.created", actor="console:manager", target="newco"
    ).exists()
    assert 'data-user-id="newco"' in _text(staff_client.get("/console/tsa/"))
    assert "New Co." in _text(staff_client.get("/console/tsa/newco/"))


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        ({"password2": "something-else-123"}, "The two passwords differ."),
        ({"password1": "short", "password2": "short"}, "12"),
        ({"user_id": "acme"}, "already exists"),
        ({"user_id": "bad:id"}, "printable characters"),
        ({"ip_allowlist": "not a network"}, "bad IP allow-list"),
        ({"quota": "-1"}, "0"),
        ({"start": "yesterday"}, "form-errors"),
        ({"plan": "gold"}, "form-errors"),
    ],
)
def test_bad_account_input_re_renders_the_form(staff_client, account, extra, error):
    response = staff_client.post("/en/console/tsa/new/", _form_data(extra))
    assert response.status_code == 200
    assert error in _text(response)
    assert TsaAccount.objects.count() == 1


def _form_data(extra):
    data = {
        "user_id": "newco",
        "password1": CUSTOMER_PASSWORD,
        "password2": CUSTOMER_PASSWORD,
        "plan": "standard",
    }
    data.update(extra)
    return data


def test_suspend_resume_terminate(staff_client, account):
    url = "/console/tsa/acme/"
    response = staff_client.post(url, {"action": "suspend", "reason": "unpaid invoice"})
    assert response.status_code == 302
    account.refresh_from_db()
    assert account.status == TsaAccount.Status.SUSPENDED
    assert account.status_reason == "unpaid invoice"
    page = _text(staff_client.get(url))
    assert 'data-status="suspended"' in page
    assert AuditEvent.objects.filter(action="tsa.account.suspended", actor="console:manager")

    # A suspension needs a reason: the form comes back with an error.
    staff_client.post(url, {"action": "resume"})
    account.refresh_from_db()
    assert account.status == TsaAccount.Status.ACTIVE
    response = staff_client.post(url, {"action": "suspend", "reason": ""})
    assert response.status_code == 400
    assert "form-errors" in _text(response)

    # Termination needs the confirmation box.
    response = staff_client.post(url, {"action": "terminate", "reason": "ended"})
    assert response.status_code == 400
    account.refresh_from_db()
    assert account.status == TsaAccount.Status.ACTIVE
    staff_client.post(url, {"action": "terminate", "reason": "ended", "confirm": "on"})
    account.refresh_from_db()
    assert account.status == TsaAccount.Status.TERMINATED

    # The service refuses to reopen it; its message is shown.
    response = staff_client.post(url, {"action": "resume"}, follow=True)
    assert "a terminated account cannot be reopened" in _text(response)
    account.refresh_from_db()
    assert account.status == TsaAccount.Status.TERMINATED


def test_unknown_action_and_get_only_pages(staff_client, account):
    response = staff_client.post("/console/tsa/acme/", {"action": "explode"})
    assert response.status_code == 302
    assert staff_client.post("/console/tsa/", {}).status_code == 405


def test_non_renewal_notice(staff_client, account):
    response = staff_client.post(
        "/console/tsa/acme/",
        {"action": "notice", "on": timezone.localdate().isoformat()},
        follow=True,
    )
    account.refresh_from_db()
    assert account.non_renewal_notice_on == timezone.localdate()
    assert "notice" in _text(response).lower() or "通知" in _text(response)
    response = staff_client.post("/console/tsa/acme/", {"action": "notice", "on": "never"})
    assert response.status_code == 400


@pytest.mark.django_db(transaction=True)
def test_api_token_is_shown_once_and_works_until_revoked():
    staff = User.objects.create_user("admin", "a@example.jp", PASSWORD, role=Role.OPERATOR_ADMIN)
    services.create_account("acme", CUSTOMER_PASSWORD, actor="test")
    client = Client()
    client.force_login(staff)
    response = client.post("/console/tsa/acme/", {"action": "token-create", "name": "ci"})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    secret = re.search(r"<code class=\"secret\" data-secret>([^<]+)</code>", _text(response))
    secret = secret.group(1)
    assert secret.startswith("kts_")
    principal = lookup_token(secret)
    assert principal is not None
    # The account page shows only the prefix, never the secret.
    page = _text(client.get("/console/tsa/acme/"))
    assert secret not in page
    assert TsaApiToken.objects.get(name="ci").prefix in page

    response = client.post(
        "/console/tsa/acme/", {"action": "token-revoke", "name": "ci"}, follow=True
    )
    assert "ci" in _text(response)
    assert lookup_token(secret) is None
    # Revoking it again says there is none.
    response = client.post(
        "/en/console/tsa/acme/", {"action": "token-revoke", "name": "ci"}, follow=True
    )
    assert "No live API token named ci." in _text(response)


# --------------------------------------------------------------------------- revocations


def test_revoke_by_serial(staff_client, account):
    token = _issued(account)
    response = staff_client.post(
        "/console/tsa/revocations/",
        {"action": "serial", "serial": token.serial_hex.upper(), "reason": "issued by mistake"},
    )
    assert response.status_code == 302
    row = TokenRevocation.objects.get()
    assert row.serial_hex == token.serial_hex
    assert row.actor == "console:manager"
    page = _text(staff_client.get("/console/tsa/revocations/"))
    assert f'data-serial="{token.serial_hex}"' in page
    # Twice, unknown, malformed, no reason: the form again with the reason.
    for serial, reason, error in [
        (token.serial_hex, "again", "already revoked"),
        ("abcdef", "x", "no token with serial"),
        ("zz-top", "x", "not a hexadecimal serial"),
        ("abcdef", "", "form-errors"),
    ]:
        response = staff_client.post(
            "/console/tsa/revocations/", {"action": "serial", "serial": serial, "reason": reason}
        )
        assert response.status_code == 400
        assert error in _text(response)
    assert TokenRevocation.objects.count() == 1


def test_revoke_by_window(staff_client, account):
    inside = _issued(account, timezone.make_aware(dt.datetime(2026, 1, 5, 12, 10)))
    _issued(account, timezone.make_aware(dt.datetime(2026, 1, 5, 12, 40)))
    response = staff_client.post(
        "/console/tsa/revocations/",
        {
            "action": "window",
            "start": "2026-01-05T12:00",
            "end": "2026-01-05T12:30",
            "reason": "clock incident",
        },
        follow=True,
    )
    assert response.status_code == 200
    row = TokenRevocation.objects.get()
    assert row.window_start == timezone.make_aware(dt.datetime(2026, 1, 5, 12, 0))
    assert row.covers(inside.serial_hex, inside.gen_time)
    assert "1" in _text(response)
    response = staff_client.post(
        "/console/tsa/revocations/",
        {
            "action": "window",
            "start": "2026-01-05T12:30",
            "end": "2026-01-05T12:00",
            "reason": "backwards",
        },
    )
    assert response.status_code == 400
    assert TokenRevocation.objects.count() == 1
